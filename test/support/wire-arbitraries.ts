/** fast-check generators for every RELOAD structure, shaped exactly as the decoder returns them. */
import fc from 'fast-check';
import * as W from '../../src-main/reload/wire';
import type { SipRegistration } from '../../src-main/sip/sip-registration';

export const NODE_ID_LENGTH = 16;
const KNOWN_KINDS = [0x1, 0x2, 0x3, 0x10, 0x104];
const MODEL: Record<number, 'single' | 'array' | 'dictionary'> = {
  1: 'dictionary',
  2: 'single',
  3: 'array',
  16: 'array',
  260: 'dictionary',
};

export const bytes = (max = 24, min = 0) => fc.uint8Array({ minLength: min, maxLength: max });
export const u8 = fc.integer({ min: 0, max: 0xff });
export const u16 = fc.integer({ min: 0, max: 0xffff });
export const u32 = fc.integer({ min: 0, max: 0xffffffff });
export const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
export const nodeId = fc.uint8Array({ minLength: NODE_ID_LENGTH, maxLength: NODE_ID_LENGTH });
export const kindId = fc.oneof(fc.constantFrom(...KNOWN_KINDS), fc.integer({ min: 0xf0000001, max: 0xfffffffe }));

export const destination: fc.Arbitrary<W.Destination> = fc.oneof(
  nodeId.map((id) => ({ type: 'node' as const, id })),
  bytes(32).map((id) => ({ type: 'resource' as const, id })),
  bytes(16).map((id) => ({ type: 'opaque' as const, id })),
  fc.integer({ min: 0x8000, max: 0xffff }).map((id) => ({ type: 'compressed' as const, id })),
  fc.record({ type: fc.constant('unknown' as const), code: fc.integer({ min: 4, max: 127 }), data: bytes(12) }),
);

export const forwardingOption: fc.Arbitrary<W.ForwardingOption> = fc.record({
  type: fc.integer({ min: 1, max: 255 }),
  flags: u8,
  value: bytes(20),
});

export const forwardingHeader: fc.Arbitrary<W.ForwardingHeader> = fc.record({
  overlay: u32,
  configurationSequence: u16,
  version: fc.constant(0x0a),
  ttl: u8,
  fragment: fc.constant(0xc0000000),
  length: fc.constant(0),
  transactionId: u64,
  maxResponseLength: u32,
  viaList: fc.array(destination, { maxLength: 4 }),
  destinationList: fc.array(destination, { minLength: 1, maxLength: 4 }),
  options: fc.array(forwardingOption, { maxLength: 3 }),
});

export const messageExtension: fc.Arbitrary<W.MessageExtension> = fc.record({
  type: fc.integer({ min: 1, max: 0xffff }),
  critical: fc.boolean(),
  contents: bytes(20),
});

export const signerIdentity: fc.Arbitrary<W.SignerIdentity> = fc.oneof(
  fc.record({ type: fc.constant('cert_hash' as const), hashAlg: u8, hash: bytes(32) }),
  fc.record({ type: fc.constant('cert_hash_node_id' as const), hashAlg: u8, hash: bytes(32) }),
  fc.constant({ type: 'none' as const }),
  fc.record({ type: fc.constant('unknown' as const), code: fc.integer({ min: 4, max: 255 }), value: bytes(16) }),
);

export const signature: fc.Arbitrary<W.Signature> = fc.record({
  algorithm: fc.record({ hash: u8, signature: u8 }),
  identity: signerIdentity,
  value: bytes(72),
});

export const securityBlock: fc.Arbitrary<W.SecurityBlock> = fc.record({
  certificates: fc.array(fc.record({ type: u8, certificate: bytes(64) }), { maxLength: 3 }),
  signature,
});

export const messageContents: fc.Arbitrary<W.MessageContents> = fc.record({
  code: fc.oneof(fc.integer({ min: 1, max: 0x7fff }), fc.constant(0xffff)),
  body: bytes(64),
  extensions: fc.array(messageExtension, { maxLength: 3 }),
});

export const ipAddressPort: fc.Arbitrary<W.IpAddressPort> = fc.oneof(
  fc.record({ family: fc.constant(4 as const), address: bytes(4, 4), port: u16 }),
  fc.record({ family: fc.constant(6 as const), address: bytes(16, 16), port: u16 }),
);

