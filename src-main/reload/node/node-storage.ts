/**
 * Storage on a node (RFC 6940 §7, §10.4): the Store/Fetch/Stat/Find handlers around the StorageService,
 * replication of every original store to the next two successors, handover to a joining peer, re-replication
 * when the replica set or our range changes, and the client side (sign values, store, fetch and verify).
 */
import type { Logger } from '../../common/logger';
import type { Clock, TimerHandle } from '../clock';
import { signStoredData, verifyStoredData, type Signer } from '../crypto';
import type { TrustPolicy } from '../identity';
import {
  certificateSigners,
  dataSignerFor,
  exportArc,
  StorageError,
  StorageService,
  toStoreReq,
  type DataStore,
  type ResourceExport,
  type StorageKind,
} from '../storage';
import type { ChordOverlay, ChordRoutingTable } from '../topology';
import { adoptNewerCopy, meansNewerCopy } from './newer-copy';
import { ErrorAnswer, type IncomingRequest, type MessageTransport, type RequestRouter } from '../transport';
import {
  bytesEqual,
  ErrorCode,
  isOpaqueStoredData,
  toHex,
  type Body,
  type FetchKindResponse,
  type FindAns,
  type ModelSpecifier,
  type StatAns,
  type StoreAns,
  type StoredDataValue,
} from '../wire';

export interface NodeStorageOptions {
  kinds: readonly StorageKind[];
  overlayName: string;
  nodeIdLength: number;
  store?: DataStore;
  transport: MessageTransport;
  router: RequestRouter;
  table: ChordRoutingTable;
  chord: ChordOverlay;
  policy: TrustPolicy;
  signer: Signer;
  /** Our certificate (DER): values we sign carry it. */
  certificate: Uint8Array;
  clock: Clock;
  /** Wall-clock ms since 1970 (storage_time, certificate validity); virtual in simulations. */
  now: () => number;
  log: Logger;
  /** Successor replacement hold-down before new replicas are made (RFC 6940: 30 s). */
  replicaHoldDownMs?: number;
  /** Expired values are purged this often (default 60 s). */
  purgeIntervalMs?: number;
  /**
   * Our own stored values are stored again this often (soft state, RFC 6940 §7: owners refresh their data),
   * which also restores values all of whose copies died with their peers. Default 5 min.
   */
  refreshIntervalMs?: number;
}

export interface StoreValueInput {
  value: StoredDataValue;
  /** Seconds. */
  lifetime: number;
}

/** A value a Fetch returned whose signature did not verify against its signer's certificate. */
export class FetchedValueRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FetchedValueRejectedError';
  }
}

const REPLICAS = 2;

export class NodeStorage {
  readonly service: StorageService;
  private replicaTimer: TimerHandle | undefined;
  private purgeTimer: TimerHandle | undefined;
  private lastReplicaSet = '';
  private lastStorageTime = 0n;
  /** What we stored ourselves, for refreshing: by Kind and Resource-ID. */
  private readonly own = new Map<
    string,
    { kind: number; resourceId: Uint8Array; values: StoreValueInput[]; until: number }
  >();
  private refreshTimer: TimerHandle | undefined;
  readonly counters = { stores: 0, replicaStores: 0, handovers: 0, replicationFailures: 0, newerCopiesAdopted: 0 };

  constructor(private readonly o: NodeStorageOptions) {
    this.service = new StorageService({
      kinds: o.kinds,
      ...(o.store ? { store: o.store } : {}),
      overlay: o.overlayName,
      resourceIdLength: o.nodeIdLength,
      isResponsible: (rid) => o.table.isResponsible(rid),
      // A replica comes from a peer next to us on the ring (the responsible peer for a range beside ours,
      // or the admitting peer handing data over to us as its new predecessor).
      // (or ourselves: values adopted from a peer that holds a newer copy, newer-copy.ts).
      acceptsReplica: (_rid, sender) => {
        const id = sender.nodeId ?? sender.identity.nodeIds[0];
        return (
          this.isNeighbour(id) || (id !== undefined && bytesEqual(id, this.o.table.ring.fromBig(this.o.table.self)))
        );
      },
      replicasFor: () => o.table.neighbours.successors.slice(0, REPLICAS),
    });
    o.router.on('store_req', (r) => this.onStore(r));
    o.router.on('fetch_req', (r) => this.onFetch(r));
    o.router.on('stat_req', (r) => this.onStat(r));
    o.router.on('find_req', (r) => this.onFind(r));
    o.chord.onPeerJoined((joiner) => this.handOver(joiner));
    o.chord.onNeighboursChanged(() => this.scheduleReplication());
    this.schedulePurge();
    this.scheduleRefresh();
  }

