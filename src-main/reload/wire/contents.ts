/** MessageContents (RFC 6940 §6.3.3): code, body, extensions. The body is decoded per method in bodies.ts. */
import { label, type Reader } from './reader';
import { labelEncode, type Writer } from './writer';

export interface MessageExtension {
  type: number;
  critical: boolean;
  contents: Uint8Array;
}

export interface MessageContents {
  code: number;
  body: Uint8Array;
  extensions: MessageExtension[];
}

export function readMessageContents(r: Reader): MessageContents {
  try {
    const at = r.pos;
    const code = r.u16('message_code');
    if (code === 0 || (code >= 0x8000 && code !== 0xffff)) {
      throw r.fail(`reserved message_code 0x${code.toString(16)}`, 'message_code', at);
    }
    const body = r.opaque(4, 0, 0xffffffff, 'message_body');
    const extensions = r.list(4, 0, 0xffffffff, 'extensions', readMessageExtension);
    return { code, body, extensions };
  } catch (error) {
    throw label(error, 'MessageContents');
  }
}

function readMessageExtension(r: Reader): MessageExtension {
  const at = r.pos;
  const type = r.u16('type');
  if (type === 0) throw r.fail('invalid MessageExtensionType 0', 'type', at);
  const critical = r.boolean('critical');
  const contents = r.opaque(4, 0, 0xffffffff, 'extension_contents');
  return { type, critical, contents };
}

export function writeMessageExtension(w: Writer, e: MessageExtension): void {
  if (e.type === 0) throw w.fail('invalid MessageExtensionType 0', 'type');
  w.u16(e.type, 'type');
  w.boolean(e.critical, 'critical');
  w.opaque(4, 0, 0xffffffff, e.contents, 'extension_contents');
}

export function writeMessageContents(w: Writer, c: MessageContents): void {
  try {
    if (c.code === 0 || (c.code >= 0x8000 && c.code !== 0xffff)) throw w.fail('reserved message_code', 'message_code');
    w.u16(c.code, 'message_code');
    w.opaque(4, 0, 0xffffffff, c.body, 'message_body');
    w.list(4, 0, 0xffffffff, 'extensions', c.extensions, writeMessageExtension);
  } catch (error) {
    throw labelEncode(error, 'MessageContents');
  }
}