export const iceCandidate: fc.Arbitrary<W.IceCandidate> = fc
  .record({
    addrPort: ipAddressPort,
    overlayLink: fc.integer({ min: 1, max: 255 }),
    foundation: bytes(12),
    priority: u32,
    type: fc.constantFrom('host' as const, 'srflx' as const, 'prflx' as const, 'relay' as const),
    rel: ipAddressPort,
    extensions: fc.array(fc.record({ name: bytes(8), value: bytes(8) }), { maxLength: 2 }),
  })
  .map(({ rel, ...c }) => (c.type === 'host' ? c : { ...c, relAddrPort: rel }));

export const attachReqAns: fc.Arbitrary<W.AttachReqAns> = fc.record({
  ufrag: bytes(16),
  password: bytes(32),
  role: fc.constantFrom(new TextEncoder().encode('passive'), new TextEncoder().encode('active')),
  candidates: fc.array(iceCandidate, { maxLength: 3 }),
  sendUpdate: fc.boolean(),
});

export const appAttachReqAns: fc.Arbitrary<W.AppAttachReqAns> = fc.record({
  ufrag: bytes(16),
  password: bytes(32),
  application: u16,
  role: bytes(8),
  candidates: fc.array(iceCandidate, { maxLength: 3 }),
});

export const dataValue: fc.Arbitrary<W.DataValue> = fc.record({ exists: fc.boolean(), value: bytes(40) });

export function storedDataValue(model: 'single' | 'array' | 'dictionary'): fc.Arbitrary<W.StoredDataValue> {
  if (model === 'single') return dataValue.map((value) => ({ model, value }));
  if (model === 'array') return fc.record({ model: fc.constant(model), index: u32, value: dataValue });
  return fc.record({ model: fc.constant(model), key: bytes(20), value: dataValue });
}

export function storedDataFor(kind: number): fc.Arbitrary<W.StoredData | W.OpaqueStoredData> {
  const model = MODEL[kind];
  if (!model) return fc.record({ storageTime: u64, lifetime: u32, opaque: bytes(40) });
  return fc.record({ storageTime: u64, lifetime: u32, value: storedDataValue(model), signature });
}

const uniqueKinds = fc.uniqueArray(kindId, { maxLength: 3 });

export const storeReq: fc.Arbitrary<W.StoreReq> = fc.record({
  resource: bytes(20),
  replicaNumber: u8,
  kindData: uniqueKinds.chain((kinds) =>
    fc.tuple(
      ...kinds.map((kind) =>
        fc.record({
          kind: fc.constant(kind),
          generationCounter: u64,
          values: fc.array(storedDataFor(kind), { maxLength: 2 }),
        }),
      ),
    ),
  ),
});

export const storeAns: fc.Arbitrary<W.StoreAns> = fc.record({
  kindResponses: fc.array(
    fc.record({ kind: kindId, generationCounter: u64, replicas: fc.array(nodeId, { maxLength: 3 }) }),
    {
      maxLength: 3,
    },
  ),
});

export function specifierFor(kind: number): fc.Arbitrary<W.ModelSpecifier> {
  const model = MODEL[kind];
  if (model === 'single') return fc.constant({ model });
  if (model === 'array') {
    return fc.record({
      model: fc.constant(model),
      indices: fc.array(
        fc.tuple(u32, u32).map(([a, b]) => ({ first: Math.min(a, b), last: Math.max(a, b) })),
        { maxLength: 3 },
      ),
    });
  }
  if (model === 'dictionary')
    return fc.record({ model: fc.constant(model), keys: fc.array(bytes(16), { maxLength: 3 }) });
  return fc.record({ model: fc.constant('opaque' as const), bytes: bytes(16) });
}

export const storedDataSpecifier: fc.Arbitrary<W.StoredDataSpecifier> = kindId.chain((kind) =>
  fc.record({ kind: fc.constant(kind), generation: u64, specifier: specifierFor(kind) }),
);

export const fetchReq: fc.Arbitrary<W.FetchReq> = fc.record({
  resource: bytes(20),
  specifiers: fc.array(storedDataSpecifier, { maxLength: 3 }),
});

