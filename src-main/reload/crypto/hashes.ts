/** The overlay hash and Resource-IDs (RFC 6940 §6.3.2, §10.2). */
import { createHash } from 'node:crypto';

const utf8 = new TextEncoder();

/** `overlay` header field: the low 32 bits of SHA-1(overlay name), i.e. its last 4 bytes, big-endian. */
export function overlayHash(overlayName: string): number {
  const digest = createHash('sha1').update(utf8.encode(overlayName)).digest();
  return digest.readUInt32BE(16);
}

/**
 * CHORD-RELOAD Resource-ID: SHA-1 of the resource name truncated to its most significant `length` bytes
 * (128 bits). Names are hashed as their UTF-8 bytes (docs/decisions.md).
 */
export function resourceIdFor(name: string | Uint8Array, length = 16): Uint8Array {
  const bytes = typeof name === 'string' ? utf8.encode(name) : name;
  if (length < 1 || length > 20) throw new RangeError(`a SHA-1 Resource-ID has 1..20 bytes, not ${length}`);
  return new Uint8Array(createHash('sha1').update(bytes).digest().subarray(0, length));
}
