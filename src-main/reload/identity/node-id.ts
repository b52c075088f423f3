/**
 * Node-IDs of self-signed identities (RFC 6940 §11.3.1): the high-order bytes of a digest of the DER
 * SubjectPublicKeyInfo; for several Node-IDs, digest(uint32_be(j) || SPKI) for j = 1..count.
 */
import { createHash } from 'node:crypto';

export type SelfSignedDigest = 'sha1' | 'sha256';

export function selfSignedNodeIds(
  spki: Uint8Array,
  digest: SelfSignedDigest,
  nodeIdLength: number,
  count = 1,
): Uint8Array[] {
  if (count === 1) return [new Uint8Array(createHash(digest).update(spki).digest().subarray(0, nodeIdLength))];
  return Array.from({ length: count }, (_, i) => {
    const j = Buffer.alloc(4);
    j.writeUInt32BE(i + 1);
    return new Uint8Array(createHash(digest).update(j).update(spki).digest().subarray(0, nodeIdLength));
  });
}
