import { describe, expect, it } from 'vitest';
import {
  SipContentLengthError,
  SipCSeqMismatchError,
  SipLimitError,
  SipMessageTooLargeError,
  SipMissingHeaderError,
  SipSyntaxError,
  SipUnsupportedSchemeError,
  SipVersionError,
} from '../../../../../src-main/sip/message/errors';
import { DEFAULT_SIP_LIMITS } from '../../../../../src-main/sip/message/limits';
import {
  IncomingRequestMessage,
  IncomingResponseMessage,
  parseSipMessage,
} from '../../../../../src-main/sip/message/parse';

function request(over: { first?: string; headers?: string[]; drop?: string[]; body?: string } = {}): string {
  const body = over.body ?? '';
  const headers = [
    'Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1',
    'Max-Forwards: 70',
    'From: <sip:alice@example.com>;tag=a1',
    'To: <sip:bob@example.com>',
    'Call-ID: call-1',
    'CSeq: 1 OPTIONS',
  ]
    .filter((h) => !(over.drop ?? []).some((d) => h.startsWith(`${d}:`)))
    .concat(over.headers ?? []);
  if (!headers.some((h) => /^(Content-Length|l):/i.test(h))) headers.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return `${over.first ?? 'OPTIONS sip:bob@example.com SIP/2.0'}\r\n${headers.join('\r\n')}\r\n\r\n${body}`;
}

