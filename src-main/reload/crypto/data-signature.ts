/** Signatures on stored values (RFC 6940 §7.1): made by the value's owner, checked on store and on fetch. */
import type { KeyObject } from 'node:crypto';
import type { StoredData, StoredDataValue } from '../wire';
import { dataSignatureInput } from './signed-bytes';
import { verifySignature, type Signer } from './signer';

export interface UnsignedStoredData {
  storageTime: bigint;
  lifetime: number;
  value: StoredDataValue;
}

export function signStoredData(
  resourceId: Uint8Array,
  kind: number,
  data: UnsignedStoredData,
  signer: Signer,
): StoredData {
  const input = dataSignatureInput(resourceId, kind, data.storageTime, data.value, signer.identity);
  return {
    ...data,
    signature: { algorithm: signer.algorithm, identity: signer.identity, value: signer.sign(input) },
  };
}

export function verifyStoredData(
  resourceId: Uint8Array,
  kind: number,
  data: StoredData,
  publicKey: KeyObject,
): boolean {
  const input = dataSignatureInput(resourceId, kind, data.storageTime, data.value, data.signature.identity);
  return verifySignature(data.signature, input, publicKey);
}
