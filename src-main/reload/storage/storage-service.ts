/**
 * The storage engine of a RELOAD peer (RFC 6940 §7; behaviour digest §7): Store, Fetch, Stat and Find on
 * decoded request bodies, with time passed in (ms), so it runs under a real or a virtual clock. A Store is
 * atomic: every Kind and every value is checked, and the new records are built beside the old ones, before
 * anything is committed — a refused request leaves the stored state exactly as it was.
 *
 * What the overlay knows and the engine does not (responsibility, replica sets) comes in as functions.
 */
import { createHash } from 'node:crypto';
import { verifyStoredData } from '../crypto';
import { Ring } from '../topology/chord/ring';
import {
  bytesEqual,
  HashAlgorithm,
  isOpaqueStoredData,
  NO_SIGNATURE,
  toHex,
  type DataModel,
  type FetchAns,
  type FetchReq,
  type FindAns,
  type FindReq,
  type FindKindData,
  type MetaDataValue,
  type StatAns,
  type StatReq,
  type StoreAns,
  type StoredData,
  type StoredDataSpecifier,
  type StoredDataValue,
  type StoredMetaData,
  type StoreReq,
} from '../wire';
import { accessRefusal } from './access-control';
import type { DataStore } from './data-store';
import {
  AccessDeniedError,
  BadSignatureError,
  DataTooOldError,
  describeKind,
  DuplicateKindError,
  GenerationCounterTooLowError,
  MalformedStorageRequestError,
  NotResponsibleError,
  ReplicaRefusedError,
  TooManyValuesError,
  UnknownKindError,
  UnknownSignerError,
  UnsignedValueError,
  ValueTooLargeError,
} from './errors';
import { wireDataModel, type StorageKind } from './kinds';
import { MemoryDataStore } from './memory-data-store';
import {
  copyStoredData,
  isLive,
  remainingLifetime,
  slotOf,
  storedDataLength,
  type KindRecord,
  type StoredValue,
} from './records';
import { exportRecords, type ResourceExport } from './replication';
import { ARRAY_LAST, checkRanges, selectValues } from './selection';
import type { DataSigner, SignerLookup } from './signers';

export interface StorageServiceOptions {
  /** The Kinds of the overlay configuration. */
  kinds: readonly StorageKind[];
  /** Where records live (default: a MemoryDataStore with its default limits). */
  store?: DataStore;
  /** The overlay's instance name (for a SIP-REGISTRATION domain restriction without patterns). */
  overlay?: string;
  /** Resource-ID length of the overlay (CHORD-RELOAD: 16). */
  resourceIdLength?: number;
  /** Are we responsible for this Resource-ID (original stores, Find)? Default: yes. */
  isResponsible?: (resourceId: Uint8Array) => boolean;
  /**
   * Do we expect to hold replica `replicaNumber` of this Resource-ID, and is `sender` plausible as the peer
   * responsible for it (CHORD-RELOAD: in or closer than the known replica set)? Default: yes.
   */
  acceptsReplica?: (resourceId: Uint8Array, sender: DataSigner, replicaNumber: number) => boolean;
  /** The peers that hold (or will hold) replicas, for StoreAns. Default: none. */
  replicasFor?: (resourceId: Uint8Array) => Uint8Array[];
  /** Kinds that may be used with Find; the others are left out of FindAns. Default: every known Kind. */
  findable?: (kind: number) => boolean;
}

export interface StoreContext {
  /** Who signed the StoreReq message (and which of its Node-IDs). */
  requester: DataSigner;
  /** Finds the certificate of a value's SignerIdentity, e.g. `certificateSigners(security block, …)`. */
  signers: SignerLookup;
}

export interface StoreResult {
  answer: StoreAns;
  /**
   * The values this request stored (appends with their final index) with the new generation counters:
   * `toStoreReq(stored, n)` is the Store to send to replica n.
   */
  stored: ResourceExport;
}

