/**
 * Many ReloadNodes in one process over the in-memory network and a virtual clock: the node code is the
 * real one, only links and time are simulated. Identities are issued by one CA per simulation; every
 * message is signed and verified as on real links. Deterministic for a seed (network and Chord timing).
 */
import { createLogger, type Logger } from '../../common/logger';
import { VirtualClock } from '../clock';
import { seededRandom } from '../seeded-random';
import {
  createCertificateAuthority,
  generateIdentityKeys,
  issueCertificate,
  TrustPolicy,
  type CertificateAuthority,
  type IdentityKeys,
} from '../identity';
import { MemoryNetwork, type LinkConditions } from '../link/memory/memory-network';
import { ReloadNode, type ChordSettings, type ReloadNodeOptions } from '../node';
import { NoIceAttach } from '../transport';
import { MemoryAppFlows, NoIceAppAttach } from '../transport';
import { defaultKinds } from '../config';
import type { StorageKind } from '../storage';
import { toHex } from '../wire';

export interface SimulationOptions {
  nodes: number;
  seed?: number;
  conditions?: LinkConditions;
  overlayName?: string;
  chord?: ChordSettings;
  log?: Logger;
  /** The Kinds peers store (default: the configuration defaults — SIP-REGISTRATION, certificates, TURN). */
  kinds?: readonly StorageKind[];
  /** Successor replacement hold-down before re-replication (default 5 s of virtual time). */
  replicaHoldDownMs?: number;
  /** How often owners store their values again (default 60 s of virtual time). */
  refreshIntervalMs?: number;
  /** Peers store their certificates on joining, as RFC 6940 §8 asks (default true). */
  publishCertificates?: boolean;
}

export interface SimNode {
  index: number;
  address: string;
  node: ReloadNode;
  alive: boolean;
}

export class OverlaySimulation {
  readonly clock = new VirtualClock();
  readonly network: MemoryNetwork;
  readonly nodes: SimNode[] = [];
  readonly random: () => number;
  /** Wall-clock time at virtual time 0: storage times and certificate checks see epoch + virtual time. */
  readonly epoch = Date.now();

  private constructor(
    readonly options: SimulationOptions,
    private readonly ca: CertificateAuthority,
    readonly policy: TrustPolicy,
  ) {
    this.random = seededRandom(options.seed ?? 1);
    this.network = new MemoryNetwork(
      this.clock,
      options.conditions ?? { latencyMs: 5, jitterMs: 0, loss: 0, bandwidth: 0 },
      options.seed ?? 1,
    );
  }

  static async create(options: SimulationOptions): Promise<OverlaySimulation> {
    const overlay = options.overlayName ?? 'sim.example.org';
    const ca = await createCertificateAuthority(await generateIdentityKeys('ecdsa'), overlay, 30);
    const policy = new TrustPolicy({ overlay, nodeIdLength: 16, rootCerts: [ca.certificate], badNodes: [] });
    const sim = new OverlaySimulation(options, ca, policy);
    for (let i = 0; i < options.nodes; i++) await sim.addNode();
    return sim;
  }

  /**
   * A certificate from the simulation's CA for `userName` carrying `nodeIds`, for `keys` (a user's second
   * device, a user of another domain, a signer that is not a node).
   */
  async issueCertificate(keys: IdentityKeys, userName: string, nodeIds: Uint8Array[]): Promise<Uint8Array> {
    const overlay = this.options.overlayName ?? 'sim.example.org';
    const { der } = await issueCertificate({
      ca: this.ca,
      publicKey: keys.webcrypto.publicKey,
      userName,
      nodeIds,
      overlay,
      validDays: 5,
    });
    return der;
  }

  /** A random Node-ID from the simulation's seeded source. */
  randomNodeId(): Uint8Array {
    return Uint8Array.from({ length: 16 }, () => Math.floor(this.random() * 256));
  }

