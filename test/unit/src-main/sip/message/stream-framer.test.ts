import { describe, expect, it } from 'vitest';
import { SipFramingError, SipMessageTooLargeError } from '../../../../../src-main/sip/message/errors';
import { SipStreamFramer } from '../../../../../src-main/sip/message/stream-framer';

const msg = (body = '') =>
  `OPTIONS sip:b@x SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

describe('SipStreamFramer', () => {
  it('frames messages by Content-Length across arbitrary splits', () => {
    const stream = Buffer.from(msg('héllo') + msg() + msg('x'));
    for (const size of [1, 3, 7, stream.length]) {
      const f = new SipStreamFramer();
      const texts: string[] = [];
      for (let i = 0; i < stream.length; i += size) {
        for (const e of f.push(stream.subarray(i, i + size))) if (e.type === 'message') texts.push(e.text);
      }
      expect(texts).toEqual([msg('héllo'), msg(), msg('x')]);
      expect(f.buffered).toBe(0);
    }
  });

  it('reports CRLFCRLF as ping and a lone CRLF as pong (RFC 5626)', () => {
    const f = new SipStreamFramer();
    expect(f.push(Buffer.from('\r\n\r\n'))).toEqual([{ type: 'ping' }]);
    expect(f.push(Buffer.from('\r\n'))).toEqual([{ type: 'pong' }]);
    expect(f.push(Buffer.from('\r\n\r\n' + msg()))).toEqual([{ type: 'ping' }, { type: 'message', text: msg() }]);
  });

  it('requires Content-Length, refuses it twice or non-numeric, and stays failed', () => {
    const f = new SipStreamFramer();
    expect(() => f.push(Buffer.from('OPTIONS sip:b@x SIP/2.0\r\nVia: x\r\n\r\n'))).toThrow(SipFramingError);
    expect(() => f.push(Buffer.from(msg()))).toThrow(SipFramingError);
    expect(() => new SipStreamFramer().push(Buffer.from(msg().replace('\r\n\r\n', '\r\nl: 0\r\n\r\n')))).toThrow(
      /more than once/,
    );
    expect(() => new SipStreamFramer().push(Buffer.from(msg().replace('Length: 0', 'Length: -1')))).toThrow(/decimal/);
  });

  it('bounds the header block and the message size', () => {
    const f = new SipStreamFramer({ ...defaultsSmall });
    expect(() => f.push(Buffer.from('OPTIONS sip:b@x SIP/2.0\r\nX: ' + 'a'.repeat(300)))).toThrow(
      expect.objectContaining({ field: 'header block' }),
    );
    const g = new SipStreamFramer({ ...defaultsSmall });
    expect(() => g.push(Buffer.from(msg().replace('Length: 0', 'Length: 5000')))).toThrow(SipMessageTooLargeError);
  });
});

const defaultsSmall = {
  maxMessageBytes: 1024,
  maxHeaderBlockBytes: 256,
  maxHeaders: 20,
  maxHeaderLineBytes: 200,
  maxVias: 4,
};
