/** A deterministic, valid Store request (with one message extension) that corpus cases are cut from. */
import * as W from '../../src-main/reload/wire';

export function baseStoreRequest(): Uint8Array {
  const node = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
  const store = W.encodeBody(
    {
      method: 'store_req',
      value: {
        resource: Uint8Array.from({ length: 16 }, (_, i) => 0xf0 - i),
        replicaNumber: 0,
        kindData: [
          {
            kind: 1,
            generationCounter: 0n,
            values: [
              {
                storageTime: 1_700_000_000_000n,
                lifetime: 3600,
                value: {
                  model: 'dictionary',
                  key: node,
                  value: { exists: true, value: Uint8Array.from({ length: 25 }, (_, i) => i) },
                },
                signature: {
                  algorithm: { hash: 4, signature: 3 },
                  identity: { type: 'cert_hash', hashAlg: 4, hash: new Uint8Array(32).fill(7) },
                  value: new Uint8Array(70).fill(9),
                },
              },
            ],
          },
        ],
      },
    },
    16,
  );
  return W.encodeMessage(
    {
      header: {
        overlay: 0x9aa32b8d,
        configurationSequence: 1,
        version: 0x0a,
        ttl: 100,
        transactionId: 0x1122334455667788n,
        maxResponseLength: 0,
        viaList: [],
        destinationList: [{ type: 'node', id: node }],
        options: [],
      },
      contents: {
        code: store.code,
        body: store.bytes,
        extensions: [{ type: 0x1234, critical: false, contents: Uint8Array.of(1) }],
      },
      security: {
        certificates: [{ type: 0, certificate: new Uint8Array(40).fill(0x30) }],
        signature: {
          algorithm: { hash: 4, signature: 3 },
          identity: { type: 'cert_hash', hashAlg: 4, hash: new Uint8Array(32).fill(7) },
          value: new Uint8Array(70).fill(9),
        },
      },
    },
    { nodeIdLength: 16 },
  );
}
