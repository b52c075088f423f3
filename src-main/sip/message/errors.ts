/** One error class per way a SIP message can be refused; each names the field at fault. */

export abstract class SipMessageError extends Error {
  /** The field the error is about: a header name, 'start-line', 'body', 'framing'. */
  abstract readonly field: string;
  /** The status a UAS/proxy answers a request with this defect (RFC 3261 §8.2, §21). */
  abstract readonly status: number;
}

export class SipMessageTooLargeError extends SipMessageError {
  override readonly name = 'SipMessageTooLargeError';
  readonly status = 513;
  constructor(
    readonly field: string,
    readonly size: number,
    readonly limit: number,
  ) {
    super(`SIP ${field} is ${size} bytes, limit ${limit}`);
  }
}

/** A count or length limit other than the whole size (header count, header line length, Via count). */
export class SipLimitError extends SipMessageError {
  override readonly name = 'SipLimitError';
  readonly status = 400;
  constructor(
    readonly field: string,
    readonly value: number,
    readonly limit: number,
  ) {
    super(`SIP ${field}: ${value} exceeds the limit ${limit}`);
  }
}

export class SipSyntaxError extends SipMessageError {
  override readonly name = 'SipSyntaxError';
  readonly status = 400;
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(`SIP ${field}: ${detail}`);
  }
}

export class SipMissingHeaderError extends SipMessageError {
  override readonly name = 'SipMissingHeaderError';
  readonly status = 400;
  readonly field: string;
  constructor(readonly header: string) {
    super(`SIP message lacks the mandatory ${header} header`);
    this.field = header;
  }
}

export class SipContentLengthError extends SipMessageError {
  override readonly name = 'SipContentLengthError';
  readonly field = 'Content-Length';
  readonly status = 400;
  constructor(detail: string) {
    super(`SIP Content-Length: ${detail}`);
  }
}

export class SipCSeqMismatchError extends SipMessageError {
  override readonly name = 'SipCSeqMismatchError';
  readonly field = 'CSeq';
  readonly status = 400;
  constructor(
    readonly requestMethod: string,
    readonly cseqMethod: string,
  ) {
    super(`SIP CSeq method ${cseqMethod} differs from the request method ${requestMethod}`);
  }
}

export class SipUnsupportedSchemeError extends SipMessageError {
  override readonly name = 'SipUnsupportedSchemeError';
  readonly field = 'Request-URI';
  readonly status = 416;
  constructor(readonly scheme: string) {
    super(`SIP Request-URI scheme ${JSON.stringify(scheme)} is not supported`);
  }
}

export class SipVersionError extends SipMessageError {
  override readonly name = 'SipVersionError';
  readonly field = 'SIP-Version';
  readonly status = 505;
  constructor(readonly version: string) {
    super(`SIP version ${JSON.stringify(version)} is not supported`);
  }
}

/** Stream framing failed (RFC 3261 §18.3); the stream cannot be resynchronised and must be closed. */
export class SipFramingError extends SipMessageError {
  override readonly name = 'SipFramingError';
  readonly status = 400;
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(`SIP stream framing, ${field}: ${detail}`);
  }
}
