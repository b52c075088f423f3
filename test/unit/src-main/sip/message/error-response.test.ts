import { describe, expect, it } from 'vitest';
import { cleanReason, errorResponse, salvageErrorResponse } from '../../../../../src-main/sip/message/error-response';
import {
  parseSipMessage,
  type IncomingRequestMessage,
  type IncomingResponseMessage,
} from '../../../../../src-main/sip/message/parse';
import { stampParsedRequest, stampTopVia, stampViaParm } from '../../../../../src-main/sip/message/via-received';

const REQ =
  'INVITE sip:bob@x SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK-a;rport, SIP/2.0/UDP p;branch=z9hG4bK-b\r\n' +
  'Via: SIP/2.0/UDP q;branch=z9hG4bK-c\r\nMax-Forwards: 70\r\nFrom: "A" <sip:a@x>;tag=f1\r\nTo: <sip:bob@x>\r\n' +
  'Call-ID: c-1@x\r\nCSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n';

describe('errorResponse (RFC 3261 §8.2.6)', () => {
  it('copies Via (all, in order), From, Call-ID, CSeq; To gets a stable tag', () => {
    const req = parseSipMessage(REQ) as IncomingRequestMessage;
    const r1 = errorResponse(req, 486, 'Busy Here');
    const res = parseSipMessage(r1);
    expect(r1.startsWith('SIP/2.0 486 Busy Here\r\n')).toBe(true);
    expect(res.getHeaders('via')).toEqual(req.getHeaders('via'));
    expect(res.getHeader('from')).toBe(req.getHeader('from'));
    expect(res.callId).toBe('c-1@x');
    expect(res.getHeader('cseq')).toBe('7 INVITE');
    expect(res.toTag).toMatch(/^[0-9a-f]{16}$/);
    expect(errorResponse(req, 486, 'Busy Here')).toBe(r1);
    expect(errorResponse(req, 400, 'bad\r\nInjected: 1')).toContain('SIP/2.0 400 bad Injected: 1\r\n');
    expect(() => errorResponse(req, 200, 'OK')).toThrow(RangeError);
  });

  it('writes only Reason-Phrase characters RFC 3261 allows, so the answer to a refusal that quotes parses', () => {
    expect(cleanReason('SIP version "SIP/3.0" is not supported')).toBe("SIP version 'SIP/3.0' is not supported");
    expect(cleanReason('a <b> [c] \\ {d} | ^ ` # 100% %41')).toBe('a b c d 100 percent %41');
    expect(cleanReason('\r\n\t')).toBe('Error');
    const req = parseSipMessage(REQ) as IncomingRequestMessage;
    const hostile = 'x"<>[]\\^`{|}#%\u0000\u00e9 ok';
    expect((parseSipMessage(errorResponse(req, 400, hostile)) as IncomingResponseMessage).reasonPhrase).toBe(
      "x' percent \u00e9 ok",
    );
    expect((parseSipMessage(salvageErrorResponse(REQ, 505, hostile)!) as IncomingResponseMessage).statusCode).toBe(505);
  });

  it('salvages an answer from an unparseable request only when the five headers are there', () => {
    const broken = REQ.replace('CSeq: 7 INVITE', 'CSeq: 7 OPTIONS');
    const answer = salvageErrorResponse(broken, 400, 'CSeq mismatch')!;
    expect(answer).toContain('CSeq: 7 OPTIONS\r\n');
    expect(answer).toMatch(/To: <sip:bob@x>;tag=[0-9a-f]{16}\r\n/);
    expect((parseSipMessage(answer) as IncomingResponseMessage).statusCode).toBe(400);
    expect(salvageErrorResponse(broken.replace(/Call-ID: [^\r]*\r\n/, ''), 400, 'x')).toBeUndefined();
    expect(salvageErrorResponse('garbage', 400, 'x')).toBeUndefined();
  });
});

describe('Via received/rport (RFC 3581)', () => {
  it('fills rport and received when rport is asked for, leaves other Vias alone', () => {
    const stamped = stampTopVia(REQ, { address: '127.0.0.1', port: 40000 });
    const m = parseSipMessage(stamped);
    expect(m.getHeaders('via')[0]).toBe(
      'SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK-a;received=127.0.0.1;rport=40000, SIP/2.0/UDP p;branch=z9hG4bK-b',
    );
    expect(m.getHeaders('via')[1]).toBe('SIP/2.0/UDP q;branch=z9hG4bK-c');
  });

  it('stamps an already parsed request so that it says what a fresh parse of the stamped text says', () => {
    const parsed = parseSipMessage(REQ) as IncomingRequestMessage;
    const text = stampParsedRequest(parsed, REQ, { address: '127.0.0.1', port: 40000 });
    const fresh = parseSipMessage(text) as IncomingRequestMessage;
    expect(text).toBe(stampTopVia(REQ, { address: '127.0.0.1', port: 40000 }));
    expect(parsed.getHeaders('via')).toEqual(fresh.getHeaders('via'));
    expect(parsed.via).toEqual(fresh.via);
    expect(parsed.via).toMatchObject({ host: '10.0.0.1', port: 5070, received: '127.0.0.1', rport: '40000' });
    expect(parsed.viaBranch).toBe('z9hG4bK-a');
    expect(parsed.data).toBe(text);
    // Forged received/rport values and other parameters, with and without rport asked for.
    for (const top of [
      'SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK-f;received=6.6.6.6;rport=1;x=y;lr',
      'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-g;maddr=10.1.1.1;ttl=3',
      'SIP/2.0/UDP [::1]:5070;rport;branch=z9hG4bK-h;received=::9',
    ]) {
      const req = REQ.replace(/Via: [^,]*,/, `Via: ${top},`);
      const p2 = parseSipMessage(req) as IncomingRequestMessage;
      const t2 = stampParsedRequest(p2, req, { address: '127.0.0.1', port: 40001 });
      // (sip.js's grammar sets host_type from the last address it read, received=…, not from the host: not compared)
      const { host_type: _ours, ...mine } = p2.via as unknown as Record<string, unknown>;
      const { host_type: _fresh, ...theirs } = (parseSipMessage(t2) as IncomingRequestMessage).via as unknown as Record<
        string,
        unknown
      >;
      expect(mine).toEqual(theirs);
    }
  });

  it('adds received only when sent-by differs and rport was not asked for; replaces forged values', () => {
    const src = { address: '127.0.0.1', port: 5070 };
    expect(stampViaParm('SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1', src)).toBe(
      'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1',
    );
    expect(stampViaParm('SIP/2.0/UDP pc.example;branch=z9hG4bK1;received=1.2.3.4', src)).toBe(
      'SIP/2.0/UDP pc.example;branch=z9hG4bK1;received=127.0.0.1',
    );
    expect(stampViaParm('SIP/2.0/UDP [::1]:5070;rport=9;branch=z9hG4bK1', { address: '::1', port: 7 })).toBe(
      'SIP/2.0/UDP [::1]:5070;branch=z9hG4bK1;received=::1;rport=7',
    );
  });
});
