/** How a request can fail for its originator. */
export class TransportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** No answer after every transmission (RFC 6940: 5 sends, overlay-reliability-timer apart). */
export class RequestTimeoutError extends TransportError {}

/** The destination (or a node on the way) answered with an ErrorResponse. */
export class ErrorResponseError extends TransportError {
  constructor(
    readonly errorCode: number,
    readonly errorInfo: Uint8Array,
    readonly from: Uint8Array | undefined,
  ) {
    super(`error response ${errorCode}: ${new TextDecoder().decode(errorInfo).slice(0, 200)}`);
  }
}

/** Nothing in the connection table or the topology leads towards the destination. */
export class NoRouteError extends TransportError {}

/** An Attach got its answer, but no link came of it in time (no connection, ICE or (D)TLS did not finish). */
export class AttachTimeoutError extends TransportError {}

/** An Attach answer was signed by a node other than the one we attached to, or is not an attach_ans. */
export class AttachAnswerError extends TransportError {}

/** None of the configured bootstrap nodes could be reached (each failure is in `causes`). */
export class BootstrapFailedError extends TransportError {
  constructor(
    message: string,
    readonly causes: Error[],
  ) {
    super(message);
  }
}
