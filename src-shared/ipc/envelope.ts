/**
 * The transport-neutral messages both bridges carry. Electron IPC sends them as structured clones, the
 * browser-mode WebSocket as JSON frames wrapping them.
 */
import * as v from 'valibot';
import { IpcErrorPayloadSchema } from './errors';

/** Channel name of Electron's ipcMain.handle for all contract requests. */
export const ELECTRON_REQUEST_CHANNEL = 'softphone:request';
/** Channel name of webContents.send for all contract events. */
export const ELECTRON_EVENT_CHANNEL = 'softphone:event';
/** Subprotocol the browser-mode WebSocket speaks; the version changes when frames change. */
export const BRIDGE_PROTOCOL = 'softphone-bridge.v1';
/** Query parameter carrying the per-run token of browser mode. */
export const BRIDGE_TOKEN_PARAM = 'token';
/** Path of the browser-mode WebSocket endpoint. */
export const BRIDGE_PATH = '/bridge';

export const RequestMessageSchema = v.strictObject({
  channel: v.pipe(v.string(), v.maxLength(128)),
  // A missing payload is passed on so the channel's own schema can say what it expected.
  payload: v.optional(v.unknown()),
});
export type RequestMessage = v.InferOutput<typeof RequestMessageSchema>;

export const ResultSchema = v.variant('ok', [
  v.strictObject({ ok: v.literal(true), value: v.unknown() }),
  v.strictObject({ ok: v.literal(false), error: IpcErrorPayloadSchema }),
]);
export type Result = v.InferOutput<typeof ResultSchema>;

export const EventMessageSchema = v.strictObject({
  event: v.string(),
  payload: v.unknown(),
});
export type EventMessage = v.InferOutput<typeof EventMessageSchema>;

/** WebSocket frames: renderer -> host. */
export const ClientFrameSchema = v.strictObject({
  type: v.literal('request'),
  id: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER)),
  channel: RequestMessageSchema.entries.channel,
  payload: RequestMessageSchema.entries.payload,
});
export type ClientFrame = v.InferOutput<typeof ClientFrameSchema>;

/** WebSocket frames: host -> renderer. A response with id null answers a frame whose id was unreadable. */
export const ServerFrameSchema = v.variant('type', [
  v.strictObject({ type: v.literal('response'), id: v.nullable(v.number()), result: ResultSchema }),
  v.strictObject({ type: v.literal('event'), event: v.string(), payload: v.unknown() }),
]);
export type ServerFrame = v.InferOutput<typeof ServerFrameSchema>;
