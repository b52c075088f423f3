/**
 * Overlay link framing (RFC 6940 §6.6.2): data frames (0x80, sequence, 3-byte length, one message or
 * fragment) and ack frames (0x81, acked sequence, 32-bit bitmap of the packets before it).
 */
import type { Reader } from './reader';
import type { Writer } from './writer';

export const FRAME_DATA = 0x80;
export const FRAME_ACK = 0x81;
export const DATA_FRAME_HEADER_LENGTH = 8;
export const ACK_FRAME_LENGTH = 9;

export type FramedMessage =
  | { type: 'data'; sequence: number; message: Uint8Array }
  /** Bit (N − M − 1) of `received` is set when sequence M (N−32 ≤ M < N) was received; see docs/decisions.md. */
  | { type: 'ack'; ackSequence: number; received: number };

export function readFramedMessage(r: Reader): FramedMessage {
  return r.named('FramedMessage', (): FramedMessage => {
    const at = r.pos;
    const type = r.u8('type');
    if (type === FRAME_DATA) {
      const sequence = r.u32('sequence');
      const message = r.opaque(3, 0, Math.min(0xffffff, r.ctx.maxMessageSize), 'message');
      return { type: 'data', sequence, message };
    }
    if (type === FRAME_ACK) return { type: 'ack', ackSequence: r.u32('ack_sequence'), received: r.u32('received') };
    throw r.fail(`unknown FramedMessageType 0x${type.toString(16)}`, 'type', at);
  });
}

export function writeFramedMessage(w: Writer, f: FramedMessage): void {
  w.named('FramedMessage', () => {
    if (f.type === 'data') {
      w.u8(FRAME_DATA);
      w.u32(f.sequence, 'sequence');
      w.opaque(3, 0, 0xffffff, f.message, 'message');
    } else if (f.type === 'ack') {
      w.u8(FRAME_ACK);
      w.u32(f.ackSequence, 'ack_sequence');
      w.u32(f.received >>> 0, 'received');
    } else {
      throw w.fail('frame type must be data or ack', 'type');
    }
  });
}

/**
 * On a stream (TLS over TCP) frames arrive back to back: how many bytes the frame at the start of `bytes`
 * needs in total, or undefined while even its header is incomplete. Lets a link cut frames without
 * decoding them; an unknown type byte is reported as 0 (the caller closes the link).
 */
export function frameLength(bytes: Uint8Array): number | undefined {
  const type = bytes[0];
  if (type === undefined) return undefined;
  if (type === FRAME_ACK) return ACK_FRAME_LENGTH;
  if (type !== FRAME_DATA) return 0;
  if (bytes.length < DATA_FRAME_HEADER_LENGTH) return undefined;
  return DATA_FRAME_HEADER_LENGTH + (((bytes[5] as number) << 16) | ((bytes[6] as number) << 8) | (bytes[7] as number));
}
