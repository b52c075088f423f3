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
      | 'not-a-ca',
    message: string,
  ) {
    super(message);
    this.name = 'CertificateRejectedError';
  }
}

export class CsrRejectedError extends Error {
  constructor(
    readonly reason: 'unparseable' | 'bad-signature' | 'key-type' | 'user-name',
    message: string,
  ) {
    super(message);
    this.name = 'CsrRejectedError';
  }
}

export class KeyFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyFormatError';
  }
}
