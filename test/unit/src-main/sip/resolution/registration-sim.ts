/**
 * Test support: an overlay simulation with SIP-REGISTRATION records planted at their responsible peers.
 * The registration service is written elsewhere at the same time, so records go in through the storage
 * API: a sim node's own AOR via NodeStorage.store (the real Store path), extra users and devices (issued by
 * the simulation's CA) via the responsible peer's StorageService.store (the same checks: signature,
 * USER-NODE-MATCH), and forged records (a misbehaving storing peer) straight into its DataStore.
 */
import { OverlaySimulation } from '../../../../../src-main/reload/sim';
import {
  certificateSigners,
  createSigner,
  dataSignerFor,
  generateIdentityKeys,
  resourceIdFor,
  signStoredData,
  storedDataLength,
  toHex,
  type Destination,
  type IdentityKeys,
  type Signer,
  type StoredData,
  type ValidatedIdentity,
} from '../../../../../src-main/reload';
import {
  encodeSipRegistration,
  SIP_REGISTRATION_KIND,
  type SipRegistration,
} from '../../../../../src-main/sip/sip-registration';
import { AorResolver, type AorResolverOptions } from '../../../../../src-main/sip/resolution/aor-resolver';
import {
  overlayRegistrationSource,
  type RegistrationSource,
} from '../../../../../src-main/sip/resolution/registration-source';

export const DOMAIN = 'sim.example.org';
const utf8 = new TextEncoder();

export async function startSim(nodes = 5, seed = 3): Promise<OverlaySimulation> {
  const sim = await OverlaySimulation.create({ nodes, seed, publishCertificates: false });
  for (let i = 0; i < nodes; i++) await sim.start(i);
  await sim.run(1_000);
  return sim;
}

export const wallNow = (sim: OverlaySimulation) => sim.epoch + sim.clock.now();

export interface Device {
  user: string;
  nodeId: Uint8Array;
  signer: Signer;
  der: Uint8Array;
  identity: ValidatedIdentity;
}

let keys: IdentityKeys | undefined;

/** `count` devices of `user`: one certificate carrying all their Node-IDs (so one certificate in answers). */
export async function devicesOf(sim: OverlaySimulation, user: string, count = 1): Promise<Device[]> {
  keys ??= await generateIdentityKeys('ecdsa');
  const nodeIds = Array.from({ length: count }, () => sim.randomNodeId());
  const der = await sim.issueCertificate(keys, user, nodeIds);
  const identity = sim.policy.validate(der, new Date(wallNow(sim)));
  return nodeIds.map((nodeId) => ({
    user,
    nodeId,
    der,
    identity,
    signer: createSigner({
      privateKey: keys!.privateKey,
      certificate: der,
      ...(count > 1 ? { multiNodeId: nodeId } : {}),
    }),
  }));
}

export const route = (destinations: Destination[], prefs = ''): SipRegistration => ({
  type: 'route',
  contactPrefs: utf8.encode(prefs),
  destinations,
});
export const toNode = (id: Uint8Array): Destination[] => [{ type: 'node', id }];
export const forward = (aor: string): SipRegistration => ({ type: 'uri', uri: utf8.encode(aor) });

let lastTime = 0n;

/** A signed dictionary entry of Kind 0x1 at H(aor) keyed `key` (default: the device's Node-ID). */
export function signedEntry(
  sim: OverlaySimulation,
  device: Device,
  reg: SipRegistration | undefined,
  lifetime: number,
  options: { aor?: string; key?: Uint8Array } = {},
): { resourceId: Uint8Array; data: StoredData } {
  const resourceId = resourceIdFor(options.aor ?? device.user);
  const t = BigInt(wallNow(sim));
  lastTime = t > lastTime ? t : lastTime + 1n;
  const data = signStoredData(
    resourceId,
    SIP_REGISTRATION_KIND,
    {
      storageTime: lastTime,
      lifetime,
      value: {
        model: 'dictionary',
        key: options.key ?? device.nodeId,
        value: reg
          ? { exists: true, value: encodeSipRegistration(reg, 16) }
          : { exists: false, value: new Uint8Array(0) },
      },
    },
    device.signer,
  );
  return { resourceId, data };
}