export const fetchAns: fc.Arbitrary<W.FetchAns> = fc.record({
  kindResponses: fc.array(
    kindId.chain((kind) =>
      fc.record({ kind: fc.constant(kind), generation: u64, values: fc.array(storedDataFor(kind), { maxLength: 3 }) }),
    ),
    { maxLength: 3 },
  ),
});

const metaData: fc.Arbitrary<W.MetaData> = fc.record({
  exists: fc.boolean(),
  valueLength: u32,
  hashAlgorithm: u8,
  hashValue: bytes(32),
});

export const statAns: fc.Arbitrary<W.StatAns> = fc.record({
  kindResponses: fc.array(
    kindId.chain((kind) => {
      const model = MODEL[kind];
      const value: fc.Arbitrary<W.StoredMetaData | W.OpaqueStoredMetaData> = !model
        ? fc.record({ storageTime: u64, lifetime: u32, opaque: bytes(30) })
        : fc.record({
            storageTime: u64,
            lifetime: u32,
            metadata:
              model === 'single'
                ? metaData.map((value) => ({ model, value }))
                : model === 'array'
                  ? fc.record({ model: fc.constant(model), index: u32, value: metaData })
                  : fc.record({ model: fc.constant(model), key: bytes(16), value: metaData }),
          });
      return fc.record({ kind: fc.constant(kind), generation: u64, values: fc.array(value, { maxLength: 2 }) });
    }),
    { maxLength: 3 },
  ),
});

export const findReq: fc.Arbitrary<W.FindReq> = fc.record({
  resource: bytes(20),
  kinds: fc.array(kindId, { maxLength: 63 }),
});
export const findAns: fc.Arbitrary<W.FindAns> = fc.record({
  results: fc.array(fc.record({ kind: kindId, closest: bytes(16) }), { maxLength: 4 }),
});

export const chordUpdate: fc.Arbitrary<W.ChordUpdate> = fc.oneof(
  fc.record({ uptime: u32, type: fc.constant('peer_ready' as const) }),
  fc.record({
    uptime: u32,
    type: fc.constant('neighbors' as const),
    predecessors: fc.array(nodeId, { maxLength: 3 }),
    successors: fc.array(nodeId, { maxLength: 3 }),
  }),
  fc.record({
    uptime: u32,
    type: fc.constant('full' as const),
    predecessors: fc.array(nodeId, { maxLength: 3 }),
    successors: fc.array(nodeId, { maxLength: 3 }),
    fingers: fc.array(nodeId, { maxLength: 16 }),
  }),
);

export const chordLeaveData: fc.Arbitrary<W.ChordLeaveData> = fc.oneof(
  fc.record({ type: fc.constant('from_succ' as const), successors: fc.array(nodeId, { maxLength: 3 }) }),
  fc.record({ type: fc.constant('from_pred' as const), predecessors: fc.array(nodeId, { maxLength: 3 }) }),
);

export const diagnosticsRequest: fc.Arbitrary<W.DiagnosticsRequest> = fc.record({
  expiration: u64,
  timestampInitiated: u64,
  dMFlags: u64,
  extensions: fc.array(fc.record({ kind: u16, contents: bytes(12) }), { maxLength: 3 }),
});

export const diagnosticsResponse: fc.Arbitrary<W.DiagnosticsResponse> = fc.record({
  expiration: u64,
  timestampInitiated: u64,
  timestampReceived: u64,
  hopCounter: u8,
  info: fc.array(fc.record({ kind: u16, contents: bytes(12) }), { maxLength: 3 }),
});

