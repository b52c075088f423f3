/**
 * RFC 4475 torture messages (reconstructed from the RFC's case list; the RFC text is not available here),
 * each sent over real UDP and TCP to the local SIP interface on 127.0.0.1. Valid-but-weird requests reach
 * the handler (which answers 200); invalid ones get the error status, or are dropped when the request cannot
 * be answered; after every case the interface still answers a plain OPTIONS.
 */
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { constructOutgoingResponse } from 'sip.js/lib/core/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipStreamFramer } from '../../src-main/sip/message/stream-framer';
import { IncomingRequestMessage, type SipMessage } from '../../src-main/sip/message/parse';
import { LocalSipInterface } from '../../src-main/sip/local/local-sip-interface';

/** `{CL}` becomes the byte length of what follows the blank line. */
function m(lines: string[], body = ''): string {
  const head = lines.join('\r\n').replace('{CL}', String(Buffer.byteLength(body)));
  return `${head}\r\n\r\n${body}`;
}
const base = (method: string, uri = 'sip:user@example.com', cseqMethod = method) => [
  `${method} ${uri} SIP/2.0`,
  'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-torture',
  'Max-Forwards: 70',
  'From: <sip:caller@example.net>;tag=98asjd8',
  'To: <sip:user@example.com>',
  'Call-ID: torture.call@192.0.2.1',
  `CSeq: 8 ${cseqMethod}`,
];
const replace = (lines: string[], prefix: string, line: string) => lines.map((l) => (l.startsWith(prefix) ? line : l));

const SDP =
  'v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.3\r\ns=-\r\nc=IN IP4 192.0.2.4\r\nt=0 0\r\nm=audio 49217 RTP/AVP 0 12\r\nm=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n';

/** 'answer' = the handler answered 200; a number = that error status from the interface; 'drop' = no reply. */
type Outcome = 'answer' | number | 'drop' | 'delivered';
interface Case {
  name: string;
  text: string;
  udp: Outcome;
  tcp?: Outcome;
}

