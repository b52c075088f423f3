/**
 * The SIP-REGISTRATION value (RFC 7904 §3.2): either another AOR to forward to, or a route (contact
 * preferences and the destination list that reaches the registering node). Stored under Kind 0x1 in a
 * dictionary entry keyed by the registering Node-ID.
 */
import { readDestinations, writeDestinations, Reader, Writer, type DecodeContext, type Destination } from '../reload';

export type SipRegistration =
  /** `uri`: an AOR (stored without scheme). */
  | { type: 'uri'; uri: Uint8Array }
  /** `contactPrefs`: an RFC 3840 predicate, e.g. "(sip.schemes=SIPS)"; may be empty. */
  | { type: 'route'; contactPrefs: Uint8Array; destinations: Destination[] }
  /** A type this implementation does not know; kept verbatim thanks to the length field. */
  | { type: 'unknown'; code: number; data: Uint8Array };

export const SIP_REGISTRATION_KIND = 0x1;

export function readSipRegistration(r: Reader): SipRegistration {
  return r.named('SipRegistration', () => {
    const at = r.pos;
    const code = r.u8('type');
    if (code === 0) throw r.fail('invalid SipRegistrationType 0', 'type', at);
    const len = r.u16('length');
    return r.within(len, 'data', (inner): SipRegistration => {
      if (code === 1) return { type: 'uri', uri: inner.opaque(2, 0, 0xffff, 'uri') };
      if (code === 2) {
        const contactPrefs = inner.opaque(2, 0, 0xffff, 'contact_prefs');
        const destinations = inner.block(2, 3, 0xffff, 'destination_list', readDestinations);
        return { type: 'route', contactPrefs, destinations };
      }
      return { type: 'unknown', code, data: inner.fixed(len, 'data') };
    });
  });
}

export function writeSipRegistration(w: Writer, reg: SipRegistration, nodeIdLength: number): void {
  w.named('SipRegistration', () => {
    switch (reg.type) {
      case 'uri':
        w.u8(1);
        w.block(2, 0, 0xffff, 'data', (inner) => inner.opaque(2, 0, 0xffff, reg.uri, 'uri'));
        return;
      case 'route':
        w.u8(2);
        w.block(2, 0, 0xffff, 'data', (inner) => {
          inner.opaque(2, 0, 0xffff, reg.contactPrefs, 'contact_prefs');
          inner.block(2, 3, 0xffff, 'destination_list', (d) => writeDestinations(d, reg.destinations, nodeIdLength));
        });
        return;
      case 'unknown':
        if (reg.code < 3 || reg.code > 255) throw w.fail('unknown SipRegistrationType must be 3..255', 'type');
        w.u8(reg.code);
        w.opaque(2, 0, 0xffff, reg.data, 'data');
        return;
      default:
        throw w.fail(`unknown registration variant ${String((reg as { type: unknown }).type)}`, 'type');
    }
  });
}

export function encodeSipRegistration(reg: SipRegistration, nodeIdLength: number): Uint8Array {
  const w = new Writer(64);
  writeSipRegistration(w, reg, nodeIdLength);
  return w.finish();
}

/** Decodes a whole DataValue.value as one SipRegistration. */
export function decodeSipRegistration(bytes: Uint8Array, ctx: DecodeContext): SipRegistration {
  const r = new Reader(bytes, ctx);
  const reg = readSipRegistration(r);
  r.done('SipRegistration');
  return reg;
}
