/**
 * Whole messages: forwarding header || MessageContents || SecurityBlock (RFC 6940 §6.3), with the header's
 * length computed. Parsing is staged: a forwarding peer reads only the header and re-emits the rest
 * untouched; the destination decodes everything and gets the exact byte regions the signature covers.
 */
import { writeBody, type Body } from './bodies';
import { MessageCode, UNFRAGMENTED } from './codes';
import {
  readMessageContents,
  writeMessageContents,
  writeMessageExtension,
  type MessageContents,
  type MessageExtension,
} from './contents';
import { readForwardingHeader, writeForwardingHeader, type ForwardingHeader } from './forwarding-header';
import type { DecodeContext, EncodeContext } from './limits';
import { Reader } from './reader';
import { readSecurityBlock, writeSecurityBlock, type SecurityBlock } from './security-block';
import { labelEncode, Writer } from './writer';

export interface Message {
  header: ForwardingHeader;
  contents: MessageContents;
  security: SecurityBlock;
}

export interface DecodedMessage extends Message {
  /** Views of the exact bytes the message signature covers (with overlay and transaction_id). */
  signed: { contents: Uint8Array; signerIdentity: Uint8Array };
}

/** Header fields the builder fills in itself. */
export type HeaderInput = Omit<ForwardingHeader, 'length' | 'fragment'> & { fragment?: number };

/** Contents with the body still as a value: encoded straight into the message, without a copy. */
export interface BodyContents {
  body: Body;
  extensions: MessageExtension[];
}

export type ContentsInput = MessageContents | BodyContents;

/**
 * The security block, or a function that makes it from the encoded MessageContents (a signer: the bytes
 * are a view into the message being built, valid only during the call).
 */
export type SecurityInput = SecurityBlock | ((contents: Uint8Array) => SecurityBlock);

function writeContents(w: Writer, contents: ContentsInput, nodeIdLength: number): void {
  if (contents.body instanceof Uint8Array) {
    writeMessageContents(w, contents as MessageContents);
    return;
  }
  const body = contents.body;
  try {
    w.u16(MessageCode[body.method], 'message_code');
    const at = w.open(4);
    writeBody(w, body, nodeIdLength);
    w.close(at, 4, 0, 0xffffffff, 'message_body');
    w.list(4, 0, 0xffffffff, 'extensions', contents.extensions, writeMessageExtension);
  } catch (error) {
    throw labelEncode(error, 'MessageContents');
  }
}

/** Header, contents and security block in one pass, with the header's length filled in. */
export function encodeMessage(
  message: { header: HeaderInput; contents: ContentsInput; security: SecurityInput },
  ctx: EncodeContext,
): Uint8Array {
  const w = new Writer(1024);
  const lengthAt = writeForwardingHeader(
    w,
    message.header,
    ctx.nodeIdLength,
    message.header.fragment ?? UNFRAGMENTED,
    0,
  );
  const contentsAt = w.pos;
  writeContents(w, message.contents, ctx.nodeIdLength);
  const security =
    typeof message.security === 'function' ? message.security(w.written(contentsAt, w.pos)) : message.security;
  writeSecurityBlock(w, security);
  w.patch(lengthAt, 4, w.pos);
  return w.finish();
}

/** MessageContents alone (what a message signature covers, with overlay and transaction_id). */
export function encodeMessageContents(contents: ContentsInput, nodeIdLength = 16): Uint8Array {
  const w = new Writer(64 + (contents.body instanceof Uint8Array ? contents.body.length : 512));
  writeContents(w, contents, nodeIdLength);
  return w.finish();
}

export interface HeaderView {
  header: ForwardingHeader;
  /** Bytes of the forwarding header; the rest of the message starts here. */
  headerLength: number;
}

function readHeaderOf(r: Reader, bytes: Uint8Array, ctx: DecodeContext): ForwardingHeader {
  if (bytes.length > ctx.maxMessageSize) {
    throw r.fail(`message of ${bytes.length} bytes exceeds the maximum of ${ctx.maxMessageSize}`, 'Message', 0);
  }
  const header = readForwardingHeader(r);
  if (header.length !== bytes.length) {
    throw r.fail(
      `header length ${header.length} does not match the ${bytes.length} bytes received`,
      'ForwardingHeader.length',
      16,
    );
  }
  return header;
}

/** Stage one: the forwarding header only. The buffer must be exactly the message `length` says. */
export function decodeHeader(bytes: Uint8Array, ctx: DecodeContext): HeaderView {
  const r = new Reader(bytes, ctx);
  const header = readHeaderOf(r, bytes, ctx);
  return { header, headerLength: r.pos };
}

/** Stage two (destination only): contents and security block of a whole (unfragmented) message. */
export function decodeMessage(bytes: Uint8Array, ctx: DecodeContext): DecodedMessage {
  const r = new Reader(bytes, ctx);
  const header = readHeaderOf(r, bytes, ctx);
  if (header.fragment !== UNFRAGMENTED)
    throw r.fail('message is a fragment; reassemble it first', 'ForwardingHeader.fragment', 12);
  const contentsStart = r.pos;
  const contents = readMessageContents(r);
  const contentsEnd = r.pos;
  const security = readSecurityBlock(r);
  r.done('SecurityBlock');
  return new Decoded(header, contents, security, bytes, contentsStart, contentsEnd);
}

/** The signed regions are computed only when a verifier asks for them. */
class Decoded implements DecodedMessage {
  constructor(
    readonly header: ForwardingHeader,
    readonly contents: MessageContents,
    readonly security: SecurityBlock,
    private readonly bytes: Uint8Array,
    private readonly contentsStart: number,
    private readonly contentsEnd: number,
  ) {}

  get signed(): { contents: Uint8Array; signerIdentity: Uint8Array } {
    const b = this.bytes;
    const end = this.contentsEnd;
    // SignerIdentity sits after the certificates bucket (2-byte length) and the 2 algorithm bytes.
    const certsLength = ((b[end] as number) << 8) | (b[end + 1] as number);
    const identityStart = end + 2 + certsLength + 2;
    const identityLength = ((b[identityStart + 1] as number) << 8) | (b[identityStart + 2] as number);
    return {
      contents: b.subarray(this.contentsStart, end),
      signerIdentity: b.subarray(identityStart, identityStart + 3 + identityLength),
    };
  }
}

/**
 * A forwarding peer's rewrite: new header fields (TTL, via list, destination list) in front of the
 * untouched rest of the message; the length is recomputed.
 */
export function replaceHeader(
  bytes: Uint8Array,
  view: HeaderView,
  header: Omit<ForwardingHeader, 'length'>,
  ctx: EncodeContext,
): Uint8Array {
  const rest = bytes.subarray(view.headerLength);
  const w = new Writer(bytes.length + 64);
  const lengthAt = writeForwardingHeader(w, header, ctx.nodeIdLength, header.fragment, 0);
  w.raw(rest);
  w.patch(lengthAt, 4, w.pos);
  return w.finish();
}
