/**
 * Splits a byte stream (TCP, TLS, a stream AppAttach flow) into SIP messages (RFC 3261 §18.3): the header
 * block runs to the first CRLFCRLF and must fit in maxHeaderBlockBytes; Content-Length is mandatory on
 * streams and the body is read to exactly that many octets. Between messages, RFC 5626 §4.4.1 keepalives:
 * CRLFCRLF is a ping (the owner answers CRLF), a lone CRLF is a pong. Any framing error is final: the
 * stream cannot be resynchronised, so the owner closes it. At most one message plus one read is buffered.
 */
import { Parser } from 'sip.js/lib/core/index.js';
import { SipFramingError, SipMessageTooLargeError } from './errors';
import { canonicalHeaderName } from './header-scan';
import { DEFAULT_SIP_LIMITS, type SipLimits } from './limits';

export type FramerEvent = { type: 'message'; text: string } | { type: 'ping' } | { type: 'pong' };

const CRLFCRLF = Buffer.from('\r\n\r\n');

export class SipStreamFramer {
  private buffer: Buffer = Buffer.alloc(0);
  /** Set once the header block of the current message is known: total bytes the message needs. */
  private pending: { headerBytes: number; total: number } | undefined;
  private failed: SipFramingError | SipMessageTooLargeError | undefined;

  constructor(private readonly limits: SipLimits = DEFAULT_SIP_LIMITS) {}

  /** Bytes held waiting for the rest of a message. */
  get buffered(): number {
    return this.buffer.length;
  }

  /** Feeds one read; returns what it completed. Throws (and keeps throwing) once framing failed. */
  push(chunk: Uint8Array): FramerEvent[] {
    if (this.failed) throw this.failed;
    this.buffer = this.buffer.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buffer, chunk]);
    const events: FramerEvent[] = [];
    try {
      while (this.step(events));
    } catch (err) {
      this.failed = err as SipFramingError;
      this.buffer = Buffer.alloc(0);
      throw err;
    }
    return events;
  }

  /** One unit of progress; false when more bytes are needed. */
  private step(events: FramerEvent[]): boolean {
    const buf = this.buffer;
    if (!this.pending) {
      if (buf.length === 0) return false;
      if (buf[0] === 0x0d) {
        // Keepalives sit between messages. A ping arrives as one 4-byte write; exactly CRLF alone is a pong.
        if (buf.length >= 4 && buf.subarray(0, 4).equals(CRLFCRLF)) {
          this.buffer = buf.subarray(4);
          events.push({ type: 'ping' });
          return true;
        }
        if (buf.length >= 2 && buf[1] === 0x0a && (buf.length === 2 || buf[2] !== 0x0d || buf.length >= 4)) {
          this.buffer = buf.subarray(2);
          events.push({ type: 'pong' });
          return true;
        }
        if (buf.length < 4 && (buf.length < 2 || buf[1] === 0x0a)) return false;
        throw new SipFramingError('start-line', 'stray CR between messages');
      }
      const end = buf.indexOf(CRLFCRLF);
      if (end < 0) {
        if (buf.length > this.limits.maxHeaderBlockBytes) {
          throw new SipFramingError('header block', `no empty line within ${this.limits.maxHeaderBlockBytes} bytes`);
        }
        return false;
      }
      const headerBytes = end + 4;
      if (headerBytes > this.limits.maxHeaderBlockBytes) {
        throw new SipFramingError('header block', `${headerBytes} bytes, limit ${this.limits.maxHeaderBlockBytes}`);
      }
      const bodyBytes = contentLength(buf.subarray(0, headerBytes).toString('latin1'));
      const total = headerBytes + bodyBytes;
      if (total > this.limits.maxMessageBytes) {
        throw new SipMessageTooLargeError('message', total, this.limits.maxMessageBytes);
      }
      this.pending = { headerBytes, total };
    }
    const { total } = this.pending;
    if (this.buffer.length < total) return false;
    events.push({ type: 'message', text: this.buffer.subarray(0, total).toString('utf8') });
    this.buffer = this.buffer.subarray(total);
    this.pending = undefined;
    return true;
  }
}

/** The one Content-Length of a header block (latin1 text so offsets are bytes); required on streams. */
function contentLength(block: string): number {
  let pos = block.indexOf('\r\n') + 2;
  let found: string | undefined;
  while (pos < block.length && !block.startsWith('\r\n', pos)) {
    const end = Parser.getHeader(block, pos);
    if (end < 0) break;
    const line = block.slice(pos, end);
    const colon = line.indexOf(':');
    if (colon > 0 && canonicalHeaderName(line.slice(0, colon).trim()) === 'content-length') {
      if (found !== undefined) throw new SipFramingError('Content-Length', 'appears more than once');
      found = line
        .slice(colon + 1)
        .replace(/\r\n[ \t]+/g, ' ')
        .trim();
    }
    pos = end + 2;
  }
  if (found === undefined) throw new SipFramingError('Content-Length', 'required on stream transports');
  if (!/^[0-9]{1,10}$/.test(found)) throw new SipFramingError('Content-Length', 'not a decimal number');
  return Number(found);
}
