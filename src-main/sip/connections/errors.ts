/**
 * How SIP connections over AppAttach fail: one class per condition, `field` naming the input at fault. A message
 * too large for a flow and a stream that cannot be framed use src-main/sip/message/errors.ts's classes.
 */

/** Bad input to SipConnections or a SIP transport; `field` names it. */
export class SipConnectionArgumentError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'SipConnectionArgumentError';
  }
}

/**
 * The node that answered the AppAttach is not the last entry of the destination list (RFC 7904 §5.1: the
 * connection MUST NOT be used and MUST be closed). The connection has been closed when this is thrown.
 */
export class SipConnectionIdentityError extends Error {
  readonly field = 'destinations';
  constructor(
    /** Hex of the Node-ID the destination list ends with. */
    readonly expected: string,
    /** Hex of the Node-ID(s) the answering node's certificate carries. */
    readonly actual: string,
  ) {
    super(`destinations: the connection was answered by ${actual}, not ${expected} (the last destination)`);
    this.name = 'SipConnectionIdentityError';
  }
}

/** `send` on a SIP connection that has closed. */
export class SipConnectionClosedError extends Error {
  constructor(readonly reason: string) {
    super(`the SIP connection is closed (${reason})`);
    this.name = 'SipConnectionClosedError';
  }
}

/** The pool already holds its maximum number of connections. */
export class SipConnectionLimitError extends Error {
  readonly field = 'maxConnections';
  constructor(readonly limit: number) {
    super(`maxConnections: ${limit} SIP connections are open or opening`);
    this.name = 'SipConnectionLimitError';
  }
}

/** A connect to this peer failed recently; it is not tried again before `retryAt` (clock milliseconds). */
export class SipConnectBackoffError extends Error {
  constructor(
    readonly peer: string,
    readonly retryAt: number,
    readonly lastReason: string,
  ) {
    super(`a SIP connection to ${peer} failed recently (${lastReason}); not retried before ${retryAt}`);
    this.name = 'SipConnectBackoffError';
  }
}

/** SipConnections was stopped (or not started). */
export class SipConnectionsStoppedError extends Error {
  constructor() {
    super('SIP connections are stopped');
    this.name = 'SipConnectionsStoppedError';
  }
}
