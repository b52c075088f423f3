/** Typed errors of the proxy core, each naming the field at fault. */

/** A received message the proxy cannot process; `field` names the header (or 'start-line', 'size'). */
export class SipProxyMessageError extends Error {
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(`SIP ${field}: ${detail}`);
    this.name = 'SipProxyMessageError';
  }
}

/** A proxy option out of range, named by its key. */
export class SipProxyOptionError extends Error {
  constructor(
    readonly option: string,
    detail: string,
  ) {
    super(`proxy option ${option}: ${detail}`);
    this.name = 'SipProxyOptionError';
  }
}
