/** How an AppAttach can fail for its caller (besides the transport's own RequestTimeoutError, NoRouteError…). */
import { TransportError, type ErrorResponseError } from './errors';

/** Bad input to appAttach / onAppAttach; `field` names it. */
export class AppAttachArgumentError extends TransportError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/**
 * The destination answered Error_Not_Found: it does not support the Application-ID (RFC 6940 §6.5.2), or
 * does not implement AppAttach at all.
 */
export class AppAttachNotSupportedError extends TransportError {
  constructor(
    readonly applicationId: number,
    override readonly cause: ErrorResponseError,
  ) {
    super(`the destination does not support Application-ID ${applicationId} (Error_Not_Found)`);
  }
}

/** The AppAttach answer is not one we can use (wrong body, Application-ID, role or signer); `field` names it. */
export class AppAttachAnswerError extends TransportError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** The answer came, but no flow was up in time: ICE checks, the (D)TLS handshake or the TLS connection. */
export class AppAttachTimeoutError extends TransportError {
  constructor(
    readonly phase: 'ice' | 'handshake' | 'connection',
    message: string,
    override readonly cause?: Error,
  ) {
    super(message);
  }
}

/** This node was built without an AppAttach strategy (ReloadNodeOptions.appAttach). */
export class AppAttachUnavailableError extends TransportError {}
