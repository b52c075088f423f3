/**
 * KeyringCredentialStore against a real Secret Service (gnome-keyring on a private D-Bus session bus, set up
 * by scripts/with-keyring.sh). Every run uses its own service name and removes what it stored.
 */
import { randomUUID } from 'node:crypto';
import { findCredentialsAsync } from '@napi-rs/keyring';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CredentialNameError,
  CredentialSecretError,
  KeychainOperationError,
  KeychainUnavailableError,
} from '../../../../../src-main/app/credentials/credential-store';
import { KeyringCredentialStore, type KeyringEntry } from '../../../../../src-main/app/credentials/keyring-store';

if (process.platform === 'linux' && !process.env.DBUS_SESSION_BUS_ADDRESS) {
  // Failing, not skipping: a silently skipped keychain test would let a broken store pass CI.
  throw new Error(
    'keyring-store.test.ts needs a real Secret Service but DBUS_SESSION_BUS_ADDRESS is not set. Run it under ' +
      'scripts/with-keyring.sh: bash scripts/with-keyring.sh npx vitest run --project unit test/unit/src-main/app/credentials',
  );
}

const service = `org.reload-softphone.test.${randomUUID()}`;
let store: KeyringCredentialStore;

/** Accounts stored under this run's service, straight from the keychain (not through the store). */
async function storedAccounts(svc = service): Promise<string[]> {
  return (await findCredentialsAsync(svc)).map((c) => c.account).sort();
}

beforeAll(async () => {
  store = await KeyringCredentialStore.open(service);
});

afterAll(async () => {
  for (const svc of [service, `${service}.other`]) {
    for (const account of await findCredentialsAsync(svc)) await store.delete(account.account).catch(() => false);
  }
});

describe('KeyringCredentialStore on the Secret Service', () => {
  it('opens with the probe entry already removed', async () => {
    expect(store.service).toBe(service);
    expect(await storedAccounts()).toEqual([]);
  });

  it('round-trips a secret: set, get, overwrite, delete, then nothing', async () => {
    expect(await store.get('alice')).toBeUndefined();
    await store.set('alice', 'first secret');
    expect(await store.get('alice')).toBe('first secret');
    await store.set('alice', 'second secret');
    expect(await store.get('alice')).toBe('second secret');
    expect(await storedAccounts()).toEqual(['alice']);
    expect(await store.delete('alice')).toBe(true);
    expect(await store.get('alice')).toBeUndefined();
    expect(await storedAccounts()).toEqual([]);
  });

  it('reports false when deleting an entry that does not exist', async () => {
    expect(await store.delete('never-stored')).toBe(false);
    await store.set('once', 'x');
    expect(await store.delete('once')).toBe(true);
    expect(await store.delete('once')).toBe(false);
  });

  it('keeps unicode secrets and account names exactly', async () => {
    const secret = 'pässwörd 🔑 日本語 ∑ \u0000 tab\there';
    const account = 'ålice@例え.jp 👩‍💻';
    await store.set(account, secret);
    expect(await store.get(account)).toBe(secret);
    const long = 'é'.repeat(4096);
    await store.set(account, long);
    expect(await store.get(account)).toBe(long);
    expect(await store.delete(account)).toBe(true);
  });

  it('keeps accounts independent of each other, and services too', async () => {
    const other = new KeyringCredentialStore(`${service}.other`);
    await store.set('bob', 'bob secret');
    await store.set('carol', 'carol secret');
    await other.set('bob', 'other service secret');
    expect(await store.get('bob')).toBe('bob secret');
    expect(await store.get('carol')).toBe('carol secret');
    expect(await other.get('carol')).toBeUndefined();
    expect(await store.delete('bob')).toBe(true);
    expect(await store.get('bob')).toBeUndefined();
    expect(await store.get('carol')).toBe('carol secret');
    expect(await other.get('bob')).toBe('other service secret');
    expect(await other.delete('bob')).toBe(true);
    expect(await store.delete('carol')).toBe(true);
  });

  it('accepts an account name of exactly 256 characters', async () => {
    const account = '😀'.repeat(256); // characters, not UTF-16 units
    await store.set(account, 'x');
    expect(await store.get(account)).toBe('x');
    expect(await store.delete(account)).toBe(true);
  });

  const badAccounts: [string, string, RegExp][] = [
    ['empty', '', /^account must not be empty$/],
    ['257 characters', 'a'.repeat(257), /^account is 257 characters long; at most 256 allowed$/],
    ['a newline', 'a\nb', /^account must not contain control characters \(U\+000A at index 1\)$/],
    ['a NUL', 'a\u0000b', /^account must not contain control characters \(U\+0000 at index 1\)$/],
    ['DEL', 'a\u007f', /^account must not contain control characters \(U\+007F at index 1\)$/],
    ['a C1 control', '\u0085a', /^account must not contain control characters \(U\+0085 at index 0\)$/],
    ['an unpaired surrogate', 'a\ud800', /^account must be valid Unicode/],
  ];
  it.each(badAccounts)('refuses an account name with %s, writing nothing', async (_label, account, message) => {
    for (const attempt of [() => store.set(account, 'secret'), () => store.get(account), () => store.delete(account)]) {
      const error = await attempt().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(CredentialNameError);
      expect(error).toMatchObject({ field: 'account', reason: 'invalid-credential-name' });
      expect((error as Error).message).toMatch(message);
    }
    expect(await storedAccounts()).toEqual([]);
  });

  it('refuses an empty secret, leaving the stored one (or none) in place', async () => {
    await expect(store.set('dave', '')).rejects.toThrow(CredentialSecretError);
    await expect(store.set('dave', '')).rejects.toThrow(/^secret must not be empty$/);
    expect(await storedAccounts()).toEqual([]);
    await store.set('dave', 'kept');
    await expect(store.set('dave', '')).rejects.toThrow(CredentialSecretError);
    expect(await store.get('dave')).toBe('kept');
    expect(await store.delete('dave')).toBe(true);
  });

  it('refuses a secret the keychain would alter (unpaired surrogate) without echoing it', async () => {
    const error = await store.set('erin', 'abc\ud800def').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CredentialSecretError);
    expect((error as Error).message).toMatch(/^secret must be valid Unicode/);
    expect((error as Error).message).not.toContain('abc');
    expect(await storedAccounts()).toEqual([]);
  });

  it('refuses a bad service name when constructed', () => {
    expect(() => new KeyringCredentialStore('')).toThrow(CredentialNameError);
    expect(() => new KeyringCredentialStore('a\nb')).toThrow(/^service must not contain control characters/);
  });
});

