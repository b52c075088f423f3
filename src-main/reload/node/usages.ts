/**
 * The two usages every RELOAD peer runs (RFC 6940 §8, §9): its certificate stored under CERTIFICATE_BY_USER
 * (at H(user name)) and CERTIFICATE_BY_NODE (at H(Node-ID)), and TURN-SERVICE: a peer that knows a TURN
 * relay it may offer advertises it at H(Node-ID ‖ d) for d = 1..turn-density; others find relays with Find
 * at random Resource-IDs and Fetch what it names.
 */
import { resourceIdFor } from '../crypto';
import { readCertificate } from '../identity';
import { toIpAddressPort } from '../link/ip-address';
import { encodeWith, Reader, readTurnServer, writeTurnServer, type DecodeContext, type TurnServer } from '../wire';
import type { NodeStorage } from './node-storage';

export const KIND_CERTIFICATE_BY_NODE = 0x3;
export const KIND_CERTIFICATE_BY_USER = 0x10;
export const KIND_TURN_SERVICE = 0x2;

/** Certificates are re-published by the owner's refresh; a day of lifetime bridges a long outage. */
const CERTIFICATE_LIFETIME_S = 86_400;
const TURN_LIFETIME_S = 3_600;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Stores our certificate (DER) under both certificate Kinds. Our current certificate sits at array index 0,
 * so the owner's periodic refresh replaces it instead of appending copies (docs/decisions.md).
 */
export async function publishCertificate(
  storage: NodeStorage,
  certificate: Uint8Array,
  overlay: string,
  nodeIdLength: number,
): Promise<void> {
  const info = readCertificate(certificate, overlay, nodeIdLength);
  const userName = info.userNames[0];
  const nodeId = info.nodeIds[0];
  if (!userName || !nodeId) throw new UsageError('the certificate carries no user name or Node-ID for this overlay');
  const entry = [
    {
      lifetime: CERTIFICATE_LIFETIME_S,
      value: { model: 'array' as const, index: 0, value: { exists: true, value: certificate } },
    },
  ];
  await storage.store(KIND_CERTIFICATE_BY_USER, resourceIdFor(userName, nodeIdLength), entry);
  await storage.store(KIND_CERTIFICATE_BY_NODE, resourceIdFor(nodeId, nodeIdLength), entry);
}

/** The certificates stored for a Node-ID (CERTIFICATE_BY_NODE), newest last. */
export async function certificatesOfNode(storage: NodeStorage, nodeId: Uint8Array): Promise<Uint8Array[]> {
  return certificateValues(storage, KIND_CERTIFICATE_BY_NODE, resourceIdFor(nodeId, nodeId.length));
}

/** The certificates stored for a user name (CERTIFICATE_BY_USER). */
export async function certificatesOfUser(
  storage: NodeStorage,
  userName: string,
  resourceIdLength: number,
): Promise<Uint8Array[]> {
  return certificateValues(storage, KIND_CERTIFICATE_BY_USER, resourceIdFor(userName, resourceIdLength));
}

async function certificateValues(storage: NodeStorage, kind: number, resourceId: Uint8Array): Promise<Uint8Array[]> {
  const got = await storage.fetch(kind, resourceId, { model: 'array', indices: [{ first: 0, last: 0xffffffff }] });
  return got.values.flatMap((v) => ('value' in v && v.value.value.exists ? [v.value.value.value] : []));
}

/** TURN-SERVICE Resource-ID for iteration d: H(Node-ID ‖ d), d as one byte (docs/decisions.md). */
export function turnResourceId(nodeId: Uint8Array, iteration: number): Uint8Array {
  if (!Number.isInteger(iteration) || iteration < 1 || iteration > 20)
    throw new UsageError(`iteration: TURN-SERVICE iterations run 1..20, got ${iteration}`);
  const name = new Uint8Array(nodeId.length + 1);
  name.set(nodeId);
  name[nodeId.length] = iteration;
  return resourceIdFor(name, nodeId.length);
}

/** Advertises a TURN relay at every iteration 1..density (RFC 6940 §9.2; turn-density from the configuration). */
export async function advertiseTurnServer(
  storage: NodeStorage,
  nodeId: Uint8Array,
  relay: { host: string; port: number },
  density: number,
): Promise<void> {
  if (density === 0) return;
  const address = toIpAddressPort(relay.host, relay.port);
  for (let d = 1; d <= Math.min(density, 20); d++) {
    const value = encodeWith((w, t: TurnServer) => writeTurnServer(w, t), { iteration: d, serverAddress: address });
    await storage.store(KIND_TURN_SERVICE, turnResourceId(nodeId, d), [
      { lifetime: TURN_LIFETIME_S, value: { model: 'single', value: { exists: true, value } } },
    ]);
  }
}

/**
 * Finds TURN relays (RFC 6940 §9.3): Find for TURN-SERVICE at random Resource-IDs until one answer names a
 * stored one, then Fetch it. Up to `attempts` Finds; resolves with what it found (possibly nothing).
 */
export async function findTurnServers(
  storage: NodeStorage,
  ctx: DecodeContext,
  random: () => number,
  attempts = 8,
): Promise<{ resourceId: Uint8Array; server: TurnServer }[]> {
  const length = ctx.nodeIdLength;
  for (let i = 0; i < attempts; i++) {
    const target = Uint8Array.from({ length }, () => Math.floor(random() * 256));
    const found = await storage.find(target, [KIND_TURN_SERVICE]);
    const closest = found.results.find((r) => r.kind === KIND_TURN_SERVICE)?.closest;
    if (!closest || closest.every((b) => b === 0)) continue;
    const got = await storage.fetch(KIND_TURN_SERVICE, closest, { model: 'single' });
    const servers = got.values.flatMap((v) => {
      if (!('value' in v) || !v.value.value.exists) return [];
      try {
        const r = new Reader(v.value.value.value, ctx);
        const server = readTurnServer(r);
        r.done('TurnServer');
        return [{ resourceId: closest, server }];
      } catch {
        return []; // a malformed entry is skipped, not trusted
      }
    });
    if (servers.length > 0) return servers;
  }
  return [];
}
