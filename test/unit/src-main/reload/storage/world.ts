/**
 * Shared setup for the storage tests: real ECDSA identities issued by a test CA (plus one with two Node-IDs
 * and one from a CA the overlay does not trust), the overlay's Kinds, and helpers that sign values with
 * the real data-signature code and snapshot the stored state as encoded bytes.
 */
import { expect } from 'vitest';
import { createSigner, resourceIdFor, signStoredData, type Signer } from '../../../../../src-main/reload/crypto';
import { generateIdentityKeys, issueCertificate, type TrustPolicy } from '../../../../../src-main/reload/identity';
import {
  ARRAY_LAST,
  certificateSigners,
  dataSignerFor,
  type StorageError,
  StorageService,
  type DataSigner,
  type StorageKind,
  type StorageServiceOptions,
  type StoreContext,
} from '../../../../../src-main/reload/storage';
import * as W from '../../../../../src-main/reload/wire';
import { makeNodes, TEST_OVERLAY, type TestNode } from '../../../../support/node-identities';

export { TEST_OVERLAY };

export const KIND = {
  SIP: 0x1,
  TURN: 0x2,
  CERT_BY_NODE: 0x3,
  CERT_BY_USER: 0x10,
  /** A private single-value USER-MATCH Kind. */
  NOTE: 0xf0000010,
} as const;

export const KINDS: StorageKind[] = [
  {
    id: KIND.SIP,
    name: 'SIP-REGISTRATION',
    dataModel: 'DICTIONARY',
    accessControl: 'USER-NODE-MATCH',
    maxCount: 3,
    maxSize: 200,
  },
  {
    id: KIND.TURN,
    name: 'TURN-SERVICE',
    dataModel: 'SINGLE',
    accessControl: 'NODE-MULTIPLE',
    maxCount: 1,
    maxSize: 100,
    maxNodeMultiple: 5,
  },
  {
    id: KIND.CERT_BY_NODE,
    name: 'CERTIFICATE_BY_NODE',
    dataModel: 'ARRAY',
    accessControl: 'NODE-MATCH',
    maxCount: 4,
    maxSize: 300,
  },
  {
    id: KIND.CERT_BY_USER,
    name: 'CERTIFICATE_BY_USER',
    dataModel: 'ARRAY',
    accessControl: 'USER-MATCH',
    maxCount: 4,
    maxSize: 300,
  },
  { id: KIND.NOTE, dataModel: 'SINGLE', accessControl: 'USER-MATCH', maxCount: 1, maxSize: 64 },
];

/** A node that can sign: its certificate, its Signer and the DataSigner the storing peer will see. */
export interface Actor {
  node: TestNode;
  signer: Signer;
  ds: DataSigner;
  /** H(user name): where USER-MATCH and USER-NODE-MATCH let it write. */
  userResource: Uint8Array;
  /** H(Node-ID): where NODE-MATCH lets it write. */
  nodeResource: Uint8Array;
}

export interface World {
  policy: TrustPolicy;
  alice: Actor;
  bob: Actor;
  carol: Actor;
  /** One certificate with two Node-IDs, signing as the second (cert_hash_node_id). */
  multi: Actor & { nodeIds: [Uint8Array, Uint8Array] };
  /** The same certificate signing with cert_hash: it names no single Node-ID. */
  multiPlain: Actor;
  /** Issued by a CA the overlay does not trust. */
  stranger: Actor;
  /** Every certificate above, as a security block would carry them. */
  certificates: Uint8Array[];
}

export function actor(node: TestNode, signer: Signer, nodeId?: Uint8Array): Actor {
  const ds = dataSignerFor(node.identity, signer.identity);
  if (!ds) throw new Error('test setup: the signer does not name its own certificate');
  return {
    node,
    signer,
    ds,
    userResource: resourceIdFor(node.identity.userName),
    nodeResource: resourceIdFor(nodeId ?? node.nodeId),
  };
}

export async function makeWorld(): Promise<World> {
  const { ca, policy, nodes } = await makeNodes(3);
  const [a, b, c] = nodes as [TestNode, TestNode, TestNode];
  const mk = (n: TestNode) => actor(n, createSigner({ privateKey: n.privateKey, certificate: n.certificate }));

  const keys = await generateIdentityKeys('ecdsa');
  const nodeIds: [Uint8Array, Uint8Array] = [
    Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i),
    Uint8Array.from({ length: 16 }, (_, i) => 0xc0 + i),
  ];
  const { der } = await issueCertificate({
    ca,
    publicKey: keys.webcrypto.publicKey,
    userName: `multi@${TEST_OVERLAY}`,
    nodeIds,
    overlay: TEST_OVERLAY,
    validDays: 5,
  });
  const multiNode: TestNode = {
    nodeId: nodeIds[1],
    privateKey: keys.privateKey,
    certificate: der,
    identity: policy.validate(der),
  };
  const multi = {
    ...actor(
      multiNode,
      createSigner({ privateKey: keys.privateKey, certificate: der, multiNodeId: nodeIds[1] }),
      nodeIds[1],
    ),
    nodeIds,
  };
  const multiPlain = actor(multiNode, createSigner({ privateKey: keys.privateKey, certificate: der }), nodeIds[1]);

  const other = (await makeNodes(1)).nodes[0] as TestNode;
  const strangerSigner = createSigner({ privateKey: other.privateKey, certificate: other.certificate });
  // Its own CA's policy accepted it; ours will not.
  const stranger = actor(other, strangerSigner);

  return {
    policy,
    alice: mk(a),
    bob: mk(b),
    carol: mk(c),
    multi,
    multiPlain,
    stranger,
    certificates: [a.certificate, b.certificate, c.certificate, der, other.certificate],
  };
}

