/** ErrorResponse (RFC 6940 §6.3.3.1) and the two error_info payloads the spec defines. */
import type { Reader } from './reader';
import { readStoreAns, writeStoreAns, type StoreAns } from './storage';
import type { Writer } from './writer';

export interface ErrorResponse {
  errorCode: number;
  /** UTF-8 text by default; a StoreAns for Generation_Counter_Too_Low; Kind-IDs for Unknown_Kind. */
  errorInfo: Uint8Array;
}

export function readErrorResponse(r: Reader): ErrorResponse {
  const at = r.pos;
  const errorCode = r.u16('error_code');
  if (errorCode === 0) throw r.fail('invalid error code 0', 'error_code', at);
  return { errorCode, errorInfo: r.opaque(2, 0, 0xffff, 'error_info') };
}

export function writeErrorResponse(w: Writer, e: ErrorResponse): void {
  if (e.errorCode === 0) throw w.fail('invalid error code 0', 'error_code');
  w.u16(e.errorCode, 'error_code');
  w.opaque(2, 0, 0xffff, e.errorInfo, 'error_info');
}

/** Error_Unknown_Kind's error_info: KindId unknown_kinds<0..2^8-1>. */
export function readUnknownKinds(r: Reader): number[] {
  return r.list(1, 0, 0xff, 'unknown_kinds', (inner) => inner.u32('kind'));
}

export function writeUnknownKinds(w: Writer, kinds: readonly number[]): void {
  w.list(1, 0, 0xff, 'unknown_kinds', kinds, (inner, k) => inner.u32(k, 'kind'));
}

/** Error_Generation_Counter_Too_Low's error_info is a StoreAns. */
export const readGenerationTooLowInfo: (r: Reader) => StoreAns = readStoreAns;
export const writeGenerationTooLowInfo: (w: Writer, s: StoreAns, nodeIdLength: number) => void = writeStoreAns;
