/**
 * What the real Secret Service holds for the app, read over D-Bus with gdbus (the session bus of
 * scripts/with-keyring.sh): the accounts (the `username` attribute @napi-rs/keyring writes) of every item under
 * a service. Read-only: the test looks, the app writes.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export class NoSecretServiceError extends Error {
  constructor(cause: unknown) {
    super(
      'no Secret Service on the session bus: run the test under scripts/with-keyring.sh ' +
        '(bash scripts/with-keyring.sh npx vitest run --project e2e ...)',
      { cause },
    );
    this.name = 'NoSecretServiceError';
  }
}

function gdbus(objectPath: string, method: string, ...args: string[]): Promise<string> {
  return run(
    'gdbus',
    [
      'call',
      '--session',
      '--dest',
      'org.freedesktop.secrets',
      '--object-path',
      objectPath,
      '--method',
      method,
      ...args,
    ],
    { timeout: 5_000 },
  ).then((r) => r.stdout);
}

/** The accounts stored under `service`, locked or not, sorted. */
export async function keychainAccounts(service: string): Promise<string[]> {
  let found: string;
  try {
    // GVariant text of a{ss}; the service name has no quotes or backslashes to escape.
    found = await gdbus(
      '/org/freedesktop/secrets',
      'org.freedesktop.Secret.Service.SearchItems',
      `{'service': '${service}'}`,
    );
  } catch (error) {
    throw new NoSecretServiceError(error);
  }
  const items = found.match(/\/org\/freedesktop\/secrets\/collection\/[A-Za-z0-9_/]+/g) ?? [];
  const accounts: string[] = [];
  for (const item of items) {
    const attributes = await gdbus(
      item,
      'org.freedesktop.DBus.Properties.Get',
      'org.freedesktop.Secret.Item',
      'Attributes',
    );
    const account = /'username': '([^']*)'/.exec(attributes)?.[1];
    if (account === undefined) throw new Error(`keychain item ${item} has no username attribute: ${attributes}`);
    accounts.push(account);
  }
  return accounts.sort();
}

/** True when a Secret Service answers on the session bus (the test runs under scripts/with-keyring.sh). */
export async function secretServiceAvailable(): Promise<boolean> {
  return keychainAccounts('probe.invalid').then(
    () => true,
    () => false,
  );
}