  stop(): void {
    this.replicaTimer?.cancel();
    this.purgeTimer?.cancel();
    this.refreshTimer?.cancel();
  }

  // ---- client side ----

  /** Signs the values with our identity and stores them at `resourceId` (generation check off). */
  async store(kind: number, resourceId: Uint8Array, values: StoreValueInput[]): Promise<StoreAns> {
    const answer = await this.send(kind, resourceId, values);
    // Refreshed until the longest lifetime runs out (a Store with lifetime 0 ends it).
    const longest = Math.max(0, ...values.map((v) => v.lifetime));
    const key = `${kind}/${toHex(resourceId)}`;
    if (longest > 0) this.own.set(key, { kind, resourceId, values, until: this.o.now() + longest * 1000 });
    else this.own.delete(key);
    return answer;
  }

  private async send(kind: number, resourceId: Uint8Array, values: StoreValueInput[]): Promise<StoreAns> {
    const signed = values.map((v) =>
      signStoredData(
        resourceId,
        kind,
        { storageTime: this.storageTime(), lifetime: v.lifetime, value: v.value },
        this.o.signer,
      ),
    );
    const answer = await this.o.transport.request([{ type: 'resource', id: resourceId }], {
      method: 'store_req',
      value: { resource: resourceId, replicaNumber: 0, kindData: [{ kind, generationCounter: 0n, values: signed }] },
    });
    if (answer.body.method !== 'store_ans')
      throw new FetchedValueRejectedError(`expected store_ans, got ${answer.body.method}`);
    return answer.body.value;
  }

  /**
   * Fetches one Kind at `resourceId` and checks every value's signature against its signer's certificate
   * (from the answer's security block, judged by the overlay's trust policy).
   */
  async fetch(kind: number, resourceId: Uint8Array, specifier: ModelSpecifier): Promise<FetchKindResponse> {
    const answer = await this.o.transport.request([{ type: 'resource', id: resourceId }], {
      method: 'fetch_req',
      value: { resource: resourceId, specifiers: [{ kind, generation: 0n, specifier }] },
    });
    if (answer.body.method !== 'fetch_ans')
      throw new FetchedValueRejectedError(`expected fetch_ans, got ${answer.body.method}`);
    const response = answer.body.value.kindResponses.find((k) => k.kind === kind);
    if (!response) return { kind, generation: 0n, values: [] };
    const signers = certificateSigners(answer.message.security.certificates, this.o.policy, this.o.now());
    for (const value of response.values) {
      if (isOpaqueStoredData(value)) throw new FetchedValueRejectedError(`kind ${kind}: a value of unknown shape`);
      if (!value.value.value.exists && value.signature.value.length === 0) continue; // a synthesized gap
      const signer = signers(value.signature.identity);
      if (!signer) throw new FetchedValueRejectedError(`kind ${kind}: no acceptable certificate for a value's signer`);
      // The key the trust policy already parsed with the certificate (no second X.509 parse).
      if (!verifyStoredData(resourceId, kind, value, signer.identity.certificate.publicKey))
        throw new FetchedValueRejectedError(`kind ${kind}: a value's signature does not verify`);
    }
    return response;
  }

  async stat(kind: number, resourceId: Uint8Array, specifier: ModelSpecifier): Promise<StatAns> {
    const answer = await this.o.transport.request([{ type: 'resource', id: resourceId }], {
      method: 'stat_req',
      value: { resource: resourceId, specifiers: [{ kind, generation: 0n, specifier }] },
    });
    if (answer.body.method !== 'stat_ans')
      throw new FetchedValueRejectedError(`expected stat_ans, got ${answer.body.method}`);
    return answer.body.value;
  }

  /** Find (RFC 6940 §7.4.4): for each Kind, the stored Resource-ID nearest to `resourceId` at its responsible peer. */
  async find(resourceId: Uint8Array, kinds: number[]): Promise<FindAns> {
    const answer = await this.o.transport.request([{ type: 'resource', id: resourceId }], {
      method: 'find_req',
      value: { resource: resourceId, kinds },
    });
    if (answer.body.method !== 'find_ans')
      throw new FetchedValueRejectedError(`expected find_ans, got ${answer.body.method}`);
    return answer.body.value;
  }

  // ---- handlers ----

