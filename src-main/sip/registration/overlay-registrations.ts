/**
 * This node's SIP-REGISTRATION records (RFC 7904 §3, digest sip-usage.md §2–5): the local SIP interface hands
 * its REGISTER bindings here, and the overlay gets one dictionary entry per AOR keyed by our Node-ID at
 * H(AOR), Kind 0x1: a route (contact_prefs of the bindings, the destination list reaching us) while any
 * binding lives, or another AOR while forwarding is set. Records are re-stored before they expire, removed
 * with exists=false when the last binding goes, and all removed on stop().
 *
 * Binding model (docs/decisions.md, "The SIP usage"): several UAs of this node registering the
 * same AOR share the one entry (USER-NODE-MATCH allows one key per Node-ID); its lifetime runs to the longest
 * binding, capped at maxRecordLifetimeSec and then refreshed at 2/3 of the stored lifetime. Forwarding takes
 * the same key, so while set it replaces the route (calls go to the target and our other devices' entries).
 */
import type { Logger } from '../../common/logger';
import {
  ErrorResponseError,
  readCertificate,
  resourceIdFor,
  toHex,
  type Clock,
  type Destination,
  type ReloadNode,
  type StorageKind,
  type TimerHandle,
} from '../../reload';
import { encodeSipRegistration, SIP_REGISTRATION_KIND, type SipRegistration } from '../sip-registration';
import { checkDomainRestriction, normalizeAor } from './aor';
import { combineContactPrefs, MAX_CONTACT_PREFS_LENGTH } from './contact-prefs';
import {
  AorNotAllowedError,
  ContactPrefsError,
  RegistrationArgumentError,
  RegistrationKindMissingError,
  RegistrationsStoppedError,
  RegistrationStoreError,
  RegistrationTooLargeError,
  TooManyBindingsError,
} from './errors';

export interface OverlayRegistrationsOptions {
  node: ReloadNode;
  /** The overlay's instance name: Node-IDs in certificates and the domain restriction refer to it. */
  overlayName: string;
  /** The node's clock (a VirtualClock in simulations): expiry, refresh and retry timers. */
  clock: Clock;
  log: Logger;
  /** Wall-clock ms for status timestamps (default Date.now). */
  now?: () => number;
  /** The longest lifetime one Store gives a record; longer bindings are refreshed (default 3600 s). */
  maxRecordLifetimeSec?: number;
  /** Lifetime of a forwarding record, refreshed at 2/3 while forwarding is set (default 3600 s). */
  forwardingLifetimeSec?: number;
  /** Longest binding a UA may ask for (default 86400 s). */
  maxExpiresSec?: number;
  /** Local bindings per AOR (default 16). */
  maxBindings?: number;
  /** The destination list reaching us (default [own Node-ID]; a client attached to a peer lists the path). */
  destinationList?: () => Destination[];
  /** First retry of a failed Store after this, doubling up to retryMaxMs (defaults 5 s and 120 s). */
  retryMinMs?: number;
  retryMaxMs?: number;
}

export interface RegisterInput {
  /** The binding's contact_prefs (contactPrefsFromContact of its Contact); '' states nothing. */
  contactPrefs: string;
  /** Seconds the binding lives; 0 removes it (as SIP's Expires: 0). */
  expiresSec: number;
  /** Identifies the UA's binding (e.g. its Contact URI or +sip.instance), 1..256 characters. */
  bindingId: string;
}

export type RecordKind = 'route' | 'uri' | 'remove';

export interface RegistrationStatus {
  aor: string;
  resourceId: string;
  /** What the overlay should hold for us now. */
  record: 'route' | 'uri' | 'none';
  forwardingTo?: string;
  bindings: { bindingId: string; contactPrefs: string; expiresInSec: number }[];
  /** The last Store that succeeded: its lifetime and how long it has left. */
  stored?: { record: RecordKind; lifetimeSec: number; expiresInSec: number };
  generation?: string;
  replicas?: string[];
  nextEventInSec?: number;
  stores: number;
  lastStore?: { ok: boolean; at: number; record: RecordKind; error?: string };
  failureCount: number;
  /** The latest failures (at most MAX_FAILURES_KEPT), oldest first. */
  failures: { at: number; record: RecordKind; reason: string }[];
}

export const MAX_FAILURES_KEPT = 10;
const MAX_BINDING_ID_LENGTH = 256;
/** A tombstone outlives any copy of the value it deletes (RFC 6940 §7.4.1.3), and at least this. */
const MIN_TOMBSTONE_SEC = 60;
const REFRESH_FRACTION = 2 / 3;
/** A destination list longer than this is no path anyone should route (RELOAD's via lists are similar). */
const MAX_DESTINATIONS = 16;