describe('parseSipMessage', () => {
  it('parses a valid request and a valid response into sip.js messages', () => {
    const req = parseSipMessage(request());
    expect(req).toBeInstanceOf(IncomingRequestMessage);
    expect((req as IncomingRequestMessage).method).toBe('OPTIONS');
    const res = parseSipMessage(
      'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK-1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n',
    );
    expect(res).toBeInstanceOf(IncomingResponseMessage);
  });

  it('takes the transaction branch from the top entry of a Via line that lists several (sip.js takes the last)', () => {
    const text = request({
      drop: ['Via'],
      headers: ['Via: SIP/2.0/UDP a.test;branch=z9hG4bK-top, SIP/2.0/UDP b.test;branch=z9hG4bK-2'],
    });
    const req = parseSipMessage(text) as IncomingRequestMessage;
    expect(req.viaBranch).toBe('z9hG4bK-top');
    expect(req.via).toMatchObject({ host: 'a.test', branch: 'z9hG4bK-top' });
    expect(() => parseSipMessage(text.replace('z9hG4bK-top', 'z9hG4bK'))).toThrow(SipSyntaxError);
  });

  it('takes "Contact: *" in a REGISTER (the registrar judges it) and refuses it elsewhere', () => {
    const text = request({
      first: 'REGISTER sip:example.com SIP/2.0',
      drop: ['CSeq'],
      headers: ['CSeq: 2 REGISTER', 'Contact: *', 'Expires: 0'],
      body: 'x',
    });
    const reg = parseSipMessage(text) as IncomingRequestMessage;
    expect(reg.method).toBe('REGISTER');
    expect(reg.getHeaders('contact')).toEqual(['*']);
    expect(reg.body).toBe('x');
    expect(reg.data).toBe(text);
    expect(() => parseSipMessage(request({ headers: ['Contact: *'] }))).toThrow(SipSyntaxError);
  });

  it('refuses a message above the size limit', () => {
    const big = request({
      headers: ['Content-Type: text/plain'],
      body: 'x'.repeat(DEFAULT_SIP_LIMITS.maxMessageBytes),
    });
    expect(() => parseSipMessage(big)).toThrow(SipMessageTooLargeError);
  });

  it('refuses too many headers, an over-long header and too many Vias', () => {
    const many = Array.from({ length: DEFAULT_SIP_LIMITS.maxHeaders }, (_, i) => `X-H${i}: v`);
    expect(() => parseSipMessage(request({ headers: many }))).toThrow(SipLimitError);
    const long = `X-Long: ${'a'.repeat(DEFAULT_SIP_LIMITS.maxHeaderLineBytes)}`;
    expect(() => parseSipMessage(request({ headers: [long] }))).toThrow(/header line length/);
    const vias = Array.from({ length: DEFAULT_SIP_LIMITS.maxVias }, (_, i) => `SIP/2.0/UDP h${i};branch=z9hG4bK${i}`);
    expect(() => parseSipMessage(request({ headers: [`Via: ${vias.join(', ')}`] }))).toThrow(
      expect.objectContaining({ name: 'SipLimitError', field: 'Via' }),
    );
  });

  it('names each missing mandatory header', () => {
    for (const h of ['To', 'From', 'Call-ID', 'CSeq', 'Via', 'Max-Forwards']) {
      expect(() => parseSipMessage(request({ drop: [h] }))).toThrow(
        expect.objectContaining({ name: 'SipMissingHeaderError', header: h }),
      );
    }
    expect(() => parseSipMessage(request({ drop: ['To'] }))).toThrow(SipMissingHeaderError);
  });

  it('refuses Content-Length twice, negative, non-numeric, larger than the body', () => {
    expect(() => parseSipMessage(request({ headers: ['Content-Length: 0', 'l: 0'] }))).toThrow(SipContentLengthError);
    expect(() => parseSipMessage(request({ headers: ['Content-Length: -5'] }))).toThrow(SipContentLengthError);
    expect(() => parseSipMessage(request({ headers: ['Content-Length: abc'] }))).toThrow(SipContentLengthError);
    expect(() => parseSipMessage(request({ headers: ['Content-Length: 9999'], body: 'abc' }))).toThrow(
      SipContentLengthError,
    );
  });

  it('cuts the body by octets, not characters', () => {
    const body = 'ää'; // 4 bytes
    const m = parseSipMessage(request({ headers: ['Content-Type: text/plain', 'Content-Length: 2'], body }));
    expect(m.body).toBe('ä');
  });

  it('refuses CSeq non-numeric, >= 2^31, and a CSeq method that differs from the request method', () => {
    const cseq = (v: string) => request({ drop: ['CSeq'], headers: [`CSeq: ${v}`] });
    expect(() => parseSipMessage(cseq('abc OPTIONS'))).toThrow(expect.objectContaining({ field: 'CSeq' }));
    expect(() => parseSipMessage(cseq('2147483648 OPTIONS'))).toThrow(SipSyntaxError);
    expect(parseSipMessage(cseq('2147483647 OPTIONS')).cseq).toBe(2147483647);
    expect(() => parseSipMessage(cseq('1 INVITE'))).toThrow(SipCSeqMismatchError);
  });

  it('refuses Max-Forwards above 255 and Expires above 2^32-1', () => {
    expect(() => parseSipMessage(request({ drop: ['Max-Forwards'], headers: ['Max-Forwards: 256'] }))).toThrow(
      expect.objectContaining({ field: 'Max-Forwards' }),
    );
    expect(() => parseSipMessage(request({ headers: ['Expires: 4294967296'] }))).toThrow(
      expect.objectContaining({ field: 'Expires' }),
    );
    expect(() => parseSipMessage(request({ headers: ['Expires: 1 0'] }))).toThrow(SipSyntaxError);
  });

  it('refuses a top Via without branch or with only the magic cookie', () => {
    for (const via of ['SIP/2.0/UDP 127.0.0.1:5070', 'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK']) {
      expect(() => parseSipMessage(request({ drop: ['Via'], headers: [`Via: ${via}`] }))).toThrow(
        expect.objectContaining({ name: 'SipSyntaxError', field: 'Via' }),
      );
    }
  });

  it('refuses a Request-URI with headers and a top Via with two branch parameters', () => {
    expect(() =>
      parseSipMessage(request({ first: 'OPTIONS sip:bob@example.com?Route=%3Csip:e.com%3E SIP/2.0' })),
    ).toThrow(expect.objectContaining({ field: 'Request-URI' }));
    const twice = 'Via: SIP/2.0/UDP h;branch=z9hG4bK-1;branch=z9hG4bK-2';
    expect(() => parseSipMessage(request({ drop: ['Via'], headers: [twice] }))).toThrow(/branch parameter twice/);
  });

  it('refuses duplicated single-valued headers sip.js would overwrite', () => {
    expect(() => parseSipMessage(request({ headers: ['To: <sip:eve@example.com>'] }))).toThrow(
      expect.objectContaining({ field: 'to' }),
    );
    expect(() => parseSipMessage(request({ headers: ['i: other-call'] }))).toThrow(
      expect.objectContaining({ field: 'call-id' }),
    );
  });

  it('refuses a SIP version other than 2.0 (505) and an unknown Request-URI scheme (416)', () => {
    expect(() => parseSipMessage(request({ first: 'OPTIONS sip:bob@example.com SIP/7.0' }))).toThrow(SipVersionError);
    const err = (() => {
      try {
        parseSipMessage(request({ first: 'OPTIONS nobarnobar:bob SIP/2.0' }));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(SipUnsupportedSchemeError);
    expect((err as SipUnsupportedSchemeError).status).toBe(416);
    expect(parseSipMessage(request({ first: 'OPTIONS tel:+15551234 SIP/2.0' }))).toBeInstanceOf(IncomingRequestMessage);
    expect(parseSipMessage(request({ first: 'OPTIONS sips:bob@example.com SIP/2.0' }))).toBeInstanceOf(
      IncomingRequestMessage,
    );
  });

  it('refuses a status code outside 100-699, control characters and header lines without a colon', () => {
    const res = (code: string) =>
      `SIP/2.0 ${code} X\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
    expect(() => parseSipMessage(res('999'))).toThrow(expect.objectContaining({ field: 'Status-Code' }));
    expect(() => parseSipMessage(res('4294967301'))).toThrow(expect.objectContaining({ field: 'start-line' }));
    expect(() => parseSipMessage(request({ headers: ['Subject: a\u0000b'] }))).toThrow(SipSyntaxError);
    expect(() => parseSipMessage(request({ headers: ['NoColonHere'] }))).toThrow(
      expect.objectContaining({ field: 'header' }),
    );
    expect(() => parseSipMessage('OPTIONS sip:a@b SIP/2.0')).toThrow(expect.objectContaining({ field: 'start-line' }));
  });
});

describe('parseSipMessage on responses', () => {
  it('turns the TypeError sip.js throws on a response with a malformed CSeq into SipSyntaxError', () => {
    const res =
      'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: abc\r\nContent-Length: 0\r\n\r\n';
    expect(() => parseSipMessage(res)).toThrow(expect.objectContaining({ name: 'SipSyntaxError', field: 'CSeq' }));
  });
});