export interface FetchResult {
  answer: FetchAns;
  /** The certificates of the returned values' signers, for the answer's security block. */
  certificates: Uint8Array[];
}

interface KindPlan {
  kind: StorageKind;
  model: DataModel;
  generationCounter: bigint;
  values: StoredData[];
  signers: DataSigner[];
}

const lengthPrefix = (n: number) => Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);

export class StorageService {
  readonly data: DataStore;
  private kinds = new Map<number, StorageKind>();
  private readonly resourceIdLength: number;

  constructor(private readonly options: StorageServiceOptions) {
    this.data = options.store ?? new MemoryDataStore();
    this.resourceIdLength = options.resourceIdLength ?? 16;
    this.setKinds(options.kinds);
  }

  /** The Kind definitions in force (a ConfigUpdate may change them). */
  kind(id: number): StorageKind | undefined {
    return this.kinds.get(id);
  }

  /** For the decoder's DecodeContext, so values of our Kinds are decoded with their data model. */
  dataModelOf(kind: number): DataModel | undefined {
    const k = this.kinds.get(kind);
    return k ? wireDataModel(k.dataModel) : undefined;
  }

  /**
   * Replaces the Kind definitions. Data of Kinds no longer defined, or whose data model changed, is dropped;
   * limits apply to later stores. Returns the values dropped.
   */
  setKinds(kinds: readonly StorageKind[]): number {
    const next = new Map<number, StorageKind>();
    for (const k of kinds) {
      if (next.has(k.id)) throw new RangeError(`${describeKind(k.id, k.name)} is defined twice`);
      next.set(k.id, k);
    }
    this.kinds = next;
    let dropped = 0;
    for (const id of this.data.resourceIds()) {
      for (const record of this.data.kindsAt(id)) {
        if (this.dataModelOf(record.kind) !== record.model) dropped += this.data.delete(id, record.kind);
      }
    }
    return dropped;
  }

  // --------------------------------------------------------------------------------------------- Store

