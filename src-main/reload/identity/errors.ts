import type { StrengthField } from './key-strength';

/** Why a certificate, a CSR or a key is refused; `reason` is a stable token, the message says what is wrong. */
export class CertificateRejectedError extends Error {
  constructor(
    readonly reason:
      | 'unparseable'
      | 'not-yet-valid'
      | 'expired'
      | 'untrusted-issuer'
      | 'bad-signature'
      | 'no-node-id'
      | 'user-name'
      | 'subject-not-empty'
      | 'bad-node'
      | 'self-signed-not-permitted'
      | 'node-id-mismatch'
      | 'not-a-ca'
      | 'weak',
    message: string,
  ) {
    super(message);
    this.name = 'CertificateRejectedError';
  }
}

/** A certificate whose key or signature algorithm key-strength.ts refuses; `field` names which. */
export class WeakCertificateError extends CertificateRejectedError {
  constructor(
    readonly field: StrengthField,
    message: string,
  ) {
    super('weak', message);
    this.name = 'WeakCertificateError';
  }
}

export class CsrRejectedError extends Error {
  constructor(
    readonly reason: 'unparseable' | 'bad-signature' | 'user-name' | 'weak',
    message: string,
  ) {
    super(message);
    this.name = 'CsrRejectedError';
  }
}

/**
 * A request to certify a key (a CSR, or a key handed to issueCertificate) that key-strength.ts refuses:
 * the key or the CSR's signature algorithm; `field` names which.
 */
export class WeakCsrError extends CsrRejectedError {
  constructor(
    readonly field: StrengthField,
    message: string,
  ) {
    super('weak', message);
    this.name = 'WeakCsrError';
  }
}

export class KeyFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyFormatError';
  }
}

/** Why an identity file cannot be written or read; `reason` is a stable token, the message names the field. */
export class IdentityFileError extends Error {
  constructor(
    readonly reason:
      | 'no-key'
      | 'no-certificate'
      | 'passphrase'
      | 'key-mismatch'
      | 'weak-passphrase'
      | 'encryption'
      | 'kdf-cost'
      | 'unreadable',
    message: string,
  ) {
    super(message);
    this.name = 'IdentityFileError';
  }
}
