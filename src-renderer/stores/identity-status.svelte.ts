/** The device's certificates: the first `identity.status` answer, then every `identity.changed` event. */
import type { IdentityStatus } from '../../src-shared/model/identity';
import type { Client } from '../bridge';
import { personMessage } from '../errors/describe-error';

export class IdentityStatusStore {
  status = $state<IdentityStatus | undefined>();
  loadError = $state<string | undefined>();

  private readonly off: () => void;
  private pushed = false;

  constructor(client: Client) {
    this.off = client.on('identity.changed', (status) => this.set(status));
    client.request('identity.status', {}).then(
      (status) => {
        if (!this.pushed) this.status = status;
      },
      (error: unknown) => (this.loadError = personMessage(error)),
    );
  }

  /** Answers of identity requests (forget answers the new status) count like events. */
  set(status: IdentityStatus): void {
    this.pushed = true;
    this.status = status;
    this.loadError = undefined;
  }

  dispose(): void {
    this.off();
  }
}
