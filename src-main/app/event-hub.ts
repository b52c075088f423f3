/**
 * Services publish contract events here; each bridge (Electron windows, browser-mode sockets) subscribes
 * once and forwards to its renderers. Payloads are checked against the contract before they leave main.
 */
import * as v from 'valibot';
import { events, type EventName, type EventOf } from '../../src-shared/ipc/contract';
import type { EventMessage } from '../../src-shared/ipc/envelope';
import { describeIssues, issuesOf } from '../../src-shared/ipc/errors';
import type { Logger } from '../common/logger';

/** A service tried to publish a payload that breaks the contract: a bug in main, never sent. */
export class EventContractError extends Error {
  constructor(event: string, detail: string) {
    super(`event "${event}" payload breaks the IPC contract: ${detail}`);
    this.name = 'EventContractError';
  }
}

export class EventHub {
  private readonly listeners = new Set<(message: EventMessage) => void>();

  constructor(private readonly log: Logger) {}

  emit<E extends EventName>(event: E, payload: EventOf<E>): void {
    const parsed = v.safeParse(events[event], payload);
    if (!parsed.success) throw new EventContractError(event, describeIssues(issuesOf(parsed.issues)));
    const message: EventMessage = { event, payload: parsed.output };
    // One broken subscriber (a window being destroyed) must not keep the event from the others.
    for (const listener of [...this.listeners]) {
      try {
        listener(message);
      } catch (error) {
        this.log.warn('event subscriber failed', { event, error });
      }
    }
  }

  subscribe(listener: (message: EventMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }
}