  /**
   * A new node (not started): a fresh identity with a random Node-ID (user `sim<i>@<overlay>` unless
   * `userName` names another: two devices of one user, a user of another domain), an endpoint on the memory
   * network; `configuration` or `maxMessageSize` give it its own document (ConfigUpdate tests) or message size.
   */
  async addNode(
    overrides: Pick<ReloadNodeOptions, 'configuration' | 'maxMessageSize'> & { userName?: string } = {},
  ): Promise<SimNode> {
    const { userName, ...nodeOverrides } = overrides;
    const index = this.nodes.length;
    const overlay = this.options.overlayName ?? 'sim.example.org';
    const keys = await generateIdentityKeys('ecdsa');
    const nodeId = this.randomNodeId();
    const der = await this.issueCertificate(keys, userName ?? `sim${index}@${overlay}`, [nodeId]);
    const identity = this.policy.validate(der);
    const host = `10.${(index >> 16) & 0xff}.${(index >> 8) & 0xff}.${index & 0xff}`;
    const address = `${host}:1`;
    const endpoint = this.network.endpoint(address, identity);
    const dial = (h: string, p: number) => `${h}:${p}`;
    const log = this.options.log ?? createLogger({ level: 'error' });
    const node = new ReloadNode({
      nodeId,
      privateKey: keys.privateKey,
      certificate: der,
      policy: this.policy,
      overlay: 0x51d,
      clock: this.clock,
      log,
      strategy: new NoIceAttach({ endpoint, address: { host, port: 1 }, dial, clock: this.clock }),
      // AppAttach flows: a fresh port of the same host per flow, on the same memory network.
      appAttach: new NoIceAppAttach({
        flows: new MemoryAppFlows({ network: this.network, identity, host }),
        clock: this.clock,
      }),
      connect: (a) => endpoint.connect(dial(a.host, a.port)),
      bootstrapNodes: [],
      chord: { updateIntervalMs: 60_000, fingerIntervalMs: 120_000, ...this.options.chord },
      random: this.random,
      reliabilityTimerMs: 1000,
      overlayName: overlay,
      kinds: this.options.kinds ?? (defaultKinds() as StorageKind[]),
      now: () => this.epoch + this.clock.now(),
      replicaHoldDownMs: this.options.replicaHoldDownMs ?? 5_000,
      refreshIntervalMs: this.options.refreshIntervalMs ?? 60_000,
      publishCertificate: this.options.publishCertificates ?? true,
      ...nodeOverrides,
    });
    const sim: SimNode = { index, address, node, alive: true };
    this.nodes.push(sim);
    return sim;
  }

