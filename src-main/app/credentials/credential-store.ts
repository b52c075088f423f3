/**
 * Secrets (account passwords, key passphrases) live only in the OS keychain, behind this small interface so
 * that services can be tested against a map and the keychain code stays in one place. There is no
 * fallback store on purpose: without a keychain the app refuses to keep secrets rather than write them in
 * clear text.
 */
import { ServiceError } from '../../common/service-error';

export interface CredentialStore {
  /** The secret stored for `account`, or undefined when there is none. */
  get(account: string): Promise<string | undefined>;
  /** Stores `secret` for `account`, replacing any earlier one. */
  set(account: string, secret: string): Promise<void>;
  /** True when a secret was deleted, false when there was none to delete. */
  delete(account: string): Promise<boolean>;
}

/** Longest account (or service) name, in characters; keychains limit attribute sizes differently. */
export const MAX_CREDENTIAL_NAME_LENGTH = 256;

/**
 * No keychain can be used (on Linux: no Secret Service on the D-Bus session bus, or one without an
 * unlocked default keyring). Reported instead of storing secrets anywhere else.
 */
export class KeychainUnavailableError extends ServiceError {
  readonly reason = 'keychain-unavailable';
  constructor(
    /** What is missing, in words a user can act on. */
    readonly missing: string,
    options?: ErrorOptions,
  ) {
    super(
      `OS keychain unavailable: ${missing}. Refusing to store secrets rather than write them in clear text.` +
        causeSuffix(options?.cause),
      options,
    );
  }
}

/** An account (or service) name the keychain cannot hold faithfully; refused before the keychain is asked. */
export class CredentialNameError extends ServiceError {
  readonly reason = 'invalid-credential-name';
  constructor(
    readonly field: 'account' | 'service',
    problem: string,
  ) {
    super(`${field} ${problem}`);
  }
}

/** A secret that cannot be stored (empty, or text the keychain would alter); its value never appears here. */
export class CredentialSecretError extends ServiceError {
  readonly reason = 'invalid-credential-secret';
  constructor(problem: string) {
    super(`secret ${problem}`);
  }
}

/** The keychain was reachable but answered a get, set or delete with an error; `cause` has its answer. */
export class KeychainOperationError extends ServiceError {
  readonly reason = 'keychain-operation-failed';
  constructor(
    readonly operation: 'get' | 'set' | 'delete',
    readonly account: string,
    options?: ErrorOptions,
  ) {
    super(`keychain ${operation} for account ${JSON.stringify(account)} failed` + causeSuffix(options?.cause), options);
  }
}

// Control characters would break logs and some keychain UIs; unpaired surrogates are not valid Unicode and
// the keychain silently replaces them with U+FFFD, so two different names could land on one entry.
const CONTROL = /\p{Cc}/u;
const UNPAIRED_SURROGATE = /\p{Cs}/u;

/** Throws CredentialNameError unless `name` is 1..256 characters without control characters. */
export function checkCredentialName(field: 'account' | 'service', name: unknown): string {
  if (typeof name !== 'string') throw new CredentialNameError(field, `must be a string (got ${typeof name})`);
  if (name.length === 0) throw new CredentialNameError(field, 'must not be empty');
  const length = [...name].length;
  if (length > MAX_CREDENTIAL_NAME_LENGTH) {
    throw new CredentialNameError(field, `is ${length} characters long; at most ${MAX_CREDENTIAL_NAME_LENGTH} allowed`);
  }
  const control = CONTROL.exec(name);
  if (control) {
    const code = control[0].codePointAt(0) ?? 0;
    throw new CredentialNameError(
      field,
      `must not contain control characters (U+${code.toString(16).toUpperCase().padStart(4, '0')} at index ${control.index})`,
    );
  }
  if (UNPAIRED_SURROGATE.test(name)) throw new CredentialNameError(field, 'must be valid Unicode (unpaired surrogate)');
  return name;
}

/** Throws CredentialSecretError unless `secret` is a non-empty, well-formed string. */
export function checkSecret(secret: unknown): string {
  if (typeof secret !== 'string') throw new CredentialSecretError(`must be a string (got ${typeof secret})`);
  if (secret.length === 0) throw new CredentialSecretError('must not be empty');
  if (UNPAIRED_SURROGATE.test(secret)) {
    throw new CredentialSecretError('must be valid Unicode (unpaired surrogate); the keychain would alter it');
  }
  return secret;
}

function causeSuffix(cause: unknown): string {
  if (cause === undefined) return '';
  return ` (${cause instanceof Error ? cause.message : String(cause)})`;
}
