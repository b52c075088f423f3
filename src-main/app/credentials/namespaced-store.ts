/**
 * One installation's view of a shared keychain: every account is stored as `<installation id>/<account>`
 * (installation-id.ts), so backends with different data folders cannot see or touch each other's entries.
 */
import { KeyringCredentialStore } from './keyring-store';
import { installationId } from './installation-id';
import type { CredentialStore } from './credential-store';

export class NamespacedCredentialStore implements CredentialStore {
  constructor(
    private readonly inner: CredentialStore,
    /** The installation id; accounts are `${namespace}/${account}`. */
    readonly namespace: string,
  ) {}

  account(account: string): string {
    return `${this.namespace}/${account}`;
  }

  get(account: string): Promise<string | undefined> {
    return this.inner.get(this.account(account));
  }

  set(account: string, secret: string): Promise<void> {
    return this.inner.set(this.account(account), secret);
  }

  delete(account: string): Promise<boolean> {
    return this.inner.delete(this.account(account));
  }
}

/**
 * The OS keychain for the installation whose data folder is `dataDir`, under the keychain service `service`
 * (the app id). Rejects with KeychainUnavailableError when the keychain cannot take secrets.
 */
export async function openInstallationCredentials(options: {
  dataDir: string;
  service: string;
}): Promise<NamespacedCredentialStore> {
  const namespace = await installationId(options.dataDir);
  const store = await KeyringCredentialStore.open(options.service);
  return new NamespacedCredentialStore(store, namespace);
}