/** One body of every method, as `{method, value}`. */
export const body: fc.Arbitrary<W.Body> = fc.oneof(
  fc.record({
    method: fc.constant('probe_req' as const),
    value: fc.record({ requestedInfo: fc.array(fc.integer({ min: 1, max: 255 }), { maxLength: 5 }) }),
  }),
  fc.record({
    method: fc.constant('probe_ans' as const),
    value: fc.record({
      probeInfo: fc.array(
        fc.oneof(
          fc.record({
            type: fc.constantFrom('responsible_set' as const, 'num_resources' as const, 'uptime' as const),
            value: u32,
          }),
          fc.record({ type: fc.constant('unknown' as const), code: fc.integer({ min: 4, max: 255 }), data: bytes(8) }),
        ),
        { maxLength: 3 },
      ),
    }),
  }),
  fc.record({ method: fc.constantFrom('attach_req' as const, 'attach_ans' as const), value: attachReqAns }),
  fc.record({ method: fc.constantFrom('app_attach_req' as const, 'app_attach_ans' as const), value: appAttachReqAns }),
  fc.record({ method: fc.constant('store_req' as const), value: storeReq }),
  fc.record({ method: fc.constant('store_ans' as const), value: storeAns }),
  fc.record({ method: fc.constantFrom('fetch_req' as const, 'stat_req' as const), value: fetchReq }),
  fc.record({ method: fc.constant('fetch_ans' as const), value: fetchAns }),
  fc.record({ method: fc.constant('stat_ans' as const), value: statAns }),
  fc.record({ method: fc.constant('find_req' as const), value: findReq }),
  fc.record({ method: fc.constant('find_ans' as const), value: findAns }),
  fc.record({
    method: fc.constant('join_req' as const),
    value: fc.record({ joiningPeerId: nodeId, overlaySpecificData: bytes(16) }),
  }),
  fc.record({ method: fc.constant('join_ans' as const), value: fc.record({ overlaySpecificData: bytes(16) }) }),
  fc.record({
    method: fc.constant('leave_req' as const),
    value: fc.record({ leavingPeerId: nodeId, overlaySpecificData: bytes(40) }),
  }),
  fc.record({
    method: fc.constantFrom('leave_ans' as const, 'update_ans' as const, 'config_update_ans' as const),
    value: fc.constant({}),
  }),
  fc.record({ method: fc.constant('update_req' as const), value: chordUpdate }),
  fc.record({
    method: fc.constant('route_query_req' as const),
    value: fc.record({ sendUpdate: fc.boolean(), destination, overlaySpecificData: bytes(8) }),
  }),
  fc.record({ method: fc.constant('route_query_ans' as const), value: fc.record({ nextPeer: nodeId }) }),
  fc.record({ method: fc.constant('ping_req' as const), value: fc.record({ padding: bytes(100) }) }),
  fc.record({ method: fc.constant('ping_ans' as const), value: fc.record({ responseId: u64, time: u64 }) }),
  fc.record({
    method: fc.constant('config_update_req' as const),
    value: fc.oneof(
      fc.record({ type: fc.constant('config' as const), configData: bytes(100) }),
      fc.record({ type: fc.constant('kind' as const), kinds: fc.array(bytes(40), { maxLength: 3 }) }),
    ),
  }),
  fc.record({
    method: fc.constant('path_track_req' as const),
    value: fc.record({ destination, request: diagnosticsRequest }),
  }),
  fc.record({
    method: fc.constant('path_track_ans' as const),
    value: fc.record({ nextHop: destination, response: diagnosticsResponse }),
  }),
  fc.record({
    method: fc.constant('error' as const),
    value: fc.record({ errorCode: fc.integer({ min: 1, max: 0xffff }), errorInfo: bytes(40) }),
  }),
);

export const framedMessage: fc.Arbitrary<W.FramedMessage> = fc.oneof(
  fc.record({ type: fc.constant('data' as const), sequence: u32, message: bytes(200) }),
  fc.record({ type: fc.constant('ack' as const), ackSequence: u32, received: u32 }),
);

export const sipRegistration: fc.Arbitrary<SipRegistration> = fc.oneof(
  fc.record({ type: fc.constant('uri' as const), uri: bytes(40) }),
  fc.record({
    type: fc.constant('route' as const),
    contactPrefs: bytes(24),
    // destination_list<3..2^16-1>: a lone 2-byte destination is too short.
    destinations: fc
      .array(destination, { minLength: 1, maxLength: 3 })
      .filter(
        (ds) => W.encodeWith((w, v: W.Destination[]) => W.writeDestinations(w, v, NODE_ID_LENGTH), ds).length >= 3,
      ),
  }),
  fc.record({ type: fc.constant('unknown' as const), code: fc.integer({ min: 3, max: 255 }), data: bytes(16) }),
);