const cases: Case[] = [
  // --- valid but unusual: must reach the handler -------------------------------------------------------
  {
    name: 'wsinv (whitespace, folding, compact forms)',
    text: m(
      [
        'INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0',
        'TO :',
        ' sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n',
        'from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>',
        '  ;',
        '  tag = 98asjd8',
        'MaX-fOrWaRdS: 0068',
        'Call-ID: wsinv.ndaksdj@192.0.2.1',
        'Content-Length   : {CL}',
        'cseq: 0009',
        '  INVITE',
        'Via  : SIP  /   2.0',
        ' /UDP',
        '    192.0.2.2;branch=390skdjuw',
        's :',
        'NewFangledHeader:   newfangled value',
        ' continued newfangled value',
        'UnknownHeaderWithUnusualValue: ;;,,;;,;',
        'Content-Type: application/sdp',
        'Route:',
        ' <sip:services.example.com;lr;unknownwith=value;unknown-no-value>',
        'v:  SIP  / 2.0  / TCP     spindle.example.com   ;',
        '  branch  =   z9hG4bK9ikj8  ,',
        ' SIP  /    2.0   / UDP  192.168.255.111   ; branch=',
        ' z9hG4bK30239',
        'm:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =',
        '      newvalue ;',
        '  secondparam ; q = 0.33',
      ],
      SDP,
    ),
    udp: 'answer',
  },
  {
    name: 'intmeth (unusual method token)',
    text: m([
      "!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0",
      "Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~",
      'To: "BEL:\\\x07 NUL:\\\x00 DEL:\\\x7F" <sip:1_unusual.URI~(to-be!sure)&isn\'t+it$/crazy?,/;;*@example.com>',
      "From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=\"работающий\";tag=_token~1'+`*%!-.",
      'Call-ID: intmeth.word%ZK-!.*_+\'@word`~)(><:\\/"][?}{',
      "CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~",
      'Max-Forwards: 255',
      "extensionHeader-!.%*+_`'~:﻿大停電",
      'Content-Length: {CL}',
    ]),
    // NUL, BEL and DEL as quoted-pairs in the display name are legal (RFC 3261 §25.1).
    udp: 'answer',
  },
  {
    name: 'bare control character (NUL outside a quoted-pair)',
    text: m([...base('OPTIONS'), 'Subject: a\x00b', 'Content-Length: {CL}']),
    udp: 400,
  },
  {
    name: 'esc01 (escaped characters in URIs)',
    text: m([
      ...replace(base('INVITE', 'sip:sips%3Auser%40example.com@example.net'), 'To:', 'To: sip:%75se%72@example.com'),
      'Contact: <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>',
      'Content-Length: {CL}',
    ]),
    udp: 'answer',
  },
  {
    name: 'escnull (escaped NUL in URIs)',
    text: m([
      ...replace(base('REGISTER', 'sip:example.com'), 'To:', 'To: sip:null-%00-null@example.com'),
      'Contact: <sip:%00@host5.example.com>',
      'Contact: <sip:%00%00@host5.example.com>',
      'Content-Length: {CL}',
    ]),
    udp: 'answer',
  },
  {
    name: 'lwsdisp (no LWS between display name and <)',
    text: m([
      ...replace(base('OPTIONS'), 'From:', 'From: caller<sip:caller@example.com>;tag=323'),
      'Content-Length: {CL}',
    ]),
    udp: 'answer',
  },
  {
    name: 'longreq (long headers within the limits)',
    text: m([
      ...replace(
        base('INVITE'),
        'To:',
        `To: "${'I have a user name of extreme length '.repeat(20)}" <sip:user@example.com>`,
      ),
      ...Array.from({ length: 20 }, (_, i) => `Via: SIP/2.0/TCP sip${i}.example.com;branch=z9hG4bK-${'x'.repeat(200)}`),
      `x-Long: ${'a'.repeat(3000)}`,
      `Record-Route: ${Array.from({ length: 10 }, (_, i) => `<sip:${'w'.repeat(50)}${i}.example.com;lr>`).join(', ')}`,
      'Content-Length: {CL}',
    ]),
    udp: 'answer',
  },
  {
    name: 'dblreq (a second request after Content-Length is ignored on UDP)',
    text:
      m([...base('REGISTER', 'sip:example.com'), 'Content-Length: {CL}']) +
      m([...replace(base('INVITE'), 'Call-ID:', 'Call-ID: dblreq-second'), 'Content-Length: {CL}']),
    udp: 'answer',
  },
  {
    name: 'semiuri (semicolon-separated user part)',
    text: m([...base('OPTIONS', 'sip:user;par=u%40example.net@example.com'), 'Content-Length: {CL}']),
    udp: 'answer',
  },
  {
    name: 'transports (unknown transports in Via)',
    text: m([
      ...base('OPTIONS'),
      'Via: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf',
      'Via: SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj',
      'Via: SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en',
      'Via: SIP/2.0/TCP t5.example.com;branch=z9hG4bK0a9idfnee',
      'Content-Length: {CL}',
    ]),
    udp: 'answer',
  },
  {
    name: 'mpart01 (multipart body)',
    text: m(
      [...base('MESSAGE'), 'Content-Type: multipart/mixed;boundary=7a9cbec02ceef655', 'Content-Length: {CL}'],
      '--7a9cbec02ceef655\r\nContent-Type: text/plain\r\n\r\nhello\r\n--7a9cbec02ceef655\r\nContent-Type: application/octet-stream\r\n\r\n\u00ff\u00fe\r\n--7a9cbec02ceef655--\r\n',
    ),
    udp: 'answer',
  },
  {
    name: 'cparam (Contact with unknown parameters)',
    text: m([
      ...base('REGISTER', 'sip:example.com'),
      'Contact: <sip:+19725552222@gw1.example.net;unknownparam>;expires=3600;q=0.5;unknownparam2',
      'Content-Length: {CL}',
    ]),
    udp: 'answer',
  },
  {
    name: 'regaut01 (Authorization with an unknown scheme)',
    text: m([
      ...base('REGISTER', 'sip:example.com'),
      'Authorization: NoOneKnowsThisScheme opaque-data=here',
      'Content-Length: {CL}',
    ]),
    udp: 'answer',
  },
  {
    name: 'bext01 (Require is left to the UAS; the interface passes it on)',
    text: m([...base('OPTIONS'), 'Require: nothingSupportsThis, nothingSupportsThisEither', 'Content-Length: {CL}']),
    udp: 'answer',
  },
  {
    name: 'baddate (non-GMT Date: a proxy passes Date through, RFC 4475 allows ignoring it)',
    text: m([...base('INVITE'), 'Date: Fri, 01 Jan 2010 16:00:00 EST', 'Content-Length: {CL}']),
    udp: 'answer',
  },
  {
    name: 'unreason (response with an unusual reason phrase)',
    text: m([
      'SIP/2.0 200 = 2**3 * 5**2 но сто девяносто девять - простое',
      ...base('INVITE').slice(1),
      'Content-Length: {CL}',
    ]),
    udp: 'delivered',
  },
  {
    name: 'noreason (response with an empty reason phrase)',
    text: m(['SIP/2.0 100 ', ...base('INVITE').slice(1), 'Content-Length: {CL}']),
    udp: 'delivered',
  },
  // --- invalid: error response, or dropped -------------------------------------------------------------
  {
    name: 'badinv01 (garbage Via parameters)',
    text: m([...replace(base('INVITE'), 'Via:', 'Via: SIP/2.0/UDP 192.0.2.15;;,;,,'), 'Content-Length: {CL}']),
    udp: 400,
  },
  {
    name: 'clerr (Content-Length larger than the body)',
    text: m([...base('INVITE'), 'Content-Type: application/sdp', 'Content-Length: 9999'], SDP),
    udp: 400,
    // On a stream the framer waits for the 9999 bytes: nothing to answer until then.
    tcp: 'drop',
  },
  {
    name: 'scalar02 (Max-Forwards 300, CSeq and Expires too large)',
    text: m([
      ...replace(
        replace(base('REGISTER', 'sip:example.com'), 'Max-Forwards:', 'Max-Forwards: 300'),
        'CSeq:',
        'CSeq: 36893488147419103232 REGISTER',
      ),
      'Expires: 1 0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000',
      'Contact: <sip:user@host129.example.com>;expires=280297596632815',
      'Content-Length: {CL}',
    ]),
    udp: 400,
  },
  {
    name: 'scalarlg (Expires beyond 2^32-1)',
    text: m([...base('REGISTER', 'sip:example.com'), 'Expires: 4294967296', 'Content-Length: {CL}']),
    udp: 400,
  },
  {
    name: 'quotbal (unterminated quoted string)',
    text: m([
      ...replace(base('INVITE'), 'From:', 'From: "Mr. J. User <sip:j.user@example.com>;tag=93334'),
      'Content-Length: {CL}',
    ]),
    udp: 400,
  },
  {
    name: 'ltgtruri (<> around the Request-URI)',
    text: m([...base('INVITE', '<sip:user@example.com>'), 'Content-Length: {CL}']),
    udp: 400,
  },
  {
    name: 'lwsruri (LWS inside the Request-URI)',
    text: m([...base('INVITE', 'sip:user@example.com; lr'), 'Content-Length: {CL}']),
    udp: 400,
  },
  {
    name: 'lwsstart (several spaces in the Request-Line)',
    text: m([...replace(base('INVITE'), 'INVITE', 'INVITE  sip:user@example.com  SIP/2.0'), 'Content-Length: {CL}']),
    udp: 400,
  },
  {
    name: 'trws (trailing whitespace after the Request-Line)',
    text: m([...replace(base('OPTIONS'), 'OPTIONS', 'OPTIONS sip:user@example.com SIP/2.0  '), 'Content-Length: {CL}']),
    udp: 400,
  },
  {
    name: 'escruri (headers part in the Request-URI)',
    text: m([...base('INVITE', 'sip:user@example.com?Route=%3Csip:example.com%3E'), 'Content-Length: {CL}']),
    udp: 400,
  },
  {
    name: 'regbadct (Contact with a headers part outside <>)',
    text: m([
      ...base('REGISTER', 'sip:example.com'),
      'Contact: sip:user@example.com?Route=%3Csip:sip.example.com%3E',
      'Content-Length: {CL}',
    ]),
    udp: 400,
  },
  {
    name: 'badaspec (LWS inside <> of To)',
    text: m([
      ...replace(base('OPTIONS'), 'To:', 'To: "Watson, Thomas" < sip:t.watson@example.org >'),
      'Content-Length: {CL}',
    ]),
    udp: 400,
  },
  {
    name: 'baddn (unquoted display name with a comma)',
    text: m([
      ...replace(base('OPTIONS'), 'From:', 'From: Bell, Alexander <sip:a.g.bell@example.com>;tag=43'),
      'Content-Length: {CL}',
    ]),
    udp: 400,
  },
  {
    name: 'badvers (SIP/7.0)',
    text: m([
      ...replace(base('OPTIONS'), 'OPTIONS', 'OPTIONS sip:t.watson@example.org SIP/7.0'),
      'Content-Length: {CL}',
    ]),
    udp: 505,
  },
  {
    name: 'mismatch01 (CSeq method differs from the method)',
    text: m([...base('OPTIONS', 'sip:user@example.com', 'INVITE'), 'Content-Length: {CL}']),
    udp: 400,
  },
  {
    name: 'mismatch02 (unknown method with another CSeq method)',
    text: m([...base('NEWMETHOD', 'sip:user@example.com', 'INVITE'), 'Content-Length: {CL}']),
    udp: 400,
  },
  {
    name: 'bigcode (status code 4294967301)',
    text: m(['SIP/2.0 4294967301 better not break the receiver', ...base('INVITE').slice(1), 'Content-Length: {CL}']),
    udp: 'drop',
  },
  {
    name: 'badbranch (branch is only the magic cookie)',
    text: m([...replace(base('OPTIONS'), 'Via:', 'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK'), 'Content-Length: {CL}']),
    udp: 400,
  },
  {
    name: 'badbranch2 (branch parameter twice)',
    text: m([
      ...replace(base('OPTIONS'), 'Via:', 'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa;branch=z9hG4bKb'),
      'Content-Length: {CL}',
    ]),
    udp: 400,
  },
  {
    name: 'insuf (From, To and Call-ID missing: nothing to answer with)',
    text: m([...base('INVITE').filter((l) => !/^(From|To|Call-ID):/.test(l)), 'Content-Length: {CL}']),
    udp: 'drop',
  },
  {
    name: 'insuf-maxfwd (only Max-Forwards missing: answerable)',
    text: m([...base('INVITE').filter((l) => !l.startsWith('Max-Forwards')), 'Content-Length: {CL}']),
    udp: 400,
  },
  {
    name: 'unksm (unknown Request-URI scheme)',
    text: m([...base('OPTIONS', 'nobarnobarnobarnobarnobarnobar:user@example.com'), 'Content-Length: {CL}']),
    udp: 416,
  },
  {
    name: 'novelsc (atypical scheme soap.beep)',
    text: m([...base('OPTIONS', 'soap.beep://192.0.2.103:3002'), 'Content-Length: {CL}']),
    udp: 416,
  },
  {
    name: 'dup Content-Length',
    text: m([...base('OPTIONS'), 'Content-Length: {CL}', 'l: 5']),
    udp: 400,
    // Framing refuses it and closes the connection.
    tcp: 'drop',
  },
  {
    name: 'garbage',
    text: 'this is not SIP at all\r\n\r\n',
    udp: 'drop',
    tcp: 'drop',
  },
];