  /**
   * Advances virtual time by `ms` in steps, letting promise continuations run between steps (the node
   * code is async; its timers and network deliveries come from the virtual clock).
   */
  async run(ms: number, stepMs = 5): Promise<void> {
    const end = this.clock.now() + ms;
    while (this.clock.now() < end) {
      this.clock.advance(Math.min(stepMs, end - this.clock.now()));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Runs until `promise` settles (or `limitMs` of virtual time passed). */
  async until<T>(promise: Promise<T>, limitMs = 120_000): Promise<T> {
    let settled = false;
    const done = promise.finally(() => (settled = true));
    done.catch(() => undefined);
    const end = this.clock.now() + limitMs;
    while (!settled && this.clock.now() < end) await this.run(5);
    if (!settled) throw new Error(`not settled within ${limitMs} ms of virtual time`);
    return done;
  }

  /** Starts node `index`: the first node forms the overlay, the others join through a live bootstrap node. */
  async start(index: number, bootstrapIndex?: number): Promise<void> {
    const sim = this.nodes[index] as SimNode;
    const live = this.nodes.filter((n) => n.alive && n.node.ready && n.index !== index);
    if (live.length === 0) {
      await this.until(sim.node.start({ firstNode: true }));
      return;
    }
    const via =
      bootstrapIndex !== undefined
        ? (this.nodes[bootstrapIndex] as SimNode)
        : (live[Math.floor(this.random() * live.length)] as SimNode);
    const [host, port] = via.address.split(':') as [string, string];
    await this.until(sim.node.start({ bootstrapNodes: [{ host, port: Number(port) }] }));
  }

  /**
   * Starts several nodes at once (their joins overlap in virtual time); resolves when all have settled,
   * with the indexes that failed to join.
   */
  async startMany(indexes: number[], limitMs = 300_000): Promise<number[]> {
    const live = this.nodes.filter((n) => n.alive && n.node.ready);
    const failed: number[] = [];
    const joins = indexes.map((index) => {
      const sim = this.nodes[index] as SimNode;
      if (live.length === 0) {
        live.push(sim);
        return sim.node.start({ firstNode: true });
      }
      const via = live[Math.floor(this.random() * live.length)] as SimNode;
      const [host, port] = via.address.split(':') as [string, string];
      // As the headless peer does: a join that fails while the ring settles is tried again (three times).
      const attempt = async (left: number): Promise<void> => {
        try {
          await sim.node.start({ bootstrapNodes: [{ host, port: Number(port) }] });
        } catch {
          if (left <= 1) return void failed.push(index);
          await new Promise<void>((resolve) => this.clock.setTimeout(resolve, 2_000));
          await attempt(left - 1);
        }
      };
      return attempt(3);
    });
    await this.until(Promise.all(joins), limitMs);
    return failed;
  }

  /** Kills a node abruptly: its links vanish as a dead peer's would (no Leave). */
  async kill(index: number): Promise<void> {
    const sim = this.nodes[index] as SimNode;
    sim.alive = false;
    sim.node.chord.stop();
    await sim.node.apps.close(); // its application flows vanish with it
    sim.node.partitionCheck.stop();
    await this.network.lookup(sim.address)?.close();
  }

  /**
   * Pings a Resource-ID from node `from`: who answered (the responsible peer, by the routing) and over how
   * many hops the request went (the answer's via list, built on its way back along the same path, plus one).
   */
  async lookup(from: number, resourceId: Uint8Array): Promise<{ responder: Uint8Array; hops: number }> {
    const sim = this.nodes[from] as SimNode;
    const answer = await this.until(
      sim.node.transport.request([{ type: 'resource', id: resourceId }], {
        method: 'ping_req',
        value: { padding: new Uint8Array(0) },
      }),
    );
    return { responder: answer.from.nodeIds[0] as Uint8Array, hops: answer.message.header.viaList.length + 1 };
  }

  /** The live, ready node responsible for a Resource-ID by the sorted ring (first Node-ID ≥ it, wrapping). */
  responsibleFor(resourceId: Uint8Array): SimNode | undefined {
    const live = this.nodes
      .filter((n) => n.alive && n.node.ready)
      .sort((a, b) => Buffer.compare(a.node.nodeId, b.node.nodeId));
    return live.find((n) => Buffer.compare(n.node.nodeId, resourceId) >= 0) ?? live[0];
  }

  /**
   * The expected successor lists from the sorted Node-IDs of the live, ready nodes: `neighbours` long, or as
   * long as each node's own Neighbor Table (self-tuning sizes it per node).
   */
  ringErrors(neighbours?: number): { node: number; expected: string[]; actual: string[] }[] {
    const live = this.nodes.filter((n) => n.alive && n.node.ready);
    const sorted = [...live].sort((a, b) => Buffer.compare(a.node.nodeId, b.node.nodeId));
    const errors: { node: number; expected: string[]; actual: string[] }[] = [];
    sorted.forEach((n, i) => {
      const k = Math.min(neighbours ?? n.node.table.neighbourCount, sorted.length - 1);
      const expected = Array.from({ length: k }, (_, j) =>
        toHex((sorted[(i + j + 1) % sorted.length] as SimNode).node.nodeId),
      );
      const actual = n.node.table.neighbours.successors.map(toHex);
      if (expected.join() !== actual.join()) errors.push({ node: n.index, expected, actual });
    });
    return errors;
  }
}
