/**
 * CredentialStore on the OS keychain through @napi-rs/keyring: the Secret Service (D-Bus) on Linux, the
 * Keychain on macOS, the Credential Manager on Windows. Items are keyed by (service, account); the service
 * is the app id, so every secret of ours is findable and removable as one group.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { AsyncEntry, type EntryOptions } from '@napi-rs/keyring';
import {
  KeychainOperationError,
  KeychainUnavailableError,
  checkCredentialName,
  checkSecret,
  type CredentialStore,
} from './credential-store';

/** The part of AsyncEntry this store uses; tests put a failing one in its place. */
export interface KeyringEntry {
  getPassword(): Promise<string | null>;
  setPassword(password: string): Promise<void>;
  deletePassword(): Promise<boolean>;
}

export type KeyringEntryFactory = (service: string, account: string) => KeyringEntry;

// Pinned to the Secret Service: the library's default on Linux silently falls back to the kernel keyring
// (keyutils), which forgets everything at logout/reboot and is unavailable in many sandboxes. The option
// is ignored on macOS and Windows.
const ENTRY_OPTIONS: EntryOptions = { linux: { store: 'secret-service' } };

const defaultFactory: KeyringEntryFactory = (service, account) => new AsyncEntry(service, account, ENTRY_OPTIONS);

// Creating an entry opens a keychain connection synchronously (several ms on the event loop with the
// Secret Service), so entries are reused; the app has a handful of accounts, the cap is only a safeguard.
const MAX_CACHED_ENTRIES = 64;

export class KeyringCredentialStore implements CredentialStore {
  private readonly entries = new Map<string, KeyringEntry>();

  constructor(
    readonly service: string,
    private readonly createEntry: KeyringEntryFactory = defaultFactory,
  ) {
    checkCredentialName('service', service);
  }

  /**
   * A store whose keychain has just accepted a write, a read and a delete of a throwaway entry, or
   * KeychainUnavailableError. A read alone is not enough: a Secret Service without an unlocked default
   * keyring answers reads with "nothing stored" and fails only on writes.
   */
  static async open(service: string, createEntry?: KeyringEntryFactory): Promise<KeyringCredentialStore> {
    const store = new KeyringCredentialStore(service, createEntry);
    await store.probe();
    return store;
  }

  async get(account: string): Promise<string | undefined> {
    const entry = this.entry(checkCredentialName('account', account));
    try {
      return (await entry.getPassword()) ?? undefined;
    } catch (error) {
      throw new KeychainOperationError('get', account, { cause: error });
    }
  }

  async set(account: string, secret: string): Promise<void> {
    checkCredentialName('account', account);
    checkSecret(secret);
    const entry = this.entry(account);
    try {
      await entry.setPassword(secret);
    } catch (error) {
      throw new KeychainOperationError('set', account, { cause: withoutSecret(error, secret) });
    }
  }

  async delete(account: string): Promise<boolean> {
    const entry = this.entry(checkCredentialName('account', account));
    try {
      return await entry.deletePassword();
    } catch (error) {
      throw new KeychainOperationError('delete', account, { cause: error });
    }
  }

  private entry(account: string): KeyringEntry {
    const cached = this.entries.get(account);
    if (cached) return cached;
    let entry: KeyringEntry;
    try {
      entry = this.createEntry(this.service, account);
    } catch (error) {
      // The library connects when an entry is created; failing here means no keychain, not a bad entry.
      throw unavailable(error);
    }
    if (this.entries.size >= MAX_CACHED_ENTRIES) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(account, entry);
    return entry;
  }

  private async probe(): Promise<void> {
    // A fresh account per probe, outside any name the app uses, so concurrent opens cannot collide.
    const account = `keychain-probe/${randomUUID()}`;
    const value = randomBytes(16).toString('hex');
    const entry = this.entry(account);
    let written = false;
    try {
      await entry.setPassword(value);
      written = true;
      if ((await entry.getPassword()) !== value) {
        throw new KeychainUnavailableError('the keychain did not return the value just stored in it');
      }
      if (!(await entry.deletePassword())) {
        throw new KeychainUnavailableError('the keychain did not delete the value just stored in it');
      }
      written = false;
    } catch (error) {
      if (error instanceof KeychainUnavailableError) throw error;
      throw unavailable(error);
    } finally {
      if (written) await entry.deletePassword().catch(() => false);
      this.entries.delete(account);
    }
  }
}

/** Names what is missing, from the library's message (it reports every failure as GenericFailure). */
function unavailable(cause: unknown): KeychainUnavailableError {
  const message = cause instanceof Error ? cause.message : String(cause);
  return new KeychainUnavailableError(describeMissing(message), { cause });
}

function describeMissing(message: string): string {
  if (process.platform === 'darwin') return 'the macOS Keychain cannot be used';
  if (process.platform === 'win32') return 'the Windows Credential Manager cannot be used';
  const secretService = 'Secret Service (org.freedesktop.secrets)';
  const address = process.env.DBUS_SESSION_BUS_ADDRESS;
  if (
    /autolaunch|DBUS_SESSION_BUS_ADDRESS|failed to connect|address does not contain|connection refused/i.test(message)
  ) {
    return address
      ? `no ${secretService} is reachable because the D-Bus session bus at ${address} cannot be reached`
      : `no ${secretService} is reachable because there is no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)`;
  }
  if (/org\.freedesktop\.secrets was not provided|ServiceUnknown|NameHasNoOwner/i.test(message)) {
    return `no ${secretService} runs on the D-Bus session bus; install and start one (gnome-keyring, KeePassXC)`;
  }
  if (/no result found/i.test(message)) {
    return `the ${secretService} has no default keyring to store secrets in; create or unlock a "login" keyring`;
  }
  if (/prompt was dismissed|locked/i.test(message)) {
    return `the default keyring of the ${secretService} is locked and was not unlocked`;
  }
  return `the ${secretService} on the D-Bus session bus cannot be used`;
}

/** The keychain's error, unless its text (or its causes') happens to contain the secret; then only a note. */
function withoutSecret(error: unknown, secret: string): unknown {
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 8; depth++) {
    const text = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
    if (text.includes(secret)) return new Error('the keychain error text was withheld because it contained the secret');
    e = e instanceof Error ? e.cause : undefined;
  }
  return error;
}
