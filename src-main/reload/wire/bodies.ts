/**
 * Message bodies by message code: one table maps each code to its structure's reader and writer, so the
 * transport can decode exactly the body a method carries (and a forwarding peer never has to).
 */
import { readAppAttachReqAns, readAttachReqAns, writeAppAttachReqAns, writeAttachReqAns } from './attach';
import type { AppAttachReqAns, AttachReqAns } from './attach';
import {
  readChordRouteQueryAns,
  readChordUpdate,
  writeChordRouteQueryAns,
  writeChordUpdate,
  type ChordRouteQueryAns,
  type ChordUpdate,
} from './chord';
import { MessageCode, type MessageCodeName } from './codes';
import { readErrorResponse, writeErrorResponse, type ErrorResponse } from './error-response';
import {
  readPathTrackAns,
  readPathTrackReq,
  writePathTrackAns,
  writePathTrackReq,
  type PathTrackAns,
  type PathTrackReq,
} from './extensions';
import type { DecodeContext } from './limits';
import * as o from './overlay-bodies';
import { label, Reader } from './reader';
import * as s from './storage';
import { labelEncode, Writer } from './writer';

/** Bodies RFC 6940 defines as empty (LeaveAns, UpdateAns, ConfigUpdateAns). */
export type Empty = Record<string, never>;

export interface BodyTypes {
  probe_req: o.ProbeReq;
  probe_ans: o.ProbeAns;
  attach_req: AttachReqAns;
  attach_ans: AttachReqAns;
  store_req: s.StoreReq;
  store_ans: s.StoreAns;
  fetch_req: s.FetchReq;
  fetch_ans: s.FetchAns;
  find_req: s.FindReq;
  find_ans: s.FindAns;
  join_req: o.JoinReq;
  join_ans: o.JoinAns;
  leave_req: o.LeaveReq;
  leave_ans: Empty;
  update_req: ChordUpdate;
  update_ans: Empty;
  route_query_req: o.RouteQueryReq;
  route_query_ans: ChordRouteQueryAns;
  ping_req: o.PingReq;
  ping_ans: o.PingAns;
  stat_req: s.StatReq;
  stat_ans: s.StatAns;
  app_attach_req: AppAttachReqAns;
  app_attach_ans: AppAttachReqAns;
  config_update_req: o.ConfigUpdateReq;
  config_update_ans: Empty;
  path_track_req: PathTrackReq;
  path_track_ans: PathTrackAns;
  error: ErrorResponse;
}

export type Method = keyof BodyTypes & MessageCodeName;
export type Body = { [M in Method]: { method: M; value: BodyTypes[M] } }[Method];

interface BodyCodec<T> {
  read(r: Reader): T;
  write(w: Writer, value: T, nodeIdLength: number): void;
}

const empty: BodyCodec<Empty> = {
  read: () => ({}),
  write: (w, value) => {
    if (Object.keys(value).length > 0) throw w.fail('this body is empty by definition', 'body');
  },
};

const codecs: { [M in Method]: BodyCodec<BodyTypes[M]> } = {
  probe_req: { read: o.readProbeReq, write: o.writeProbeReq },
  probe_ans: { read: o.readProbeAns, write: o.writeProbeAns },
  attach_req: { read: readAttachReqAns, write: writeAttachReqAns },
  attach_ans: { read: readAttachReqAns, write: writeAttachReqAns },
  store_req: { read: s.readStoreReq, write: s.writeStoreReq },
  store_ans: { read: s.readStoreAns, write: s.writeStoreAns },
  fetch_req: { read: s.readFetchReq, write: s.writeFetchReq },
  fetch_ans: { read: s.readFetchAns, write: s.writeFetchAns },
  find_req: { read: s.readFindReq, write: s.writeFindReq },
  find_ans: { read: s.readFindAns, write: s.writeFindAns },
  join_req: { read: o.readJoinReq, write: o.writeJoinReq },
  join_ans: { read: o.readJoinAns, write: o.writeJoinAns },
  leave_req: { read: o.readLeaveReq, write: o.writeLeaveReq },
  leave_ans: empty,
  update_req: { read: readChordUpdate, write: writeChordUpdate },
  update_ans: empty,
  route_query_req: { read: o.readRouteQueryReq, write: o.writeRouteQueryReq },
  route_query_ans: { read: readChordRouteQueryAns, write: writeChordRouteQueryAns },
  ping_req: { read: o.readPingReq, write: o.writePingReq },
  ping_ans: { read: o.readPingAns, write: o.writePingAns },
  stat_req: { read: s.readFetchReq, write: s.writeFetchReq },
  stat_ans: { read: s.readStatAns, write: s.writeStatAns },
  app_attach_req: { read: readAppAttachReqAns, write: writeAppAttachReqAns },
  app_attach_ans: { read: readAppAttachReqAns, write: writeAppAttachReqAns },
  config_update_req: { read: o.readConfigUpdateReq, write: o.writeConfigUpdateReq },
  config_update_ans: empty,
  path_track_req: { read: readPathTrackReq, write: writePathTrackReq },
  path_track_ans: { read: readPathTrackAns, write: writePathTrackAns },
  error: { read: readErrorResponse, write: writeErrorResponse },
};

const methodByCode = new Map<number, Method>(
  (Object.keys(codecs) as Method[]).map((method) => [MessageCode[method], method]),
);

export function methodOf(code: number): Method | undefined {
  return methodByCode.get(code);
}

/** Decodes a message_body for its message_code; the body must be consumed exactly. */
export function decodeBody(code: number, body: Uint8Array, ctx: DecodeContext): Body {
  const method = methodByCode.get(code);
  const r = new Reader(body, ctx);
  if (!method) throw r.fail(`no body structure for message code 0x${code.toString(16)}`, 'message_code', 0);
  try {
    const value = (codecs[method] as BodyCodec<unknown>).read(r);
    r.done(method);
    return { method, value } as Body;
  } catch (error) {
    throw label(error, method);
  }
}

export function writeBody(w: Writer, body: Body, nodeIdLength: number): void {
  const codec = codecs[body.method] as BodyCodec<unknown> | undefined;
  if (!codec) throw w.fail(`unknown method ${String(body.method)}`, 'method');
  try {
    codec.write(w, body.value, nodeIdLength);
  } catch (error) {
    throw labelEncode(error, body.method);
  }
}

export function encodeBody(body: Body, nodeIdLength: number): { code: number; bytes: Uint8Array } {
  const w = new Writer(256);
  writeBody(w, body, nodeIdLength);
  return { code: MessageCode[body.method], bytes: w.finish() };
}
