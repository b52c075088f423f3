/**
 * Runs contract requests against the services. Whatever arrives (from the preload or a WebSocket) is
 * untrusted: an unknown channel or a payload that fails the channel's schema gets a typed error back and
 * no handler runs. Responses are checked against the contract too, so a bug in main cannot hand the
 * renderer something its types do not describe.
 */
import * as v from 'valibot';
import { isChannel, requests, type Channel, type ResponseOf, type ValidRequestOf } from '../../src-shared/ipc/contract';
import { RequestMessageSchema, type Result } from '../../src-shared/ipc/envelope';
import { describeIssues, issuesOf, type IpcErrorPayload } from '../../src-shared/ipc/errors';
import { ServiceError } from '../common/service-error';
import type { Logger } from '../common/logger';

export type Handlers = {
  [C in Channel]: (payload: ValidRequestOf<C>) => Promise<ResponseOf<C>> | ResponseOf<C>;
};

export interface Dispatcher {
  dispatch(message: unknown): Promise<Result>;
}

export function createDispatcher(handlers: Handlers, log: Logger): Dispatcher {
  const fail = (error: IpcErrorPayload): Result => ({ ok: false, error });

  async function dispatch(message: unknown): Promise<Result> {
    const envelope = v.safeParse(RequestMessageSchema, message);
    if (!envelope.success) {
      const issues = issuesOf(envelope.issues);
      return fail({ code: 'invalid-frame', message: `malformed request: ${describeIssues(issues)}`, issues });
    }
    const { channel, payload } = envelope.output;
    if (!isChannel(channel)) {
      return fail({ code: 'unknown-channel', message: `unknown channel "${channel}"`, channel });
    }
    return run(channel, payload);
  }

  async function run<C extends Channel>(channel: C, payload: unknown): Promise<Result> {
    const spec = requests[channel];
    const input = v.safeParse(spec.request, payload);
    if (!input.success) {
      const issues = issuesOf(input.issues);
      return fail({ code: 'invalid-payload', message: `${channel}: ${describeIssues(issues)}`, channel, issues });
    }
    let value: unknown;
    try {
      const handler = handlers[channel] as (p: unknown) => unknown;
      value = await handler(input.output);
    } catch (error) {
      if (error instanceof ServiceError) {
        return fail({ code: 'handler-failed', message: error.message, channel, reason: error.reason });
      }
      log.error('request handler threw', { channel, error });
      return fail({ code: 'internal', message: `${channel} failed unexpectedly; see the application log`, channel });
    }
    const output = v.safeParse(spec.response, value);
    if (!output.success) {
      const issues = issuesOf(output.issues);
      log.error('handler response breaks the contract', { channel, issues });
      return fail({ code: 'invalid-response', message: `${channel}: response breaks the contract`, channel, issues });
    }
    return { ok: true, value: output.output };
  }

  return { dispatch };
}
