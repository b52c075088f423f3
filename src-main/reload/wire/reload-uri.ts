/**
 * RELOAD URIs (RFC 6940 §14.15): reload://<hex destination list>@<overlay>/[<hex StoredDataSpecifier>].
 * Certificates name each Node-ID as reload://0110<id>@<overlay>/ (one `node` destination).
 */
import { ReloadDecodeError } from './errors';
import { fromHex, toHex } from './ids';
import type { DecodeContext } from './limits';
import { readDestinations, writeDestinations, type Destination } from './destination';
import { Reader } from './reader';
import { readStoredDataSpecifier, writeStoredDataSpecifier, type StoredDataSpecifier } from './storage';
import { Writer } from './writer';

export interface ReloadUri {
  destinations: Destination[];
  overlay: string;
  specifier?: StoredDataSpecifier;
}

const URI = /^reload:\/\/([0-9a-fA-F]+)@([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)\/([0-9a-fA-F]*)$/;

export function parseReloadUri(uri: string, ctx: DecodeContext): ReloadUri {
  const match = URI.exec(uri);
  if (!match) throw new ReloadDecodeError(`not a RELOAD URI: "${uri.slice(0, 120)}"`, 0, ['ReloadUri']);
  const [, destHex = '', overlay = '', specHex = ''] = match;
  if (destHex.length % 2 || specHex.length % 2)
    throw new ReloadDecodeError('odd number of hex digits', 0, ['ReloadUri']);
  const destBytes = fromHex(destHex);
  const r = new Reader(destBytes, ctx);
  const destinations = r.named('ReloadUri.destination', readDestinations);
  if (destinations.length === 0) throw new ReloadDecodeError('empty destination', 0, ['ReloadUri']);
  const result: ReloadUri = { destinations, overlay: overlay.toLowerCase() };
  if (specHex) {
    const sr = new Reader(fromHex(specHex), ctx);
    result.specifier = sr.named('ReloadUri.specifier', readStoredDataSpecifier);
    sr.done('specifier');
  }
  return result;
}

export function formatReloadUri(uri: ReloadUri, nodeIdLength: number): string {
  const w = new Writer(64);
  w.named('ReloadUri.destination', () => writeDestinations(w, uri.destinations, nodeIdLength));
  let spec = '';
  if (uri.specifier) {
    const sw = new Writer(32);
    const specifier = uri.specifier;
    sw.named('ReloadUri.specifier', () => writeStoredDataSpecifier(sw, specifier));
    spec = toHex(sw.finish());
  }
  return `reload://${toHex(w.finish())}@${uri.overlay}/${spec}`;
}

/** The URI a certificate uses for one of its Node-IDs. */
export function nodeIdUri(nodeId: Uint8Array, overlay: string, nodeIdLength: number): string {
  return formatReloadUri({ destinations: [{ type: 'node', id: nodeId }], overlay }, nodeIdLength);
}
