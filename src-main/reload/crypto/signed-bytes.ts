/**
 * Exactly which bytes a signature covers (RFC 6940 §6.3.4 and §7.1). The two points the RFC leaves open
 * for stored data are decided here and nowhere else (docs/decisions.md):
 *  - the Resource-ID enters as its raw bytes, without its 1-byte length prefix;
 *  - the Kind-ID enters as 4 bytes, big-endian (its wire width as a uint32).
 */
import {
  allocBytes,
  Writer,
  writeSignerIdentity,
  writeStoredDataValue,
  type SignerIdentity,
  type StoredDataValue,
} from '../wire';

/** Message signature input: overlay (4) || transaction_id (8) || MessageContents || SignerIdentity. */
export function messageSignatureInput(
  overlay: number,
  transactionId: bigint,
  contents: Uint8Array,
  signerIdentity: Uint8Array,
): Uint8Array {
  const out = allocBytes(12 + contents.length + signerIdentity.length);
  const view = new DataView(out.buffer, out.byteOffset, 12);
  view.setUint32(0, overlay >>> 0);
  view.setBigUint64(4, transactionId);
  out.set(contents, 12);
  out.set(signerIdentity, 12 + contents.length);
  return out;
}

export function encodeSignerIdentity(identity: SignerIdentity): Uint8Array {
  const w = new Writer(64);
  writeSignerIdentity(w, identity);
  return w.finish();
}

/**
 * Stored-data signature input: resource_id || kind || storage_time || StoredDataValue || SignerIdentity,
 * with an array entry's index set to 0 (so an append at 0xffffffff still verifies once placed).
 */
export function dataSignatureInput(
  resourceId: Uint8Array,
  kind: number,
  storageTime: bigint,
  value: StoredDataValue,
  identity: SignerIdentity,
): Uint8Array {
  const w = new Writer(64 + resourceId.length + value.value.value.length);
  w.raw(resourceId);
  w.u32(kind, 'kind');
  w.u64(storageTime, 'storage_time');
  writeStoredDataValue(w, value.model === 'array' ? { ...value, index: 0 } : value);
  writeSignerIdentity(w, identity);
  return w.finish();
}
