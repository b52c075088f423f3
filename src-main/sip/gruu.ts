/**
 * GRUUs of the SIP usage (RFC 7904 §8): the destination list that reaches a device, base64-encoded with
 * RFC 4648's standard alphabet but `~` instead of `=`, in the `gr` parameter of the AOR. A GRUU needs no
 * storage: the caller decodes it and routes straight to the list.
 */
import {
  readDestinations,
  ReloadDecodeError,
  ReloadEncodeError,
  writeDestinations,
  Reader,
  Writer,
  type DecodeContext,
  type Destination,
} from '../reload';

const GR = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}~~|[A-Za-z0-9+/]{3}~)?$/;

/** base64 (standard alphabet) with `~` for the `=` padding. */
export function encodeGrParameter(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64').replace(/=/g, '~');
}

export function decodeGrParameter(gr: string): Uint8Array {
  if (!GR.test(gr)) throw new ReloadDecodeError('gr parameter is not base64 with ~ padding', 0, ['GRUU', 'gr']);
  return new Uint8Array(Buffer.from(gr.replace(/~/g, '='), 'base64'));
}

export function encodeGruuDestinations(destinations: readonly Destination[], nodeIdLength: number): string {
  if (destinations.length === 0) throw new ReloadEncodeError('a GRUU needs at least one destination', ['GRUU']);
  const w = new Writer(64);
  writeDestinations(w, destinations, nodeIdLength);
  return encodeGrParameter(w.finish());
}

export function decodeGruuDestinations(gr: string, ctx: DecodeContext): Destination[] {
  const r = new Reader(decodeGrParameter(gr), ctx);
  const destinations = r.named('GRUU', readDestinations);
  if (destinations.length === 0) throw new ReloadDecodeError('empty destination list', 0, ['GRUU']);
  return destinations;
}

/** `alice@example.com;gr=<encoded list>` */
export function gruuFor(aor: string, destinations: readonly Destination[], nodeIdLength: number): string {
  return `${aor};gr=${encodeGruuDestinations(destinations, nodeIdLength)}`;
}
