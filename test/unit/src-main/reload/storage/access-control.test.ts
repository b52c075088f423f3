/**
 * Access control policies (RFC 6940 §7.3, RFC 7904 §7): each accepts its rightful writer and refuses every
 * other one with Error_Forbidden, for the value's signer and (original stores) the StoreReq's signer;
 * replica stores check only the value's signer. A refused store changes nothing.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { resourceIdFor } from '../../../../../src-main/reload/crypto';
import {
  AccessDeniedError,
  NotResponsibleError,
  ReplicaRefusedError,
  StorageService,
} from '../../../../../src-main/reload/storage';
import { ErrorCode } from '../../../../../src-main/reload/wire';
import {
  ctx,
  dict,
  entry,
  KIND,
  KINDS,
  makeWorld,
  nodeMultiple,
  refused,
  service,
  single,
  snapshot,
  storeReq,
  T0,
  TEST_OVERLAY,
  type Actor,
  type World,
} from './world';

let w: World;
beforeAll(async () => {
  w = await makeWorld();
});

/** Stores one value signed by `by` in a request signed by `requester`; expects success. */
function accepts(
  svc: StorageService,
  resource: Uint8Array,
  kind: number,
  value: ReturnType<typeof single>,
  requester: Actor,
) {
  const result = svc.store(storeReq(resource, [{ kind, values: [value] }]), ctx(w, requester), T0);
  expect(result.answer.kindResponses).toEqual([{ kind, generationCounter: 1n, replicas: [] }]);
}

/** Expects Error_Forbidden from the policy, naming the Kind, and no change to what is stored. */
function forbids(
  svc: StorageService,
  resource: Uint8Array,
  kind: number,
  value: ReturnType<typeof single>,
  requester: Actor,
  who: RegExp,
) {
  const before = snapshot(svc, [resource]);
  const error = refused(
    () => svc.store(storeReq(resource, [{ kind, values: [value] }]), ctx(w, requester), T0),
    AccessDeniedError,
    ErrorCode.Forbidden,
  );
  expect(error.who).toMatch(who);
  expect(error.message).toContain(`Kind ${kind}`);
  expect(snapshot(svc, [resource])).toBe(before);
  return error;
}