export const T0 = Date.now();

export function service(world: World, options: Partial<StorageServiceOptions> = {}): StorageService {
  return new StorageService({ kinds: KINDS, overlay: TEST_OVERLAY, ...options });
}

/** The context of a StoreReq signed by `requester` carrying every test certificate. */
export function ctx(world: World, requester: Actor, now = T0): StoreContext {
  return { requester: requester.ds, signers: certificateSigners(world.certificates, world.policy, now) };
}

const utf8 = new TextEncoder();

export function bytes(text: string): Uint8Array {
  return utf8.encode(text);
}

export interface ValueOptions {
  storageTime?: bigint;
  lifetime?: number;
  exists?: boolean;
}

let clockTick = 1_000n;
/** A fresh, increasing storage_time (ms), as a writer's clock would give. */
export function nextTime(): bigint {
  clockTick += 1_000n;
  return BigInt(T0) + clockTick;
}

function dataValue(payload: Uint8Array | string, exists: boolean): W.DataValue {
  return { exists, value: exists ? (typeof payload === 'string' ? bytes(payload) : payload) : new Uint8Array(0) };
}

export function signed(
  resource: Uint8Array,
  kind: number,
  by: Actor,
  value: W.StoredDataValue,
  o: ValueOptions = {},
): W.StoredData {
  return signStoredData(
    resource,
    kind,
    { storageTime: o.storageTime ?? nextTime(), lifetime: o.lifetime ?? 3600, value },
    by.signer,
  );
}

export function single(
  resource: Uint8Array,
  kind: number,
  by: Actor,
  payload: Uint8Array | string,
  o: ValueOptions = {},
) {
  return signed(resource, kind, by, { model: 'single', value: dataValue(payload, o.exists ?? true) }, o);
}

export function entry(
  resource: Uint8Array,
  kind: number,
  by: Actor,
  index: number,
  payload: Uint8Array | string,
  o: ValueOptions = {},
) {
  return signed(resource, kind, by, { model: 'array', index, value: dataValue(payload, o.exists ?? true) }, o);
}

export function dict(
  resource: Uint8Array,
  kind: number,
  by: Actor,
  key: Uint8Array,
  payload: Uint8Array | string,
  o: ValueOptions = {},
) {
  return signed(resource, kind, by, { model: 'dictionary', key, value: dataValue(payload, o.exists ?? true) }, o);
}

export function storeReq(
  resource: Uint8Array,
  kindData: { kind: number; values: (W.StoredData | W.OpaqueStoredData)[]; generation?: bigint }[],
  replicaNumber = 0,
): W.StoreReq {
  return {
    resource,
    replicaNumber,
    kindData: kindData.map((k) => ({ kind: k.kind, generationCounter: k.generation ?? 0n, values: k.values })),
  };
}

/** A specifier that returns everything stored for a Kind. */
export function everything(
  kind: number,
  generation = 0n,
  kinds: readonly StorageKind[] = KINDS,
): W.StoredDataSpecifier {
  const model = kinds.find((k) => k.id === kind)?.dataModel;
  const specifier: W.ModelSpecifier =
    model === 'ARRAY'
      ? { model: 'array', indices: [{ first: 0, last: ARRAY_LAST }] }
      : model === 'DICTIONARY'
        ? { model: 'dictionary', keys: [] }
        : { model: 'single' };
  return { kind, generation, specifier };
}

/** The stored state at some Resource-IDs as bytes: encoded Fetch and Stat answers for every Kind, plus usage. */
export function snapshot(svc: StorageService, resources: readonly Uint8Array[], now = T0): string {
  const parts: string[] = [];
  for (const resource of resources) {
    const known = KINDS.flatMap((k) => svc.kind(k.id) ?? []);
    const specifiers = known.map((k) => everything(k.id, 0n, known));
    const fetched = svc.fetch({ resource, specifiers }, now).answer;
    const stat = svc.stat({ resource, specifiers }, now);
    parts.push(W.toHex(W.encodeWith(W.writeFetchAns, fetched)), W.toHex(W.encodeWith(W.writeStatAns, stat)));
  }
  parts.push(JSON.stringify(svc.data.usage()));
  return parts.join('|');
}

/** Runs `fn`, expecting a StorageError of `type` answering `code`; returns it. */
export function refused<T extends StorageError>(
  fn: () => unknown,
  type: abstract new (...args: never[]) => T,
  code: number,
): T {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught, 'expected the request to be refused').toBeInstanceOf(type);
  const error = caught as T;
  expect(error.errorCode).toBe(code);
  return error;
}

/** The resource a NODE-MULTIPLE writer with this Node-ID uses for iteration i. */
export function nodeMultiple(nodeId: Uint8Array, i: number): Uint8Array {
  return resourceIdFor(Uint8Array.of(...nodeId, i));
}