  store(req: StoreReq, ctx: StoreContext, now: number): StoreResult {
    const resource = req.resource;
    this.checkResourceId(resource, 'StoreReq.resource');
    const replica = req.replicaNumber !== 0;
    // 1. Responsibility (original) or a plausible replica.
    if (!replica && !(this.options.isResponsible?.(resource) ?? true)) throw new NotResponsibleError(resource);
    if (replica && !(this.options.acceptsReplica?.(resource, ctx.requester, req.replicaNumber) ?? true))
      throw new ReplicaRefusedError(resource, req.replicaNumber);

    // 2. Every Kind known, none twice; every value decoded with its Kind's data model.
    const kinds = this.knownKinds(
      req.kindData.map((k) => k.kind),
      'StoreReq.kind_data',
    );
    const plans: KindPlan[] = req.kindData.map((kd, n) => {
      const kind = kinds[n] as StorageKind;
      const model = wireDataModel(kind.dataModel);
      const values = kd.values.map((v, i) => {
        const field = `StoreReq.kind_data[${n}].values[${i}]`;
        if (isOpaqueStoredData(v))
          throw new MalformedStorageRequestError(field, `decoded without the data model of ${describe(kind)}`);
        if (v.value.model !== model)
          throw new MalformedStorageRequestError(field, `a ${v.value.model} value for ${describe(kind)} (${model})`);
        return v;
      });
      return { kind, model, generationCounter: kd.generationCounter, values, signers: [] };
    });

    // 3 and 9. Every value signed (not identity none / algorithm {0,0}) by a trusted certificate.
    for (const plan of plans) {
      plan.values.forEach((v, i) => {
        const sig = v.signature;
        if (sig.identity.type === 'none' || (sig.algorithm.hash === 0 && sig.algorithm.signature === 0))
          throw new UnsignedValueError(plan.kind.id, i, plan.kind.name);
        const signer = ctx.signers(sig.identity);
        if (!signer) throw new UnknownSignerError(`value #${i}`, plan.kind.id, plan.kind.name);
        if (!verifyStoredData(resource, plan.kind.id, v, signer.identity.certificate.publicKey))
          throw new BadSignatureError(plan.kind.id, i, plan.kind.name);
        plan.signers.push(signer);
      });
    }

    // 4 and 5. The Kind's policy allows each value's signer and, for original stores, the StoreReq's signer.
    for (const plan of plans) {
      plan.values.forEach((v, i) => {
        const who: [string, DataSigner][] = [[`signer of value #${i}`, plan.signers[i] as DataSigner]];
        if (!replica) who.push([`StoreReq signer (value #${i})`, ctx.requester]);
        for (const [role, signer] of who) {
          const reason = accessRefusal(plan.kind, resource, v.value, signer, this.options.overlay);
          if (reason) throw new AccessDeniedError(plan.kind.id, plan.kind.accessControl, role, reason, plan.kind.name);
        }
      });
    }

    // 6. Generation counters: original stores must name the current one (or 0); replicas copy theirs.
    const current = plans.map((p) => this.data.get(resource, p.kind.id)?.generation ?? 0n);
    plans.forEach((plan, n) => {
      const sent = plan.generationCounter;
      if (replica && sent === 0n)
        throw new MalformedStorageRequestError(
          `StoreReq.kind_data[${n}].generation_counter`,
          'a replica store must carry the generation counter, not 0',
        );
      const have = current[n] as bigint;
      if (!replica && sent !== 0n && sent !== have) {
        const answer: StoreAns = {
          kindResponses: plans.map((p, m) => ({
            kind: p.kind.id,
            generationCounter: current[m] as bigint,
            replicas: [],
          })),
        };
        throw new GenerationCounterTooLowError(plan.kind.id, sent, have, answer, plan.kind.name);
      }
    });

    // 7 and 8. Build the new records beside the old ones: storage_time, max-size, max-count.
    const records: KindRecord[] = [];
    const fresh: KindRecord[] = [];
    const generations: bigint[] = [];
    const certificates = new Map<DataSigner['identity'], Uint8Array>();
    plans.forEach((plan, n) => {
      const { kind, model } = plan;
      const old = this.data.get(resource, kind.id);
      const working = new Map<string, StoredValue>();
      if (old) for (const [slot, v] of old.values) if (isLive(v, now)) working.set(slot, v);
      let length = 0;
      for (const v of working.values())
        if (v.data.value.model === 'array') length = Math.max(length, v.data.value.index + 1);
      const added = new Map<string, StoredValue>();
      plan.values.forEach((v, i) => {
        const index = v.value.model === 'array' ? (v.value.index === ARRAY_LAST ? length : v.value.index) : undefined;
        const slot = index === undefined ? slotOf(v.value) : `i${index}`;
        const previous = working.get(slot);
        // A replica or handover sent again (the very value we hold, same time and signature) replaces
        // nothing: it is already here, so it is neither stored again nor refused as too old.
        if (
          replica &&
          previous &&
          v.storageTime === previous.data.storageTime &&
          bytesEqual(v.signature.value, previous.data.signature.value)
        )
          return;
        if (previous && v.storageTime <= previous.data.storageTime)
          throw new DataTooOldError(kind.id, i, v.storageTime, previous.data.storageTime, kind.name);
        const size = v.value.value.value.length;
        if (size > kind.maxSize) throw new ValueTooLargeError(kind.id, i, size, kind.maxSize, kind.name);
        const signer = plan.signers[i] as DataSigner;
        let certificate = certificates.get(signer.identity);
        if (!certificate) {
          certificate = signer.identity.certificate.der.slice();
          certificates.set(signer.identity, certificate);
        }
        const data = copyStoredData(v, index);
        const stored: StoredValue = {
          data,
          storedAt: now,
          expiresAt: Math.min(now + v.lifetime * 1000, signer.identity.certificate.notAfter.getTime()),
          certificate,
          size: storedDataLength(data) + certificate.length,
        };
        working.set(slot, stored);
        added.set(slot, stored);
        if (index !== undefined) length = Math.max(length, index + 1);
      });
      const count = model === 'array' ? length : working.size;
      if (count > kind.maxCount) throw new TooManyValuesError(kind.id, count, kind.maxCount, kind.name);
      const generation = replica
        ? plan.generationCounter
        : plan.values.length > 0
          ? (current[n] as bigint) + 1n
          : (current[n] as bigint);
      generations.push(generation);
      const base = { resourceId: resource.slice(), kind: kind.id, model, generation };
      if (plan.values.length > 0 || (old && old.generation !== generation)) records.push({ ...base, values: working });
      fresh.push({ ...base, values: added });
    });

    // Everything checked: commit (the store's own bound may still refuse, changing nothing).
    this.data.commit(records);

    const replicas = replica ? [] : (this.options.replicasFor?.(resource) ?? []);
    return {
      answer: {
        kindResponses: plans.map((p, n) => ({
          kind: p.kind.id,
          generationCounter: generations[n] as bigint,
          replicas,
        })),
      },
      stored: exportRecords(resource.slice(), fresh, now),
    };
  }

