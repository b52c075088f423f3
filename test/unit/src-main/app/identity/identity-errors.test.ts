/**
 * Every condition the protocol layer, the keychain and the identity service report maps to the code a person
 * can act on, with a message free of element or field prefixes; anything else stays an internal error.
 */
import { describe, expect, it } from 'vitest';
import {
  KeychainOperationError,
  KeychainUnavailableError,
} from '../../../../../src-main/app/credentials/credential-store';
import { InstallationIdInvalidError } from '../../../../../src-main/app/credentials/installation-id';
import { toUserFacing, type ErrorContext } from '../../../../../src-main/app/identity/identity-errors';
import { ClockSkewError, IdentityMissingError } from '../../../../../src-main/app/identity/identity-service';
import { UserFacingError } from '../../../../../src-main/app/user-facing-error';
import {
  CertificateRejectedError,
  ConfigurationExpiredError,
  ConfigurationFetchError,
  ConfigurationSignatureError,
  EnrollmentRefusedError,
  EnrollmentTransportError,
  IdentityFileError,
  UserNameCharacterError,
} from '../../../../../src-main/reload';

const enroll: ErrorContext = { action: 'enroll', overlay: 'o.example', userName: 'alice@o.example' };

function mapped(error: unknown, context: ErrorContext = enroll): UserFacingError {
  const result = toUserFacing(error, context);
  expect(result).toBeInstanceOf(UserFacingError);
  return result as UserFacingError;
}

describe('toUserFacing', () => {
  it.each([
    [
      new EnrollmentRefusedError(403, 'failed_authentication', 'the user name or the password is wrong'),
      'wrong-password',
    ],
    [new EnrollmentRefusedError(429, 'rate_limited', 'too many attempts; try again in 30 s'), 'enrollment-refused'],
    [new EnrollmentRefusedError(403, 'bad_CSR', 'no csr'), 'enrollment-refused'],
    [new EnrollmentRefusedError(403, 'username_not_available', 'taken'), 'user-name-invalid'],
    [new EnrollmentTransportError('cannot reach https://o.example: ECONNREFUSED'), 'overlay-unreachable'],
    [
      new ConfigurationFetchError('cannot fetch https://o.example/x: ENOTFOUND', 'configuration-url'),
      'overlay-unreachable',
    ],
    [
      new ConfigurationSignatureError('signature does not verify', 'configuration[1]/signature'),
      'configuration-invalid',
    ],
    [new ConfigurationExpiredError('expired', 'configuration[1]/@expiration'), 'configuration-invalid'],
    [new ClockSkewError("this computer's clock is about 60 minutes ahead"), 'clock-skew'],
    [new CertificateRejectedError('not-yet-valid', 'certificate is valid only from …'), 'clock-skew'],
    [new CertificateRejectedError('expired', 'certificate expired at …'), 'certificate-expired'],
    [new CertificateRejectedError('self-signed-not-permitted', 'no'), 'self-signed-not-permitted'],
    [new UserNameCharacterError('userName', 'white space (U+0020) is not allowed'), 'user-name-invalid'],
    [new KeychainUnavailableError('no Secret Service'), 'keychain-unavailable'],
    [new KeychainOperationError('set', 'x'), 'keychain-unavailable'],
    [new InstallationIdInvalidError('/data/installation-id'), 'keychain-unavailable'],
    [new IdentityMissingError('no enrollment password for alice in the keychain; enroll again'), 'identity-missing'],
  ] as const)('%s -> %s', (error, code) => {
    const refusal = mapped(error);
    expect(refusal.reason).toBe(code);
    expect(refusal.cause).toBe(error);
    // No internal names: the field prefixes of the protocol layer are gone.
    expect(refusal.message).not.toMatch(/^(userName|configuration-url):|\buserName\b/);
  });

  it('never says which of user name and password was wrong', () => {
    const refusal = mapped(new EnrollmentRefusedError(403, 'failed_authentication', ''));
    expect(refusal.message).toBe('The user name or password is wrong for o.example.');
  });

  it('keeps the wait a rate limit asks for', () => {
    expect(
      mapped(new EnrollmentRefusedError(429, 'rate_limited', 'too many attempts; try again in 30 s')).message,
    ).toContain('try again in 30 seconds');
  });

  it('tells a wrong passphrase apart from a file that is not an identity', () => {
    const importing: ErrorContext = { action: 'import' };
    expect(mapped(new IdentityFileError('passphrase', 'passphrase: wrong'), importing).reason).toBe('wrong-passphrase');
    for (const reason of ['no-key', 'no-certificate', 'key-mismatch', 'encryption', 'kdf-cost'] as const)
      expect(mapped(new IdentityFileError(reason, 'x'), importing).reason).toBe('identity-file-invalid');
    expect(mapped(new CertificateRejectedError('untrusted-issuer', 'x'), importing).reason).toBe(
      'identity-file-invalid',
    );
    expect(mapped(new UserNameCharacterError('username', 'x'), importing).reason).toBe('identity-file-invalid');
  });

  it('calls a bad overlay name in a configuration a configuration problem', () => {
    expect(mapped(new UserNameCharacterError('instance-name', 'x'), { action: 'discover' }).reason).toBe(
      'configuration-invalid',
    );
  });

  it('leaves bugs alone (they become internal errors, details in the log)', () => {
    const bug = new TypeError('undefined is not a function');
    expect(toUserFacing(bug, enroll)).toBe(bug);
  });
});
