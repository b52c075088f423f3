/**
 * AOR and GRUU resolution (RFC 7904 §4, §6, §8): a call target becomes the destination lists to AppAttach to.
 * A GRUU of this overlay needs no Fetch. An AOR is fetched (wildcard, all devices); `uri` entries are followed
 * depth-first — a loop (an AOR already on the chain) and a chain deeper than `maxDepth` stop that branch, an
 * AOR reached twice by different branches is fetched once — and the whole walk is capped at `maxForks`
 * (routes plus forwards followed), because the caller itself follows every retarget (§8, fork explosion).
 * Equal destination lists are kept once. Fetch results are cached per AOR (registration-cache.ts).
 */
import { toHex, type Clock, type DecodeContext, type Destination } from '../../reload';
import { parseCallTarget, type CallTarget, type CallTargetOptions } from './call-target';
import { TargetError } from './errors';
import { RegistrationCache } from './registration-cache';
import { RegistrationFetchError, type FetchedRegistration, type RegistrationSource } from './registration-source';
import type { TelephoneNumberOptions } from './telephone-number';

export interface ResolvedTarget {
  /** The AOR whose registration (or GRUU) gave this route. */
  aor: string;
  destinations: Destination[];
  /** The last entry of the destination list: the Node-ID the callee's certificate must carry (§5.1). */
  nodeId: Uint8Array | undefined;
  /** RFC 3840 predicate as registered, e.g. "(sip.schemes=SIPS)"; "" when none or a GRUU. */
  contactPrefs: string;
  /** The forwarding chain from the resolved AOR up to (not including) `aor`; empty when registered directly. */
  viaAors: string[];
  /** The dictionary key (registering device); undefined for a GRUU. */
  registeredBy: Uint8Array | undefined;
}

export type ResolutionProblem =
  | { kind: 'loop'; chain: string[] }
  | { kind: 'depth-exceeded'; chain: string[] }
  | { kind: 'too-many-forks'; limit: number }
  | { kind: 'fetch-failed'; aor: string; reason: string }
  | { kind: 'bad-forward'; aor: string; reason: string };

export type ResolutionStatus =
  | 'found'
  | 'not-found'
  | 'loop'
  | 'depth-exceeded'
  | 'too-many-forks'
  | 'fetch-failed'
  /** The AOR's domain is not this overlay's (RFC 7904 §4.1 step 3: another overlay or plain SIP). */
  | 'not-served';

export interface Resolution {
  status: ResolutionStatus;
  /** The AOR the target named (normalised). */
  aor: string;
  /** Non-empty exactly when status is 'found'. */
  targets: ResolvedTarget[];
  /** Forwards to AORs of domains this overlay does not serve (left to other procedures, §4.2 step 3). */
  external: string[];
  /** What cut branches short; with status 'found' the other branches still gave targets. */
  problems: ResolutionProblem[];
  /** Why nothing was found (status other than 'found'), for logs and the UI. */
  reason: string;
}

export interface AorResolverOptions {
  source: RegistrationSource;
  clock: Clock;
  /** The domains this overlay serves (lowercase); the first is where telephone numbers live. */
  domains: readonly string[];
  ctx: DecodeContext;
  telephone?: TelephoneNumberOptions;
  /** Forwarding hops followed from the resolved AOR (default 8). */
  maxDepth?: number;
  /** Routes plus forwards followed in one resolution (default 32). */
  maxForks?: number;
  cache?: { maxPositiveMs?: number; negativeMs?: number; maxEntries?: number };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function destinationKey(list: readonly Destination[]): string {
  return list
    .map((d) => {
      switch (d.type) {
        case 'compressed':
          return `c${d.id}`;
        case 'unknown':
          return `u${d.code}:${toHex(d.data)}`;
        default:
          return `${d.type[0]}${toHex(d.id)}`;
      }
    })
    .join('/');
}

function lastNodeId(list: readonly Destination[]): Uint8Array | undefined {
  const last = list[list.length - 1];
  return last?.type === 'node' ? last.id : undefined;
}

/** One resolution's running state. */
interface Walk {
  targets: Map<string, ResolvedTarget>;
  external: Set<string>;
  problems: ResolutionProblem[];
  fetched: Set<string>;
  forks: number;
  capped: boolean;
}

export class AorResolver {
  readonly cache: RegistrationCache;
  readonly maxDepth: number;
  readonly maxForks: number;
  readonly counters = { fetches: 0, cacheHits: 0, fetchFailures: 0, discarded: 0 };
  private readonly inFlight = new Map<string, Promise<FetchedRegistration[]>>();
  private readonly targetOptions: CallTargetOptions;