  // ---------------------------------------------------------------------------------------- Fetch, Stat

  fetch(req: FetchReq, now: number): FetchResult {
    const certificates = new Map<string, Uint8Array>();
    const kindResponses = this.select(req, 'FetchReq', now).map(({ spec, generation, selected }) => ({
      kind: spec.kind,
      generation,
      values: selected.map((s): StoredData => {
        if ('synthesized' in s) return { storageTime: 0n, lifetime: 0, value: s.synthesized, signature: NO_SIGNATURE };
        certificates.set(toHex(s.stored.certificate), s.stored.certificate);
        return { ...s.stored.data, lifetime: remainingLifetime(s.stored, now) };
      }),
    }));
    return { answer: { kindResponses }, certificates: [...certificates.values()] };
  }

  stat(req: StatReq, now: number): StatAns {
    const kindResponses = this.select(req, 'StatReq', now).map(({ spec, generation, selected }) => ({
      kind: spec.kind,
      generation,
      values: selected.map((s): StoredMetaData =>
        'synthesized' in s
          ? { storageTime: 0n, lifetime: 0, metadata: metaData(s.synthesized) }
          : {
              storageTime: s.stored.data.storageTime,
              lifetime: remainingLifetime(s.stored, now),
              metadata: metaData(s.stored.data.value),
            },
      ),
    }));
    return { kindResponses };
  }

  private select(req: FetchReq, what: string, now: number) {
    const kinds = this.knownKinds(
      req.specifiers.map((s) => s.kind),
      undefined,
    );
    req.specifiers.forEach((spec, n) => this.checkSpecifier(spec, kinds[n] as StorageKind, `${what}.specifiers[${n}]`));
    return req.specifiers.map((spec) => {
      const record = this.data.get(req.resource, spec.kind);
      const generation = record?.generation ?? 0n;
      // The requester already has this generation: nothing to send.
      const selected = spec.generation === generation ? [] : selectValues(record, spec.specifier, now);
      return { spec, generation, selected };
    });
  }

  private checkSpecifier(spec: StoredDataSpecifier, kind: StorageKind, field: string): void {
    const model = wireDataModel(kind.dataModel);
    if (spec.specifier.model === 'opaque')
      throw new MalformedStorageRequestError(field, `decoded without the data model of ${describe(kind)}`);
    if (spec.specifier.model !== model)
      throw new MalformedStorageRequestError(
        field,
        `a ${spec.specifier.model} specifier for ${describe(kind)} (${model})`,
      );
    if (spec.specifier.model === 'array') checkRanges(spec.specifier.indices, `${field}.indices`);
  }

  // ---------------------------------------------------------------------------------------------- Find