describe('KeyringCredentialStore error mapping (fake keychain)', () => {
  const secret = 'hunter2-very-secret';
  const failing = (message: string): KeyringEntry => ({
    getPassword: () => Promise.reject(new Error(message)),
    setPassword: () => Promise.reject(new Error(message)),
    deletePassword: () => Promise.reject(new Error(message)),
  });

  it('wraps keychain errors in KeychainOperationError naming the operation and account', async () => {
    const fake = new KeyringCredentialStore('svc', () => failing('Platform failure: boom'));
    for (const [operation, attempt] of [
      ['get', () => fake.get('frank')],
      ['set', () => fake.set('frank', secret)],
      ['delete', () => fake.delete('frank')],
    ] as const) {
      const error = await attempt().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KeychainOperationError);
      expect(error).toMatchObject({ operation, account: 'frank', reason: 'keychain-operation-failed' });
      expect((error as Error).message).toBe(
        `keychain ${operation} for account "frank" failed (Platform failure: boom)`,
      );
      expect((error as Error).cause).toBeInstanceOf(Error);
    }
  });

  it('never carries the secret, not even when the keychain error text contains it', async () => {
    const fake = new KeyringCredentialStore('svc', () => failing(`rejected item with secret ${secret}`));
    const error = await fake.set('frank', secret).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeychainOperationError);
    expect((error as Error).message).not.toContain(secret);
    expect(((error as Error).cause as Error).message).not.toContain(secret);
    expect(JSON.stringify(error, Object.getOwnPropertyNames(error))).not.toContain(secret);
  });

  it('reports a keychain that cannot even be connected to as KeychainUnavailableError', async () => {
    const broken = () => {
      throw new Error(
        'Platform failure: DBus error: The name org.freedesktop.secrets was not provided by any .service files',
      );
    };
    await expect(KeyringCredentialStore.open('svc', broken)).rejects.toThrow(KeychainUnavailableError);
    await expect(new KeyringCredentialStore('svc', broken).get('frank')).rejects.toThrow(
      /no Secret Service \(org\.freedesktop\.secrets\) runs on the D-Bus session bus/,
    );
  });

  it('refuses a keychain that accepts a write but returns something else', async () => {
    const liar: KeyringEntry = {
      getPassword: () => Promise.resolve('not what was written'),
      setPassword: () => Promise.resolve(),
      deletePassword: () => Promise.resolve(true),
    };
    await expect(KeyringCredentialStore.open('svc', () => liar)).rejects.toThrow(
      /^OS keychain unavailable: the keychain did not return the value just stored in it\./,
    );
  });
});