/** Stores at the responsible peer through its storage engine (all its checks apply). `reg` undefined: deregister. */
export function register(
  sim: OverlaySimulation,
  device: Device,
  reg: SipRegistration | undefined,
  lifetime = 600,
): void {
  const { resourceId, data } = signedEntry(sim, device, reg, lifetime);
  const now = wallNow(sim);
  const requester = dataSignerFor(device.identity, device.signer.identity);
  if (!requester) throw new Error('the device signer does not name its certificate');
  sim.responsibleFor(resourceId)!.node.storage.service.store(
    {
      resource: resourceId,
      replicaNumber: 0,
      kindData: [{ kind: SIP_REGISTRATION_KIND, generationCounter: 0n, values: [data] }],
    },
    { requester, signers: certificateSigners([device.der], sim.policy, now) },
    now,
  );
}

/** A misbehaving storing peer: puts the entry into its DataStore with no access check at all. */
export function plantForged(
  sim: OverlaySimulation,
  entry: { resourceId: Uint8Array; data: StoredData },
  der: Uint8Array,
): void {
  const store = sim.responsibleFor(entry.resourceId)!.node.storage.service.data;
  const old = store.get(entry.resourceId, SIP_REGISTRATION_KIND);
  const values = new Map(old?.values ?? []);
  const now = wallNow(sim);
  const key = entry.data.value.model === 'dictionary' ? entry.data.value.key : new Uint8Array(0);
  values.set(`k${toHex(key)}`, {
    data: entry.data,
    storedAt: now,
    expiresAt: now + entry.data.lifetime * 1000,
    certificate: der,
    size: storedDataLength(entry.data) + der.length,
  });
  store.put({
    resourceId: entry.resourceId,
    kind: SIP_REGISTRATION_KIND,
    model: 'dictionary',
    generation: (old?.generation ?? 0n) + 1n,
    values,
  });
}

/** A sim node registers its own AOR (sim<i>@…) through NodeStorage.store: the real signed Store. */
export async function registerOwn(
  sim: OverlaySimulation,
  index: number,
  reg: SipRegistration,
  lifetime = 600,
): Promise<void> {
  const node = sim.nodes[index]!.node;
  await sim.until(
    node.storage.store(SIP_REGISTRATION_KIND, resourceIdFor(`sim${index}@${DOMAIN}`), [
      {
        lifetime,
        value: {
          model: 'dictionary',
          key: node.nodeId,
          value: { exists: true, value: encodeSipRegistration(reg, 16) },
        },
      },
    ]),
  );
}

/** The overlay source of node `index`, wrapped to record every Fetch (AOR and virtual time). */
export function countingSource(
  sim: OverlaySimulation,
  index: number,
): RegistrationSource & { log: { aor: string; at: number }[] } {
  const node = sim.nodes[index]!.node;
  const inner = overlayRegistrationSource({ node, policy: sim.policy, now: () => wallNow(sim) });
  const log: { aor: string; at: number }[] = [];
  return {
    log,
    get joined() {
      return inner.joined;
    },
    now: inner.now,
    fetch(aor) {
      log.push({ aor, at: sim.clock.now() });
      return inner.fetch(aor);
    },
  };
}

export function resolverOn(
  sim: OverlaySimulation,
  index: number,
  options: Partial<AorResolverOptions> = {},
): { resolver: AorResolver; source: ReturnType<typeof countingSource> } {
  const source = countingSource(sim, index);
  const resolver = new AorResolver({
    source,
    clock: sim.clock,
    domains: [DOMAIN],
    ctx: sim.nodes[index]!.node.ctx,
    ...options,
  });
  return { resolver, source };
}