  constructor(private readonly o: AorResolverOptions) {
    this.cache = new RegistrationCache({ clock: o.clock, ...o.cache });
    this.maxDepth = o.maxDepth ?? 8;
    this.maxForks = o.maxForks ?? 32;
    this.targetOptions = {
      domains: o.domains.map((d) => d.toLowerCase()),
      ctx: o.ctx,
      ...(o.telephone ? { telephone: o.telephone } : {}),
    };
  }

  /** Parses a target (AOR, sip:/sips: URI, GRUU, dialled number, tel: URI); throws a TargetError when bad. */
  parse(target: string): CallTarget {
    return parseCallTarget(target, this.targetOptions);
  }

  /** Resolves `target`; bad input throws a TargetError, everything the overlay says is in the result. */
  async resolve(target: string): Promise<Resolution> {
    const parsed = this.parse(target);
    if (parsed.kind === 'gruu') {
      const destinations = parsed.destinations;
      return {
        status: 'found',
        aor: parsed.aor,
        targets: [
          {
            aor: parsed.aor,
            destinations,
            nodeId: lastNodeId(destinations),
            contactPrefs: '',
            viaAors: [],
            registeredBy: undefined,
          },
        ],
        external: [],
        problems: [],
        reason: '',
      };
    }
    if (!parsed.served)
      return {
        status: 'not-served',
        aor: parsed.aor,
        targets: [],
        external: [parsed.aor],
        problems: [],
        reason: `this overlay does not serve ${parsed.domain}`,
      };
    const walk: Walk = {
      targets: new Map(),
      external: new Set(),
      problems: [],
      fetched: new Set(),
      forks: 0,
      capped: false,
    };
    await this.follow(parsed.aor, [], walk);
    const targets = [...walk.targets.values()];
    const base = { aor: parsed.aor, targets, external: [...walk.external], problems: walk.problems };
    if (targets.length > 0) return { status: 'found', ...base, reason: '' };
    return { ...base, ...this.failure(parsed.aor, walk) };
  }

  /** Drops what is cached for `aor` (e.g. after our own registration changed it). */
  invalidate(aor: string): void {
    this.cache.invalidate(aor);
  }

  /**
   * The checked, live registrations stored at `aor` itself (no forwarding followed): from the cache unless
   * `fresh`, in which case a Fetch is made and its result cached. Throws RegistrationFetchError.
   */
  async registrations(aor: string, options: { fresh?: boolean } = {}): Promise<FetchedRegistration[]> {
    if (!options.fresh) {
      const cached = this.cache.get(aor);
      if (cached) {
        this.counters.cacheHits++;
        return this.live(cached);
      }
    }
    // Two callers asking at once share one Fetch.
    const pending = this.inFlight.get(aor);
    if (pending) return pending;
    const fetching = this.fetch(aor).finally(() => this.inFlight.delete(aor));
    this.inFlight.set(aor, fetching);
    return fetching;
  }

  private async fetch(aor: string): Promise<FetchedRegistration[]> {
    if (!this.o.source.joined) {
      this.counters.fetchFailures++;
      throw new RegistrationFetchError('not joined to an overlay');
    }
    this.counters.fetches++;
    try {
      const result = await this.o.source.fetch(aor);
      this.counters.discarded += result.discarded.length;
      this.cache.put(aor, result.values, this.o.source.now());
      return this.live(result.values);
    } catch (error) {
      this.counters.fetchFailures++;
      throw error instanceof RegistrationFetchError
        ? error
        : new RegistrationFetchError((error as Error).message, { cause: error });
    }
  }

  private live(values: FetchedRegistration[]): FetchedRegistration[] {
    const now = this.o.source.now();
    return values.filter((v) => v.expiresAt > now);
  }