describe('USER-MATCH (CERTIFICATE_BY_USER, and a single-value Kind)', () => {
  it('accepts the user whose name hashes to the Resource-ID', () => {
    const svc = service(w);
    accepts(
      svc,
      w.alice.userResource,
      KIND.CERT_BY_USER,
      entry(w.alice.userResource, KIND.CERT_BY_USER, w.alice, 0, 'cert'),
      w.alice,
    );
    accepts(svc, w.alice.userResource, KIND.NOTE, single(w.alice.userResource, KIND.NOTE, w.alice, 'hi'), w.alice);
    expect(w.alice.userResource).toEqual(resourceIdFor(w.alice.node.identity.userName));
  });

  it('refuses another user, as value signer and as StoreReq signer', () => {
    const svc = service(w);
    const r = w.alice.userResource;
    forbids(svc, r, KIND.CERT_BY_USER, entry(r, KIND.CERT_BY_USER, w.bob, 0, 'x'), w.bob, /signer of value #0/);
    forbids(svc, r, KIND.NOTE, single(r, KIND.NOTE, w.bob, 'x'), w.alice, /signer of value #0/);
    // Alice's value, but Bob sends the original store.
    const e = forbids(svc, r, KIND.NOTE, single(r, KIND.NOTE, w.alice, 'x'), w.bob, /StoreReq signer/);
    expect(e.policy).toBe('USER-MATCH');
    expect(e.reason).toContain(w.bob.node.identity.userName);
  });

  it('refuses a Node-ID hash where a user-name hash is required', () => {
    const svc = service(w);
    const r = w.alice.nodeResource;
    forbids(svc, r, KIND.NOTE, single(r, KIND.NOTE, w.alice, 'x'), w.alice, /signer of value/);
  });
});

describe('NODE-MATCH (CERTIFICATE_BY_NODE)', () => {
  it('accepts the node whose Node-ID hashes to the Resource-ID (cert_hash, one Node-ID)', () => {
    const svc = service(w);
    const r = w.alice.nodeResource;
    accepts(svc, r, KIND.CERT_BY_NODE, entry(r, KIND.CERT_BY_NODE, w.alice, 0, 'cert'), w.alice);
  });

  it('refuses other nodes and the user-name hash', () => {
    const svc = service(w);
    const r = w.alice.nodeResource;
    forbids(svc, r, KIND.CERT_BY_NODE, entry(r, KIND.CERT_BY_NODE, w.bob, 0, 'x'), w.bob, /signer of value/);
    forbids(svc, r, KIND.CERT_BY_NODE, entry(r, KIND.CERT_BY_NODE, w.alice, 0, 'x'), w.bob, /StoreReq signer/);
    const u = w.alice.userResource;
    forbids(svc, u, KIND.CERT_BY_NODE, entry(u, KIND.CERT_BY_NODE, w.alice, 0, 'x'), w.alice, /signer of value/);
  });

  it('with several Node-IDs: only the one cert_hash_node_id names counts; cert_hash names none', () => {
    const svc = service(w);
    const [first, second] = w.multi.nodeIds;
    const r2 = resourceIdFor(second);
    accepts(svc, r2, KIND.CERT_BY_NODE, entry(r2, KIND.CERT_BY_NODE, w.multi, 0, 'c'), w.multi);
    // The certificate also carries `first`, but the signature speaks for `second`.
    const r1 = resourceIdFor(first);
    forbids(svc, r1, KIND.CERT_BY_NODE, entry(r1, KIND.CERT_BY_NODE, w.multi, 0, 'c'), w.multi, /signer of value/);
    const e = forbids(
      svc,
      r2,
      KIND.CERT_BY_NODE,
      entry(r2, KIND.CERT_BY_NODE, w.multiPlain, 1, 'c'),
      w.multiPlain,
      /signer of value/,
    );
    expect(e.reason).toMatch(/names no single Node-ID/);
  });
});

describe('USER-NODE-MATCH (SIP-REGISTRATION)', () => {
  it('accepts the user at H(user name) with its own Node-ID as dictionary key', () => {
    const svc = service(w);
    const r = w.alice.userResource;
    accepts(svc, r, KIND.SIP, dict(r, KIND.SIP, w.alice, w.alice.node.nodeId, 'route'), w.alice);
  });

  it('refuses a key that is not the signer’s Node-ID, another user, and another StoreReq signer', () => {
    const svc = service(w);
    const r = w.alice.userResource;
    const wrongKey = forbids(
      svc,
      r,
      KIND.SIP,
      dict(r, KIND.SIP, w.alice, w.bob.node.nodeId, 'x'),
      w.alice,
      /signer of value/,
    );
    expect(wrongKey.reason).toMatch(/dictionary key/);
    // Bob registering his own Node-ID under Alice's AOR.
    forbids(svc, r, KIND.SIP, dict(r, KIND.SIP, w.bob, w.bob.node.nodeId, 'x'), w.bob, /signer of value/);
    // Alice's registration relayed in a StoreReq Bob signed.
    forbids(svc, r, KIND.SIP, dict(r, KIND.SIP, w.alice, w.alice.node.nodeId, 'x'), w.bob, /StoreReq signer/);
  });

  it('a multi-Node-ID certificate may register the Node-ID its signature names, not the other one', () => {
    const svc = service(w);
    const r = w.multi.userResource;
    const [first, second] = w.multi.nodeIds;
    accepts(svc, r, KIND.SIP, dict(r, KIND.SIP, w.multi, second, 'route'), w.multi);
    forbids(svc, r, KIND.SIP, dict(r, KIND.SIP, w.multi, first, 'route'), w.multi, /signer of value/);
  });

  it('the SIP domain restriction: the overlay domain, or the configured patterns (RFC 7904 §3.4)', () => {
    const sip = KINDS.find((k) => k.id === KIND.SIP)!;
    const r = w.alice.userResource;
    const make = (overlay: string, restriction: { enabled: boolean; patterns: string[] }) =>
      new StorageService({ kinds: [{ ...sip, sipDomainRestriction: restriction }], overlay });
    const value = () => dict(r, KIND.SIP, w.alice, w.alice.node.nodeId, 'route');
    accepts(make(TEST_OVERLAY, { enabled: false, patterns: [] }), r, KIND.SIP, value(), w.alice);
    accepts(
      make('x.org', { enabled: true, patterns: ['nothing\\.com', '.*\\.EXAMPLE\\.org'] }),
      r,
      KIND.SIP,
      value(),
      w.alice,
    );
    forbids(make('other.example.org', { enabled: false, patterns: [] }), r, KIND.SIP, value(), w.alice, /signer/);
    const e = forbids(
      make(TEST_OVERLAY, { enabled: true, patterns: ['example\\.org'] }),
      r,
      KIND.SIP,
      value(),
      w.alice,
      /signer/,
    );
    expect(e.reason).toMatch(/domain-restriction/);
  });
});

describe('NODE-MULTIPLE (TURN-SERVICE, max-node-multiple 5)', () => {
  it('accepts H(Node-ID ‖ i) for i = 1 … max', () => {
    for (const i of [1, 3, 5]) {
      const svc = service(w);
      const r = nodeMultiple(w.alice.node.nodeId, i);
      accepts(svc, r, KIND.TURN, single(r, KIND.TURN, w.alice, 'turn'), w.alice);
    }
  });

  it('refuses i = 0, i > max, another node, and another StoreReq signer', () => {
    const svc = service(w);
    for (const i of [0, 6]) {
      const r = nodeMultiple(w.alice.node.nodeId, i);
      forbids(svc, r, KIND.TURN, single(r, KIND.TURN, w.alice, 'turn'), w.alice, /signer of value/);
    }
    const r = nodeMultiple(w.alice.node.nodeId, 2);
    forbids(svc, r, KIND.TURN, single(r, KIND.TURN, w.bob, 'turn'), w.bob, /signer of value/);
    forbids(svc, r, KIND.TURN, single(r, KIND.TURN, w.alice, 'turn'), w.bob, /StoreReq signer/);
  });

  it('a Kind without max-node-multiple lets nobody write', () => {
    const turn = KINDS.find((k) => k.id === KIND.TURN)!;
    const svc = new StorageService({ kinds: [{ ...turn, maxNodeMultiple: undefined }] });
    const r = nodeMultiple(w.alice.node.nodeId, 1);
    const e = forbids(svc, r, KIND.TURN, single(r, KIND.TURN, w.alice, 'turn'), w.alice, /signer of value/);
    expect(e.reason).toMatch(/max-node-multiple/);
  });
});

describe('original and replica stores', () => {
  it('replica stores check the value signer only; the StoreReq may come from the replicating peer', () => {
    const svc = service(w);
    const r = w.alice.userResource;
    const value = dict(r, KIND.SIP, w.alice, w.alice.node.nodeId, 'route');
    const answer = svc.store(
      storeReq(r, [{ kind: KIND.SIP, values: [value], generation: 7n }], 1),
      ctx(w, w.carol),
      T0,
    );
    expect(answer.answer.kindResponses).toEqual([{ kind: KIND.SIP, generationCounter: 7n, replicas: [] }]);
    // …but the value itself must still satisfy the policy.
    const forged = dict(r, KIND.SIP, w.carol, w.carol.node.nodeId, 'evil');
    const before = snapshot(svc, [r]);
    refused(
      () => svc.store(storeReq(r, [{ kind: KIND.SIP, values: [forged], generation: 8n }], 1), ctx(w, w.carol), T0),
      AccessDeniedError,
      ErrorCode.Forbidden,
    );
    expect(snapshot(svc, [r])).toBe(before);
  });

  it('a replica store we do not expect is refused with Error_Forbidden', () => {
    const calls: [string, number][] = [];
    const svc = service(w, {
      acceptsReplica: (_resource, sender, n) => {
        calls.push([sender.identity.userName, n]);
        return false;
      },
    });
    const r = w.alice.userResource;
    const value = dict(r, KIND.SIP, w.alice, w.alice.node.nodeId, 'route');
    refused(
      () => svc.store(storeReq(r, [{ kind: KIND.SIP, values: [value], generation: 1n }], 2), ctx(w, w.carol), T0),
      ReplicaRefusedError,
      ErrorCode.Forbidden,
    );
    expect(calls).toEqual([[w.carol.node.identity.userName, 2]]);
    expect(svc.data.usage().entries).toBe(0);
  });

  it('an original store at a Resource-ID we are not responsible for gets Error_Not_Found', () => {
    const r = w.alice.userResource;
    const svc = service(w, { isResponsible: (id) => id[0] !== r[0] });
    const value = dict(r, KIND.SIP, w.alice, w.alice.node.nodeId, 'route');
    const e = refused(
      () => svc.store(storeReq(r, [{ kind: KIND.SIP, values: [value] }]), ctx(w, w.alice), T0),
      NotResponsibleError,
      ErrorCode.Not_Found,
    );
    expect(e.message).toContain(Buffer.from(r).toString('hex'));
    expect(svc.data.usage().entries).toBe(0);
  });

  it('StoreAns names the replica set for original stores', () => {
    const replica = Uint8Array.from({ length: 16 }, () => 7);
    const svc = service(w, { replicasFor: () => [replica] });
    const r = w.alice.userResource;
    const result = svc.store(
      storeReq(r, [{ kind: KIND.SIP, values: [dict(r, KIND.SIP, w.alice, w.alice.node.nodeId, 'x')] }]),
      ctx(w, w.alice),
      T0,
    );
    expect(result.answer.kindResponses[0]?.replicas).toEqual([replica]);
  });
});
