/** Staged parsing: a forwarding peer touches only the header; the rest travels byte for byte. */
import { beforeAll, describe, expect, it } from 'vitest';
import { createSigner, signMessage, verifyMessage, type Signer } from '../../../../../src-main/reload/crypto';
import * as W from '../../../../../src-main/reload/wire';
import { makeIdentity, nodeIdOf, type TestIdentity } from '../../../../support/certs';

const ctx = W.decodeContext();
let id: TestIdentity;
let signer: Signer;

beforeAll(async () => {
  id = await makeIdentity('ecdsa', [nodeIdOf(1)]);
  signer = createSigner({ privateKey: id.privateKey, certificate: id.certificate });
});

function signedPing(): Uint8Array {
  return signMessage(
    {
      overlay: 7,
      configurationSequence: 2,
      version: 0x0a,
      ttl: 100,
      transactionId: 99n,
      maxResponseLength: 0,
      viaList: [],
      destinationList: [
        { type: 'node', id: nodeIdOf(5) },
        { type: 'compressed', id: 0x8abc },
      ],
      options: [{ type: 2, flags: 0, value: Uint8Array.of(1) }],
    },
    { body: { method: 'ping_req', value: { padding: new Uint8Array(8) } }, extensions: [] },
    signer,
    { nodeIdLength: 16 },
  );
}

describe('staged message handling', () => {
  it('a forwarding peer decrements TTL, appends itself to the via list and pops the destination', () => {
    const original = signedPing();
    const view = W.decodeHeader(original, ctx);
    const forwarded = W.replaceHeader(
      original,
      view,
      {
        ...view.header,
        ttl: view.header.ttl - 1,
        viaList: [...view.header.viaList, { type: 'node', id: nodeIdOf(5) }],
        destinationList: view.header.destinationList.slice(1),
      },
      { nodeIdLength: 16 },
    );
    const seen = W.decodeMessage(forwarded, ctx);
    expect(seen.header.ttl).toBe(99);
    expect(seen.header.viaList).toEqual([{ type: 'node', id: nodeIdOf(5) }]);
    expect(seen.header.destinationList).toEqual([{ type: 'compressed', id: 0x8abc }]);
    expect(seen.header.length).toBe(forwarded.length);
    // Everything after the header is the originator's bytes, so its signature still holds.
    expect(forwarded.subarray(W.decodeHeader(forwarded, ctx).headerLength)).toEqual(
      original.subarray(view.headerLength),
    );
    expect(verifyMessage(seen, id.publicKey)).toBe(true);
  });

  it('decodes the body through the table after the message, and signs the contents it wrote', () => {
    const message = W.decodeMessage(signedPing(), ctx);
    expect(W.decodeBody(message.contents.code, message.contents.body, ctx)).toEqual({
      method: 'ping_req',
      value: { padding: new Uint8Array(8) },
    });
    expect(message.header.options).toEqual([{ type: 2, flags: 0, value: Uint8Array.of(1) }]);
    expect(message.security.certificates[0]?.certificate).toEqual(id.certificate);
  });

  it('a message whose length field disagrees with the datagram, or a fragment, is not decoded whole', () => {
    const bytes = signedPing();
    expect(() => W.decodeMessage(bytes.subarray(0, bytes.length - 1), ctx)).toThrow(/does not match/);
    const [first] = W.fragmentMessage(
      W.encodeMessage(
        {
          header: W.decodeHeader(bytes, ctx).header,
          contents: { code: 0x17, body: new Uint8Array(900), extensions: [] },
          security: W.decodeMessage(bytes, ctx).security,
        },
        { nodeIdLength: 16 },
      ),
      600,
      W.decodeContext({ maxMessageSize: 2000 }),
    );
    expect(() => W.decodeMessage(first!, ctx)).toThrow(/reassemble it first/);
  });

  it('encoding refuses values outside their fields with the field named', () => {
    const header = W.decodeHeader(signedPing(), ctx).header;
    const bad = (h: Partial<W.ForwardingHeader>) => () =>
      W.encodeMessage(
        {
          header: { ...header, ...h },
          contents: { code: 0x17, body: new Uint8Array(), extensions: [] },
          security: { certificates: [], signature: W.NO_SIGNATURE },
        },
        { nodeIdLength: 16 },
      );
    expect(bad({ ttl: 256 })).toThrow(/ForwardingHeader\.ttl: 256 is not an integer in 0\.\.255/);
    expect(bad({ ttl: 1.5 })).toThrow(W.ReloadEncodeError);
    expect(bad({ transactionId: -1n })).toThrow(/transaction_id/);
    expect(bad({ destinationList: [] })).toThrow(/destination list is empty/);
    expect(bad({ destinationList: [{ type: 'node', id: new Uint8Array(15) }] })).toThrow(
      /destination_list\[0\]\.node_id: must be exactly 16 bytes/,
    );
    expect(bad({ fragment: 0x40000000 })).toThrow(/fragment bit 31/);
  });
});