  /** Counts one fork; false (and a too-many-forks problem, once) when the cap is reached. */
  private fork(walk: Walk): boolean {
    if (walk.forks >= this.maxForks) {
      if (!walk.capped) walk.problems.push({ kind: 'too-many-forks', limit: this.maxForks });
      walk.capped = true;
      return false;
    }
    walk.forks++;
    return true;
  }

  /** Depth-first over `uri` entries; `chain` = the AORs forwarded through to reach `aor`. */
  private async follow(aor: string, chain: string[], walk: Walk): Promise<void> {
    if (chain.includes(aor)) return void walk.problems.push({ kind: 'loop', chain: [...chain, aor] });
    if (chain.length > this.maxDepth)
      return void walk.problems.push({ kind: 'depth-exceeded', chain: [...chain, aor] });
    if (walk.fetched.has(aor)) return; // reached by another branch: its targets are in already
    walk.fetched.add(aor);
    let values: FetchedRegistration[];
    try {
      values = await this.registrations(aor);
    } catch (error) {
      return void walk.problems.push({ kind: 'fetch-failed', aor, reason: (error as Error).message });
    }
    // Dictionary order (by key) so that the cap cuts the same entries every time.
    const sorted = [...values].sort((a, b) => Buffer.compare(a.key, b.key));
    for (const { key, registration } of sorted) {
      if (walk.capped) return;
      if (registration.type === 'route') {
        const id = destinationKey(registration.destinations);
        if (walk.targets.has(id)) continue; // the same list twice is one target
        if (!this.fork(walk)) return;
        let contactPrefs: string;
        try {
          contactPrefs = utf8.decode(registration.contactPrefs);
        } catch {
          contactPrefs = '';
        }
        walk.targets.set(id, {
          aor,
          destinations: registration.destinations,
          nodeId: lastNodeId(registration.destinations),
          contactPrefs,
          viaAors: chain,
          registeredBy: key,
        });
      } else if (registration.type === 'uri') {
        await this.forward(aor, registration.uri, chain, walk);
      }
      // Unknown registration types carry nothing we can route to.
    }
  }

  private async forward(aor: string, uri: Uint8Array, chain: string[], walk: Walk): Promise<void> {
    let next: CallTarget;
    try {
      next = parseCallTarget(utf8.decode(uri), this.targetOptions, `uri of ${aor}`);
    } catch (error) {
      if (error instanceof TargetError || error instanceof TypeError)
        return void walk.problems.push({ kind: 'bad-forward', aor, reason: (error as Error).message });
      throw error;
    }
    if (next.kind === 'gruu') {
      const id = destinationKey(next.destinations);
      if (walk.targets.has(id) || !this.fork(walk)) return;
      walk.targets.set(id, {
        aor: next.aor,
        destinations: next.destinations,
        nodeId: lastNodeId(next.destinations),
        contactPrefs: '',
        viaAors: [...chain, aor],
        registeredBy: undefined,
      });
      return;
    }
    if (!next.served) return void walk.external.add(next.aor);
    if (chain.includes(next.aor) || next.aor === aor)
      return void walk.problems.push({ kind: 'loop', chain: [...chain, aor, next.aor] });
    if (!this.fork(walk)) return;
    await this.follow(next.aor, [...chain, aor], walk);
  }

  /** The status and reason when no target was found: a failure beats a loop beats the limits. */
  private failure(aor: string, walk: Walk): { status: ResolutionStatus; reason: string } {
    const first = (kind: ResolutionProblem['kind']) => walk.problems.find((p) => p.kind === kind);
    const failed = first('fetch-failed');
    if (failed?.kind === 'fetch-failed') return { status: 'fetch-failed', reason: `${failed.aor}: ${failed.reason}` };
    const loop = first('loop');
    if (loop?.kind === 'loop') return { status: 'loop', reason: `forwarding loop ${loop.chain.join(' → ')}` };
    const deep = first('depth-exceeded');
    if (deep?.kind === 'depth-exceeded')
      return { status: 'depth-exceeded', reason: `more than ${this.maxDepth} forwarding hops from ${aor}` };
    if (walk.capped) return { status: 'too-many-forks', reason: `more than ${this.maxForks} forks` };
    if (walk.external.size > 0)
      return { status: 'not-served', reason: `forwarded only to AORs this overlay does not serve` };
    return { status: 'not-found', reason: `${aor} has no live registration` };
  }
}
