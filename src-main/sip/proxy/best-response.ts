/**
 * Choosing the response a forking proxy sends upstream when no branch answered 2xx (RFC 3261 §16.7
 * step 6). The choice depends only on the set of (status, branch, origin) outcomes, never on arrival
 * order, so every permutation of the same branch answers gives the same result:
 *   1. any 6xx wins (lowest 6xx code);
 *   2. otherwise the lowest class (3xx < 4xx < 5xx);
 *   3. within the class: the codes §16.7 prefers (401, 407, 415, 420, 484), then definite answers from a
 *      UA (486, 403, ...), then the "not here" answers 404, 408, 480 and anything the proxy made up itself
 *      (timeouts, unreachable targets) — a real device's answer says more than a missing one;
 *   4. ties: the lowest code, then the earliest branch (target order, fixed before any answer arrives).
 */

export interface BranchOutcome {
  readonly status: number;
  /** The branch's position in the target list. */
  readonly branch: number;
  /** True when the proxy generated the response (timer C, unreachable target), not a downstream UA. */
  readonly synthesized: boolean;
}

const PREFERRED = new Set([401, 407, 415, 420, 484]);
const WEAK = new Set([404, 408, 480]);

function rank(o: BranchOutcome): number {
  if (PREFERRED.has(o.status)) return 0;
  if (o.synthesized || WEAK.has(o.status)) return 2;
  return 1;
}

function better(a: BranchOutcome, b: BranchOutcome): boolean {
  const ca = Math.floor(a.status / 100);
  const cb = Math.floor(b.status / 100);
  if (ca !== cb) {
    if (ca === 6) return true;
    if (cb === 6) return false;
    return ca < cb;
  }
  if (ca !== 6) {
    const ra = rank(a);
    const rb = rank(b);
    if (ra !== rb) return ra < rb;
  }
  if (a.status !== b.status) return a.status < b.status;
  return a.branch < b.branch;
}

/** The best of non-empty `outcomes` (all final, 300-699); returns its index in the array. */
export function bestResponseIndex(outcomes: readonly BranchOutcome[]): number {
  if (outcomes.length === 0) throw new RangeError('no responses to choose from');
  let best = 0;
  for (let i = 1; i < outcomes.length; i++) {
    if (better(outcomes[i] as BranchOutcome, outcomes[best] as BranchOutcome)) best = i;
  }
  return best;
}

/** §16.7 step 6: a 503 from downstream must not make the upstream element think *we* are overloaded. */
export function upstreamStatus(status: number): number {
  return status === 503 ? 500 : status;
}
