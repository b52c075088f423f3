/**
 * Time behind an interface, so the same protocol code runs on real timers and on a virtual clock that a
 * simulation advances by hand (thousands of nodes in one process, deterministic tests).
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
}

export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** A clock that moves only when told to; timers fire in time order (ties in scheduling order). */
export class VirtualClock implements Clock {
  private time = 0;
  private seq = 0;
  private readonly heap: Pending[] = [];

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const entry: Pending = { at: this.time + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.push(entry);
    return { cancel: () => void (entry.cancelled = true) };
  }

  get pending(): number {
    return this.heap.filter((e) => !e.cancelled).length;
  }

  /** Runs every timer due up to now + ms, in order, then sets the time to now + ms. */
  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      const next = this.heap[0];
      if (!next || next.at > until) break;
      this.pop();
      if (next.cancelled) continue;
      this.time = next.at;
      next.fn();
    }
    this.time = until;
  }

  /** Runs timers until none are left or `limitMs` of virtual time has passed; returns the time used. */
  runUntilIdle(limitMs = 3_600_000): number {
    const start = this.time;
    while (this.heap.length > 0) {
      const next = this.heap[0] as Pending;
      if (next.at - start > limitMs) break;
      this.advance(next.at - this.time);
    }
    return this.time - start;
  }

  private push(e: Pending): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i] as Pending, h[p] as Pending)) break;
      [h[i], h[p]] = [h[p] as Pending, h[i] as Pending];
      i = p;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop() as Pending;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l] as Pending, h[m] as Pending)) m = l;
      if (r < h.length && before(h[r] as Pending, h[m] as Pending)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m] as Pending, h[i] as Pending];
      i = m;
    }
  }
}

function before(a: Pending, b: Pending): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