const OPTIONS_OK = m([...base('OPTIONS'), 'Content-Length: {CL}']);

let sip: LocalSipInterface;
const delivered: SipMessage[] = [];

beforeAll(async () => {
  sip = await LocalSipInterface.start({ port: 0 });
  sip.onMessage((message, transport) => {
    delivered.push(message);
    if (message instanceof IncomingRequestMessage && message.method !== 'ACK') {
      void transport.send(constructOutgoingResponse(message, { statusCode: 200 }).message);
    }
  });
});
afterAll(() => sip.close());

function udpExchange(text: string, waitMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => finish(undefined), waitMs);
    const finish = (v: string | undefined) => {
      clearTimeout(timer);
      s.close();
      resolve(v);
    };
    s.on('message', (d) => finish(d.toString('utf8')));
    s.bind(0, '127.0.0.1', () => s.send(Buffer.from(text), sip.port, '127.0.0.1'));
  });
}

function tcpExchange(text: string, waitMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const framer = new SipStreamFramer();
    const s = connect({ host: '127.0.0.1', port: sip.port }, () => s.write(text));
    const timer = setTimeout(() => finish(undefined), waitMs);
    const finish = (v: string | undefined) => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    s.on('data', (d) => {
      const first = framer.push(d).find((e) => e.type === 'message');
      if (first?.type === 'message') finish(first.text);
    });
    s.on('close', () => finish(undefined));
    s.on('error', () => finish(undefined));
  });
}

const statusOf = (response: string | undefined) =>
  response ? Number(/^SIP\/2\.0 (\d{3}) /.exec(response)?.[1]) : undefined;

describe.each([
  ['UDP', udpExchange],
  ['TCP', tcpExchange],
] as const)('RFC 4475 torture over %s', (transport, exchange) => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const expected = transport === 'TCP' && c.tcp !== undefined ? c.tcp : c.udp;
    const before = delivered.length;
    const waitMs = expected === 'drop' || expected === 'delivered' ? 300 : 3000;
    const response = await exchange(c.text, waitMs);
    if (expected === 'answer') {
      expect(statusOf(response)).toBe(200);
    } else if (expected === 'delivered') {
      expect(response).toBeUndefined();
      expect(delivered.length).toBe(before + 1);
    } else if (expected === 'drop') {
      expect(response).toBeUndefined();
      expect(delivered.length).toBe(before);
    } else {
      expect(response?.split('\r\n')[0]).toMatch(new RegExp(`^SIP/2\\.0 ${expected} `));
      expect(delivered.length).toBe(before);
    }
    // The interface still answers a plain OPTIONS afterwards.
    expect(statusOf(await exchange(OPTIONS_OK, 3000))).toBe(200);
  });
});
