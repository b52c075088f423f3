import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SipMessageError } from '../../../../../src-main/sip/message/errors';
import { parseSipMessage } from '../../../../../src-main/sip/message/parse';
import { SipStreamFramer } from '../../../../../src-main/sip/message/stream-framer';

const SEED =
  'INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;rport;branch=z9hG4bK-1\r\nMax-Forwards: 70\r\n' +
  'From: "Al" <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>\r\nCall-ID: call-1\r\nCSeq: 1 INVITE\r\n' +
  'Contact: <sip:alice@127.0.0.1:5070>\r\nContent-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n';
const RESPONSE = SEED.replace('INVITE sip:bob@example.com SIP/2.0', 'SIP/2.0 180 Ringing');

/** Every outcome is a message or one of the typed errors: never a TypeError from inside sip.js. */
function typedOutcome(text: string): void {
  try {
    parseSipMessage(text);
  } catch (err) {
    if (!(err instanceof SipMessageError)) throw new Error(`untyped ${String(err)} for ${JSON.stringify(text)}`);
  }
}

const mutation = fc.tuple(
  fc.constantFrom(SEED, RESPONSE),
  fc.nat(),
  fc.nat(40),
  fc.string({
    unit: fc.constantFrom(':', ';', ',', '"', '<', '>', ' ', '\r\n', '\r\n ', '=', '0', 'z', '%', '\\', '\u0000', '@'),
    maxLength: 12,
  }),
);

describe('parseSipMessage under mutation', () => {
  it('only ever throws typed errors', () => {
    fc.assert(
      fc.property(mutation, ([seed, at, cut, insert]) => {
        const i = at % seed.length;
        typedOutcome(seed.slice(0, i) + insert + seed.slice(i + cut));
      }),
      { numRuns: 3000, seed: 11 },
    );
  });

  it('the stream framer only ever throws typed errors', () => {
    fc.assert(
      fc.property(mutation, ([seed, at, cut, insert]) => {
        const i = at % seed.length;
        try {
          new SipStreamFramer().push(Buffer.from(seed.slice(0, i) + insert + seed.slice(i + cut)));
        } catch (err) {
          expect(err).toBeInstanceOf(SipMessageError);
        }
      }),
      { numRuns: 2000, seed: 11 },
    );
  });
});
