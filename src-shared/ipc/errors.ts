/**
 * Typed errors that cross the bridge. The main side sends an `IpcErrorPayload`; the renderer turns it back
 * into the matching class so callers can `instanceof` on the condition.
 */
import * as v from 'valibot';

export const IPC_ERROR_CODES = [
  'unknown-channel',
  'invalid-payload',
  'invalid-response',
  'invalid-frame',
  'handler-failed',
  'internal',
  'bridge-unavailable',
  'bridge-closed',
  'timeout',
] as const;
export type IpcErrorCode = (typeof IPC_ERROR_CODES)[number];

export const IssueSchema = v.strictObject({ path: v.string(), message: v.string() });
export type Issue = v.InferOutput<typeof IssueSchema>;

export const IpcErrorPayloadSchema = v.strictObject({
  code: v.picklist(IPC_ERROR_CODES),
  message: v.string(),
  channel: v.optional(v.string()),
  /** For invalid-payload / invalid-response: which fields failed and why. */
  issues: v.optional(v.array(IssueSchema)),
  /** For handler-failed: the service's own condition name (e.g. "settings-write-failed"). */
  reason: v.optional(v.string()),
});
export type IpcErrorPayload = v.InferOutput<typeof IpcErrorPayloadSchema>;

export class IpcError extends Error {
  readonly code: IpcErrorCode;
  readonly channel: string | undefined;
  readonly issues: readonly Issue[];
  readonly reason: string | undefined;

  constructor(payload: IpcErrorPayload) {
    super(payload.message);
    this.name = new.target.name;
    this.code = payload.code;
    this.channel = payload.channel;
    this.issues = payload.issues ?? [];
    this.reason = payload.reason;
  }

  toPayload(): IpcErrorPayload {
    const payload: IpcErrorPayload = { code: this.code, message: this.message };
    if (this.channel !== undefined) payload.channel = this.channel;
    if (this.issues.length > 0) payload.issues = [...this.issues];
    if (this.reason !== undefined) payload.reason = this.reason;
    return payload;
  }
}

/** The channel is not in the contract; nothing was executed. */
export class UnknownChannelError extends IpcError {}
/** The request payload does not match the channel's schema; nothing was executed. */
export class InvalidPayloadError extends IpcError {}
/** The main side produced a response that breaks the contract (a bug in main). */
export class InvalidResponseError extends IpcError {}
/** A bridge frame is not of the bridge protocol's form. */
export class InvalidFrameError extends IpcError {}
/** The service refused the request for a reason of its own (`reason`). */
export class HandlerFailedError extends IpcError {}
/** The service failed unexpectedly; details are in the main process log. */
export class InternalError extends IpcError {}
/** Neither the Electron preload nor a browser-mode token is present. */
export class BridgeUnavailableError extends IpcError {}
/** The connection to the backend closed before an answer came. */
export class BridgeClosedError extends IpcError {}
/** No answer within the client's deadline. */
export class RequestTimeoutError extends IpcError {}

const classes: Record<IpcErrorCode, new (payload: IpcErrorPayload) => IpcError> = {
  'unknown-channel': UnknownChannelError,
  'invalid-payload': InvalidPayloadError,
  'invalid-response': InvalidResponseError,
  'invalid-frame': InvalidFrameError,
  'handler-failed': HandlerFailedError,
  internal: InternalError,
  'bridge-unavailable': BridgeUnavailableError,
  'bridge-closed': BridgeClosedError,
  timeout: RequestTimeoutError,
};

export function ipcErrorFromPayload(payload: IpcErrorPayload): IpcError {
  return new classes[payload.code](payload);
}

export function ipcError(
  code: IpcErrorCode,
  message: string,
  extra: Omit<IpcErrorPayload, 'code' | 'message'> = {},
): IpcError {
  return ipcErrorFromPayload({ code, message, ...extra });
}

/** Flatten schema issues into `{path, message}` pairs naming the offending field. */
export function issuesOf(issues: readonly v.BaseIssue<unknown>[]): Issue[] {
  return issues.map((issue) => ({ path: v.getDotPath(issue) ?? '', message: issue.message }));
}

export function describeIssues(issues: readonly Issue[]): string {
  return issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
}