interface Binding {
  id: string;
  contactPrefs: string;
  expiresAt: number;
}

interface AorState {
  aor: string;
  resourceId: Uint8Array;
  bindings: Map<string, Binding>;
  forwarding: string | undefined;
  /** The last successful Store (clock ms). */
  stored: { record: RecordKind; lifetimeSec: number; at: number } | undefined;
  /** Until when a live value we sent may sit in the overlay (clock ms); 0 after a removal succeeded. */
  liveUntil: number;
  /** A failed Store leaves the overlay's state unknown: retried until it matches ours. */
  failing: boolean;
  retryDelayMs: number;
  retryAt: number | undefined;
  timer: TimerHandle | undefined;
  nextAt: number | undefined;
  queue: Promise<void>;
  generation: bigint | undefined;
  replicas: Uint8Array[];
  stores: number;
  lastStore: RegistrationStatus['lastStore'];
  failureCount: number;
  failures: RegistrationStatus['failures'];
}

type Desired =
  { record: 'route' | 'uri'; value: SipRegistration; lifetimeSec: number; end: number } | { record: 'remove' };

const encoder = new TextEncoder();

export class OverlayRegistrations {
  private readonly states = new Map<string, AorState>();
  private readonly userName: string | undefined;
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly o: OverlayRegistrationsOptions) {
    this.now = o.now ?? Date.now;
    const names = readCertificate(o.node.certificate, o.overlayName, o.node.ctx.nodeIdLength).userNames;
    // RELOAD certificates carry exactly one user name; anything else registers nothing.
    this.userName = names.length === 1 ? names[0] : undefined;
  }

  /** The user name (AOR) of our certificate, the only AOR we may register. */
  get aor(): string | undefined {
    return this.userName;
  }

  /** True when `aor` (with or without sip:/sips:, %-escapes decoded) is our certificate's user name. */
  canRegister(aor: string): boolean {
    try {
      return this.userName !== undefined && normalizeAor(aor) === this.userName;
    } catch {
      return false;
    }
  }

  /**
   * Adds or refreshes a local UA's binding of `aor` and stores the AOR's route record. Resolves once the
   * overlay holds it; on failure the binding is as it was before the call and RegistrationStoreError says why.
   * Refusals (AOR, domain, arguments, size) come before any Store.
   */
  async register(aorInput: string, input: RegisterInput): Promise<{ expiresSec: number }> {
    const aor = this.admit(aorInput);
    const { bindingId, expiresSec, contactPrefs } = this.checkInput(input);
    if (expiresSec === 0) {
      await this.unregister(aor, bindingId);
      return { expiresSec: 0 };
    }
    // Every check before the state exists: a refused call leaves nothing behind.
    const existing = this.states.get(aor);
    const previous = existing?.bindings.get(bindingId);
    const count = existing?.bindings.size ?? 0;
    if (!previous && count >= (this.o.maxBindings ?? 16))
      throw new TooManyBindingsError('bindingId', `${aor} already has ${count} local bindings`);
    const others = existing ? this.otherLiveBindings(existing, bindingId) : [];
    const prefs = combineContactPrefs([...others.map((b) => b.contactPrefs), contactPrefs]);
    this.checkSize(this.routeValue(prefs), 'contactPrefs');
    const state = this.stateOf(aor);
    const binding: Binding = { id: bindingId, contactPrefs, expiresAt: this.o.clock.now() + expiresSec * 1000 };
    state.bindings.set(bindingId, binding);
    try {
      await this.enqueue(state);
    } catch (error) {
      // As a registrar that failed: the binding is what it was; the retry brings the overlay back to that.
      if (state.bindings.get(bindingId) === binding) {
        if (previous) state.bindings.set(bindingId, previous);
        else state.bindings.delete(bindingId);
        this.schedule(state);
      }
      throw error;
    }
    return { expiresSec };
  }

  /** Removes a local binding; the record goes (exists=false) when no binding and no forwarding remain. */
  async unregister(aorInput: string, bindingId: string): Promise<void> {
    const aor = this.admit(aorInput, false);
    if (typeof bindingId !== 'string') throw new RegistrationArgumentError('bindingId', 'must be a string');
    const state = this.states.get(aor);
    if (!state || !state.bindings.delete(bindingId)) return;
    await this.enqueue(state);
  }

  /**
   * Sets (or with undefined clears) the AOR-to-URI record: calls for `aor` go to `targetAor`. Only our own
   * AOR; the target may be any AOR (RFC 7904 §8: forwarding needs no consent of the target).
   */
  async setForwarding(aorInput: string, targetAor: string | undefined): Promise<void> {
    const aor = this.admit(aorInput);
    const target = targetAor === undefined ? undefined : normalizeAor(targetAor, 'targetAor');
    if (target === aor) throw new RegistrationArgumentError('targetAor', 'an AOR cannot forward to itself');
    if (target !== undefined) this.checkSize({ type: 'uri', uri: encoder.encode(target) }, 'targetAor');
    if (target === undefined && !this.states.has(aor)) return;
    const state = this.stateOf(aor);
    if (state.forwarding === target) return;
    const previous = state.forwarding;
    state.forwarding = target;
    try {
      await this.enqueue(state);
    } catch (error) {
      if (state.forwarding === target) {
        state.forwarding = previous;
        this.schedule(state);
      }
      throw error;
    }
  }

  /**
   * Removes every record we stored (exists=false) and stops all timers; waits at most `budgetMs` for the
   * Stores (the peer calls this before leaving the overlay). Returns how many removals the overlay confirmed
   * within the budget.
   */
  async stop(budgetMs = 3_000): Promise<number> {
    if (this.stopped) return 0;
    this.stopped = true;
    let removed = 0;
    const removals = [...this.states.values()].map((state) => {
      state.timer?.cancel();
      state.timer = undefined;
      state.bindings.clear();
      state.forwarding = undefined;
      return (state.queue = state.queue
        .catch(() => undefined)
        .then(() => this.storeNow(state))
        .then((stored) => void (stored === 'remove' && removed++))
        .catch(() => undefined));
    });
    let timer: TimerHandle | undefined;
    await Promise.race([
      Promise.all(removals),
      new Promise<void>((resolve) => (timer = this.o.clock.setTimeout(resolve, budgetMs))),
    ]);
    timer?.cancel();
    for (const state of this.states.values()) state.timer?.cancel();
    return removed;
  }

  /** For `sip-status`: each AOR with bindings, forwarding, or a removal still to confirm. */
  status(): RegistrationStatus[] {
    const now = this.o.clock.now();
    return [...this.states.values()].map((s) => {
      const desired = this.desired(s, now);
      return {
        aor: s.aor,
        resourceId: toHex(s.resourceId),
        record: desired.record === 'remove' ? 'none' : desired.record,
        ...(s.forwarding !== undefined ? { forwardingTo: s.forwarding } : {}),
        bindings: [...s.bindings.values()].map((b) => ({
          bindingId: b.id,
          contactPrefs: b.contactPrefs,
          expiresInSec: Math.max(0, Math.ceil((b.expiresAt - now) / 1000)),
        })),
        ...(s.stored
          ? {
              stored: {
                record: s.stored.record,
                lifetimeSec: s.stored.lifetimeSec,
                expiresInSec: Math.max(0, Math.ceil((s.stored.at + s.stored.lifetimeSec * 1000 - now) / 1000)),
              },
            }
          : {}),
        ...(s.generation !== undefined ? { generation: s.generation.toString() } : {}),
        ...(s.replicas.length > 0 ? { replicas: s.replicas.map(toHex) } : {}),
        ...(s.nextAt !== undefined ? { nextEventInSec: Math.max(0, Math.ceil((s.nextAt - now) / 1000)) } : {}),
        stores: s.stores,
        ...(s.lastStore ? { lastStore: { ...s.lastStore } } : {}),
        failureCount: s.failureCount,
        failures: s.failures.map((f) => ({ ...f })),
      };
    });
  }

  // ---- checks ----

  /** The normalized AOR if we may write records for it; the typed refusal otherwise (before any Store). */
  private admit(aorInput: string, checkDomain = true): string {
    if (this.stopped) throw new RegistrationsStoppedError('aor', 'the registrations service is stopped');
    const aor = normalizeAor(aorInput);
    if (this.userName === undefined)
      throw new AorNotAllowedError('aor', 'our certificate carries no single user name, so no AOR can be registered');
    if (aor !== this.userName)
      throw new AorNotAllowedError('aor', `"${aor.slice(0, 80)}" is not our certificate's user name ${this.userName}`);
    const kind = this.kind();
    if (checkDomain) checkDomainRestriction(kind, this.o.overlayName, aor);
    return aor;
  }

  private kind(): StorageKind {
    const kind = this.o.node.storage.service.kind(SIP_REGISTRATION_KIND);
    if (!kind || kind.dataModel !== 'DICTIONARY')
      throw new RegistrationKindMissingError('kind', 'the configuration has no SIP-REGISTRATION DICTIONARY Kind (0x1)');
    return kind;
  }

  private checkInput(input: RegisterInput): RegisterInput {
    if (typeof input !== 'object' || input === null) throw new RegistrationArgumentError('input', 'must be an object');
    const { bindingId, expiresSec, contactPrefs } = input;
    if (typeof bindingId !== 'string' || bindingId.length === 0 || bindingId.length > MAX_BINDING_ID_LENGTH)
      throw new RegistrationArgumentError('bindingId', `must be 1..${MAX_BINDING_ID_LENGTH} characters`);
    const max = this.o.maxExpiresSec ?? 86_400;
    if (!Number.isInteger(expiresSec) || expiresSec < 0 || expiresSec > max)
      throw new RegistrationArgumentError('expiresSec', `must be an integer 0..${max}`);
    if (typeof contactPrefs !== 'string' || contactPrefs.length > MAX_CONTACT_PREFS_LENGTH)
      throw new ContactPrefsError('contactPrefs', `must be a string of at most ${MAX_CONTACT_PREFS_LENGTH} characters`);
    if (!/^[\x20-\x7e]*$/.test(contactPrefs))
      throw new ContactPrefsError('contactPrefs', 'must be printable ASCII (an RFC 2533 filter)');
    return { bindingId, expiresSec, contactPrefs };
  }

  private checkSize(value: SipRegistration, field: string): void {
    const kind = this.kind();
    const size = encodeSipRegistration(value, this.o.node.ctx.nodeIdLength).length;
    if (size > kind.maxSize)
      throw new RegistrationTooLargeError(
        field,
        `the SipRegistration would be ${size} bytes; max-size is ${kind.maxSize}`,
      );
  }

  // ---- state ----

  private stateOf(aor: string): AorState {
    let state = this.states.get(aor);
    if (!state) {
      state = {
        aor,
        resourceId: resourceIdFor(aor, this.o.node.ctx.nodeIdLength),
        bindings: new Map(),
        forwarding: undefined,
        stored: undefined,
        liveUntil: 0,
        failing: false,
        retryDelayMs: this.o.retryMinMs ?? 5_000,
        retryAt: undefined,
        timer: undefined,
        nextAt: undefined,
        queue: Promise.resolve(),
        generation: undefined,
        replicas: [],
        stores: 0,
        lastStore: undefined,
        failureCount: 0,
        failures: [],
      };
      this.states.set(aor, state);
    }
    return state;
  }

  private otherLiveBindings(state: AorState, bindingId: string): Binding[] {
    const now = this.o.clock.now();
    return [...state.bindings.values()].filter((b) => b.id !== bindingId && b.expiresAt > now);
  }

  private routeValue(contactPrefs: string): SipRegistration {
    const destinations = this.o.destinationList?.() ?? [{ type: 'node', id: this.o.node.nodeId }];
    if (!Array.isArray(destinations) || destinations.length < 1 || destinations.length > MAX_DESTINATIONS)
      throw new RegistrationArgumentError('destinationList', `must list 1..${MAX_DESTINATIONS} destinations`);
    return { type: 'route', contactPrefs: encoder.encode(contactPrefs), destinations };
  }

  /** What the overlay should hold for `state` at clock time `now`. */
  private desired(state: AorState, now: number): Desired {
    const cap = this.o.maxRecordLifetimeSec ?? 3_600;
    if (state.forwarding !== undefined) {
      const lifetimeSec = Math.min(cap, this.o.forwardingLifetimeSec ?? 3_600);
      return {
        record: 'uri',
        value: { type: 'uri', uri: encoder.encode(state.forwarding) },
        lifetimeSec,
        end: Infinity,
      };
    }
    const live = [...state.bindings.values()].filter((b) => b.expiresAt > now);
    if (live.length === 0) return { record: 'remove' };
    const end = Math.max(...live.map((b) => b.expiresAt));
    const lifetimeSec = Math.max(1, Math.min(cap, Math.ceil((end - now) / 1000)));
    return {
      record: 'route',
      value: this.routeValue(combineContactPrefs(live.map((b) => b.contactPrefs))),
      lifetimeSec,
      end,
    };
  }

  // ---- storing ----

  /** Runs storeNow after whatever runs for this AOR (one Store at a time per AOR, so storage_time order holds). */
  private async enqueue(state: AorState): Promise<void> {
    const run = state.queue.catch(() => undefined).then(() => this.storeNow(state));
    state.queue = run.then(
      () => undefined,
      () => undefined,
    );
    await run;
  }

  /**
   * Brings the overlay to what `desired` says: Store the record, or exists=false when one may be live.
   * Returns what it stored (undefined: nothing needed storing).
   */
  private async storeNow(state: AorState): Promise<RecordKind | undefined> {
    const now = this.o.clock.now();
    for (const b of [...state.bindings.values()]) if (b.expiresAt <= now) state.bindings.delete(b.id);
    const desired = this.desired(state, now);
    if (desired.record === 'remove' && state.liveUntil <= now) {
      state.failing = false;
      this.finish(state);
      return undefined;
    }
    const lifetimeSec =
      desired.record === 'remove'
        ? Math.max(MIN_TOMBSTONE_SEC, Math.ceil((state.liveUntil - now) / 1000))
        : desired.lifetimeSec;
    const value =
      desired.record === 'remove'
        ? { exists: false, value: new Uint8Array(0) }
        : { exists: true, value: encodeSipRegistration(desired.value, this.o.node.ctx.nodeIdLength) };
    if (desired.record !== 'remove') state.liveUntil = Math.max(state.liveUntil, now + lifetimeSec * 1000);
    state.stores++;
    try {
      const answer = await this.o.node.storage.store(SIP_REGISTRATION_KIND, state.resourceId, [
        { lifetime: lifetimeSec, value: { model: 'dictionary', key: this.o.node.nodeId, value } },
      ]);
      const response = answer.kindResponses.find((k) => k.kind === SIP_REGISTRATION_KIND);
      state.generation = response?.generationCounter;
      state.replicas = response?.replicas.map((r) => r.slice()) ?? [];
      state.stored = { record: desired.record, lifetimeSec, at: now };
      if (desired.record === 'remove') state.liveUntil = 0;
      state.failing = false;
      state.retryAt = undefined;
      state.retryDelayMs = this.o.retryMinMs ?? 5_000;
      state.lastStore = { ok: true, at: this.now(), record: desired.record };
      this.finish(state);
      return desired.record;
    } catch (error) {
      const reason = describe(error);
      state.failing = true;
      state.failureCount++;
      state.failures.push({ at: this.now(), record: desired.record, reason });
      if (state.failures.length > MAX_FAILURES_KEPT) state.failures.shift();
      state.lastStore = { ok: false, at: this.now(), record: desired.record, error: reason };
      state.retryAt = this.o.clock.now() + state.retryDelayMs;
      state.retryDelayMs = Math.min(state.retryDelayMs * 2, this.o.retryMaxMs ?? 120_000);
      this.o.log.warn('SIP registration store failed', { aor: state.aor, record: desired.record, error: reason });
      this.schedule(state);
      throw new RegistrationStoreError('store', `${desired.record} record for ${state.aor}: ${reason}`, {
        cause: error,
      });
    }
  }

  /** After a Store: forget a finished AOR, or set the timer for its next expiry, refresh or retry. */
  private finish(state: AorState): void {
    if (
      state.bindings.size === 0 &&
      state.forwarding === undefined &&
      !state.failing &&
      state.liveUntil <= this.o.clock.now()
    ) {
      state.timer?.cancel();
      state.timer = undefined;
      state.nextAt = undefined;
      if (!this.stopped) this.states.delete(state.aor);
      return;
    }
    this.schedule(state);
  }

  private schedule(state: AorState): void {
    state.timer?.cancel();
    state.timer = undefined;
    state.nextAt = undefined;
    if (this.stopped) return;
    const now = this.o.clock.now();
    const times: number[] = [];
    for (const b of state.bindings.values()) times.push(b.expiresAt);
    if (state.failing && state.retryAt !== undefined) times.push(state.retryAt);
    const desired = this.desired(state, now);
    const stored = state.stored;
    if (desired.record !== 'remove' && stored && stored.record !== 'remove') {
      // Refresh only when the record would run out before what it stands for.
      const storedEnd = stored.at + stored.lifetimeSec * 1000;
      if (desired.end > storedEnd) times.push(stored.at + stored.lifetimeSec * 1000 * REFRESH_FRACTION);
    }
    if (times.length === 0) return;
    const at = Math.min(...times);
    state.nextAt = at;
    state.timer = this.o.clock.setTimeout(
      () => {
        state.timer = undefined;
        this.enqueue(state).catch(() => undefined); // failures are counted and retried in storeNow
      },
      Math.max(0, at - now),
    );
  }
}

function describe(error: unknown): string {
  if (error instanceof ErrorResponseError) return `${error.name} ${error.errorCode}: ${error.message}`.slice(0, 300);
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 300);
  return String(error).slice(0, 300);
}
