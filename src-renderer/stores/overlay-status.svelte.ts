/** The overlay membership: the first `overlay.status` answer, then every pushed `overlay.status` event. */
import type { OverlayStatus } from '../../src-shared/model/overlay';
import type { Client } from '../bridge';
import { personMessage } from '../errors/describe-error';

export class OverlayStatusStore {
  status = $state<OverlayStatus | undefined>();
  /** Why the first status could not be read (a person's sentence). */
  loadError = $state<string | undefined>();

  private readonly off: () => void;
  private pushed = false;
  // Callbacks, not UI state: nothing renders from this set.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  private readonly waiters = new Set<(status: OverlayStatus) => void>();

  constructor(client: Client) {
    this.off = client.on('overlay.status', (status) => this.set(status));
    client.request('overlay.status', {}).then(
      // An event that arrived while the request was on its way is newer than the answer.
      (status) => {
        if (!this.pushed) this.status = status;
      },
      (error: unknown) => (this.loadError = personMessage(error)),
    );
  }

  /** Answers of overlay requests (join, leave) count like events. */
  set(status: OverlayStatus): void {
    this.pushed = true;
    this.status = status;
    this.loadError = undefined;
    if (status.state !== 'joining') for (const resolve of [...this.waiters]) resolve(status);
  }

  /**
   * The first status that is not `joining`: how a join the backend started by itself (after a new identity)
   * ended. Undefined when none came within `timeoutMs`.
   */
  settled(timeoutMs: number): Promise<OverlayStatus | undefined> {
    if (this.status && this.status.state !== 'joining') return Promise.resolve(this.status);
    return new Promise((resolve) => {
      const done = (status: OverlayStatus | undefined): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve(status);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      this.waiters.add(done);
    });
  }

  dispose(): void {
    this.off();
  }
}