  private onStore(request: IncomingRequest): Body {
    if (request.body.method !== 'store_req') throw new ErrorAnswer(ErrorCode.Invalid_Message, 'not a Store');
    const requester = dataSignerFor(request.from, request.message.security.signature.identity);
    if (!requester)
      throw new ErrorAnswer(ErrorCode.Forbidden, 'the Store signer identity does not match its certificate');
    const now = this.o.now();
    const signers = certificateSigners(request.message.security.certificates, this.o.policy, now);
    const req = request.body.value;
    return this.answering(() => {
      const result = this.service.store(req, { requester, signers }, now);
      if (req.replicaNumber === 0) {
        this.counters.stores++;
        void this.replicate(result.stored);
      } else this.counters.replicaStores++;
      return { method: 'store_ans', value: result.answer };
    });
  }

  private onFetch(request: IncomingRequest): Body {
    if (request.body.method !== 'fetch_req') throw new ErrorAnswer(ErrorCode.Invalid_Message, 'not a Fetch');
    const body = request.body.value;
    return this.answering(() => {
      const { answer, certificates } = this.service.fetch(body, this.o.now());
      request.responseCertificates.push(...certificates);
      return { method: 'fetch_ans', value: answer };
    });
  }

  private onStat(request: IncomingRequest): Body {
    if (request.body.method !== 'stat_req') throw new ErrorAnswer(ErrorCode.Invalid_Message, 'not a Stat');
    const body = request.body.value;
    return this.answering(() => ({ method: 'stat_ans', value: this.service.stat(body, this.o.now()) }));
  }

  private onFind(request: IncomingRequest): Body {
    if (request.body.method !== 'find_req') throw new ErrorAnswer(ErrorCode.Invalid_Message, 'not a Find');
    const body = request.body.value;
    return this.answering(() => ({ method: 'find_ans', value: this.service.find(body, this.o.now()) }));
  }

  /** Runs a storage operation; a StorageError becomes the ErrorResponse it names (binary error_info included). */
  private answering(operation: () => Body): Body {
    try {
      return operation();
    } catch (error) {
      if (error instanceof StorageError)
        throw new ErrorAnswer(error.errorCode, error.message, error.errorInfo(this.o.nodeIdLength));
      throw error;
    }
  }

  // ---- replication and handover ----

  /** Sends what an original store just stored to our first two successors (§10.4). */
  private async replicate(data: ResourceExport, to?: Uint8Array[]): Promise<void> {
    if (data.kindData.length === 0) return;
    const targets = to ?? this.o.table.neighbours.successors.slice(0, REPLICAS);
    await Promise.all(
      targets.map((id, i) =>
        this.o.transport
          .request(
            [{ type: 'node', id }],
            { method: 'store_req', value: toStoreReq(data, i + 1) },
            { certificates: data.certificates },
          )
          .catch((error: Error) => {
            this.counters.replicationFailures++;
            this.o.log.debug('replica store failed', { peer: toHex(id), error: error.message });
            return this.refused(error, id, data);
          }),
      ),
    );
  }

  /**
   * Leaving (§10.9 with §10.4): our first successor becomes responsible for our range. It holds replicas
   * already; sending it the range as a replica store makes up for any replication that failed (values it
   * has are taken without change). Bounded by `budgetMs` so that a Leave is never held up for long.
   */
  async handOverBeforeLeaving(budgetMs = 3_000): Promise<number> {
    const table = this.o.table;
    const successor = table.neighbours.successors[0];
    const predecessor = table.neighbours.predecessors[0];
    if (!successor || !predecessor || this.o.chord.status !== 'ready') return 0;
    const exports = exportArc(this.service.data, predecessor, table.ring.fromBig(table.self), this.o.now());
    let sent = 0;
    const all = Promise.all(
      exports.map((data) =>
        this.o.transport
          .request(
            [{ type: 'node', id: successor }],
            { method: 'store_req', value: toStoreReq(data, 1) },
            { certificates: data.certificates },
          )
          .then(() => void sent++)
          .catch((error: Error) => {
            this.o.log.debug('leave handover failed', { error: error.message });
            return this.refused(error, successor, data);
          }),
      ),
    );
    let timer: { cancel(): void } | undefined;
    await Promise.race([all, new Promise<void>((resolve) => (timer = this.o.clock.setTimeout(resolve, budgetMs)))]);
    timer?.cancel();
    this.counters.handovers += sent;
    return sent;
  }

