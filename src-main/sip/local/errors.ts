/** Typed errors of the local SIP interface. */

/** The local interface listens on, and sends to, loopback addresses only. */
export class SipLocalHostError extends Error {
  override readonly name = 'SipLocalHostError';
  readonly field = 'host';
  constructor(readonly host: string) {
    super(`SIP local interface: ${JSON.stringify(host)} is not a loopback IP address`);
  }
}

export class SipTransportClosedError extends Error {
  override readonly name = 'SipTransportClosedError';
  constructor(readonly transportId: string) {
    super(`SIP transport ${transportId} is closed`);
  }
}

/** A message too large for one UDP datagram. */
export class SipDatagramTooLargeError extends Error {
  override readonly name = 'SipDatagramTooLargeError';
  readonly field = 'message';
  constructor(readonly size: number) {
    super(`SIP message of ${size} bytes does not fit a UDP datagram`);
  }
}

export class SipLocalOptionError extends Error {
  override readonly name = 'SipLocalOptionError';
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(`SIP local interface option ${field}: ${detail}`);
  }
}