  /**
   * For each Kind, the Resource-ID nearest to the requested one (clockwise, itself included) at which we hold
   * a live, existing value of that Kind; 0 (all-zero bytes) when there is none or the Kind is unknown.
   */
  find(req: FindReq, now: number): FindAns {
    const resource = req.resource;
    this.checkResourceId(resource, 'FindReq.resource');
    const seen = new Set<number>();
    for (const kind of req.kinds) {
      if (seen.has(kind)) throw new DuplicateKindError(kind, 'FindReq.kinds');
      seen.add(kind);
    }
    if (!(this.options.isResponsible?.(resource) ?? true)) throw new NotResponsibleError(resource);
    const ring = new Ring(this.resourceIdLength * 8);
    const r = ring.toBig(resource);
    const ids = this.data.resourceIds().filter((id) => id.length === this.resourceIdLength);
    const results: FindKindData[] = [];
    for (const kind of req.kinds) {
      if (!this.kinds.has(kind)) {
        results.push({ kind, closest: new Uint8Array(this.resourceIdLength) });
        continue;
      }
      if (!(this.options.findable?.(kind) ?? true)) continue;
      let best: { id: Uint8Array; d: bigint } | undefined;
      for (const id of ids) {
        const record = this.data.get(id, kind);
        if (!record || !holdsExisting(record, now)) continue;
        const d = ring.distance(r, ring.toBig(id));
        if (!best || d < best.d) best = { id, d };
      }
      results.push({ kind, closest: best ? best.id.slice() : new Uint8Array(this.resourceIdLength) });
    }
    return { results };
  }

  // --------------------------------------------------------------------------------------------- upkeep

  /** Removes expired values (and records left empty); returns how many values went. */
  purge(now: number): number {
    let removed = 0;
    const changes: KindRecord[] = [];
    for (const id of this.data.resourceIds()) {
      for (const record of this.data.kindsAt(id)) {
        const keep = new Map<string, StoredValue>();
        for (const [slot, v] of record.values) if (isLive(v, now)) keep.set(slot, v);
        if (keep.size === record.values.size) continue;
        removed += record.values.size - keep.size;
        changes.push({ ...record, values: keep });
      }
    }
    this.data.commit(changes); // only shrinks: never refused
    return removed;
  }

  private knownKinds(ids: readonly number[], duplicatesField: string | undefined): StorageKind[] {
    const seen = new Set<number>();
    const unknown: number[] = [];
    const out: StorageKind[] = [];
    for (const id of ids) {
      if (duplicatesField !== undefined && seen.has(id)) throw new DuplicateKindError(id, duplicatesField);
      seen.add(id);
      const kind = this.kinds.get(id);
      if (kind) out.push(kind);
      else if (!unknown.includes(id)) unknown.push(id);
    }
    if (unknown.length > 0) throw new UnknownKindError(unknown);
    return out;
  }

  private checkResourceId(id: Uint8Array, field: string): void {
    if (id.length !== this.resourceIdLength)
      throw new MalformedStorageRequestError(
        field,
        `Resource-IDs have ${this.resourceIdLength} bytes in this overlay, got ${id.length}`,
      );
  }
}

function describe(kind: StorageKind): string {
  return describeKind(kind.id, kind.name);
}

function holdsExisting(record: KindRecord, now: number): boolean {
  for (const v of record.values.values()) if (v.data.value.value.exists && isLive(v, now)) return true;
  return false;
}

/** Stat's MetaData: exists, length, and SHA-256 of DataValue.value with its 4 length bytes. */
function metaData(value: StoredDataValue): MetaDataValue {
  const bytes = value.value.value;
  const md = {
    exists: value.value.exists,
    valueLength: bytes.length,
    hashAlgorithm: HashAlgorithm.sha256,
    hashValue: new Uint8Array(createHash('sha256').update(lengthPrefix(bytes.length)).update(bytes).digest()),
  };
  switch (value.model) {
    case 'single':
      return { model: 'single', value: md };
    case 'array':
      return { model: 'array', index: value.index, value: md };
    case 'dictionary':
      return { model: 'dictionary', key: value.key, value: md };
  }
}