  /**
   * A peer refused data we re-stored as too old (Error_Data_Too_Old / Generation_Counter_Too_Low): it holds
   * something newer, which we MUST fetch from it and take instead of ours (§7.4).
   */
  private async refused(error: Error, peer: Uint8Array, data: ResourceExport): Promise<void> {
    if (!meansNewerCopy(error)) return;
    try {
      const self = this.o.policy.validate(this.o.certificate, new Date(this.o.now()));
      const kinds = data.kindData.map((k) => k.kind);
      this.counters.newerCopiesAdopted += await adoptNewerCopy(
        {
          transport: this.o.transport,
          service: this.service,
          policy: this.o.policy,
          self,
          now: this.o.now,
        },
        peer,
        data.resourceId,
        kinds,
      );
    } catch (e) {
      this.o.log.debug('fetching the newer copy failed', { peer: toHex(peer), error: (e as Error).message });
    }
  }

  /** A peer joined just before us: everything in (our old predecessor, joiner] is its now (§10.5 step 6). */
  private async handOver(joiner: Uint8Array): Promise<void> {
    const table = this.o.table;
    const predecessor = table.neighbours.predecessors[0];
    const from = predecessor ?? table.ring.fromBig(table.self);
    const exports = exportArc(this.service.data, from, joiner, this.o.now());
    for (const data of exports) {
      this.counters.handovers++;
      await this.o.transport
        .request(
          [{ type: 'node', id: joiner }],
          { method: 'store_req', value: toStoreReq(data, 1) },
          { certificates: data.certificates },
        )
        .catch((error: Error) => {
          this.o.log.debug('handover store failed', { error: error.message });
          return this.refused(error, joiner, data);
        });
    }
  }

  /**
   * When the first two successors or our range change, the data we are responsible for goes to the (new)
   * replica set after the hold-down — a successor that was only briefly away does not cause a copy.
   */
  private scheduleReplication(): void {
    const { predecessors, successors } = this.o.table.neighbours;
    const key = `${predecessors[0] ? toHex(predecessors[0]) : ''}|${successors.slice(0, REPLICAS).map(toHex).join()}`;
    if (key === this.lastReplicaSet) return;
    this.lastReplicaSet = key;
    this.replicaTimer?.cancel();
    this.replicaTimer = this.o.clock.setTimeout(() => {
      this.replicaTimer = undefined;
      void this.replicateRange();
    }, this.o.replicaHoldDownMs ?? 30_000);
  }

  /** Stores our whole range at the current replica set (run after the hold-down; public for repair tools). */
  async replicateRange(): Promise<void> {
    const table = this.o.table;
    const predecessor = table.neighbours.predecessors[0];
    if (!predecessor) return;
    const exports = exportArc(this.service.data, predecessor, table.ring.fromBig(table.self), this.o.now());
    for (const data of exports) await this.replicate(data);
  }

  private scheduleRefresh(): void {
    this.refreshTimer = this.o.clock.setTimeout(() => {
      void this.refresh().finally(() => this.scheduleRefresh());
    }, this.o.refreshIntervalMs ?? 300_000);
  }

  /** Stores our own values again, with the lifetime each has left. */
  private async refresh(): Promise<void> {
    const now = this.o.now();
    for (const [key, entry] of this.own) {
      const left = Math.floor((entry.until - now) / 1000);
      if (left <= 0) {
        this.own.delete(key);
        continue;
      }
      const values = entry.values.map((v) => ({ ...v, lifetime: Math.min(v.lifetime, left) }));
      await this.send(entry.kind, entry.resourceId, values).catch((error: Error) =>
        this.o.log.debug('refresh store failed', { key, error: error.message }),
      );
    }
  }

  private schedulePurge(): void {
    this.purgeTimer = this.o.clock.setTimeout(() => {
      this.service.purge(this.o.now());
      this.schedulePurge();
    }, this.o.purgeIntervalMs ?? 60_000);
  }

  private isNeighbour(id: Uint8Array | undefined): boolean {
    if (!id) return false;
    const { predecessors, successors } = this.o.table.neighbours;
    return [...predecessors, ...successors].some((n) => bytesEqual(n, id));
  }

  /** storage_time: wall-clock ms, strictly increasing per node so two quick stores never collide. */
  private storageTime(): bigint {
    const t = BigInt(Math.floor(this.o.now()));
    this.lastStorageTime = t > this.lastStorageTime ? t : this.lastStorageTime + 1n;
    return this.lastStorageTime;
  }
}
