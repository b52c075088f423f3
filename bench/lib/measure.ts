/** Small, dependency-free timing: warm up, then several timed rounds; the median round is reported. */
export interface Measurement {
  name: string;
  /** Median over rounds. */
  nsPerOp: number;
  opsPerSec: number;
  rounds: number[];
}

export function measure(
  name: string,
  fn: () => void,
  options: { roundMs?: number; rounds?: number; warmupMs?: number } = {},
): Measurement {
  const roundMs = options.roundMs ?? 400;
  const roundsWanted = options.rounds ?? 7;
  spin(fn, options.warmupMs ?? 300);
  const rounds: number[] = [];
  for (let r = 0; r < roundsWanted; r++) {
    const { ops, ns } = spin(fn, roundMs);
    rounds.push(ns / ops);
  }
  const sorted = [...rounds].sort((a, b) => a - b);
  const nsPerOp = sorted[Math.floor(sorted.length / 2)] as number;
  return { name, nsPerOp, opsPerSec: 1e9 / nsPerOp, rounds };
}

/** Runs fn in batches until `ms` have passed (bounded: it always stops). */
function spin(fn: () => void, ms: number): { ops: number; ns: number } {
  const start = process.hrtime.bigint();
  const limit = BigInt(ms) * 1_000_000n;
  let ops = 0;
  let batch = 1;
  for (;;) {
    for (let i = 0; i < batch; i++) fn();
    ops += batch;
    const elapsed = process.hrtime.bigint() - start;
    if (elapsed >= limit) return { ops, ns: Number(elapsed) };
    if (batch < 4096) batch *= 2;
  }
}

export function formatNs(ns: number): string {
  return ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(2)} µs` : `${ns.toFixed(0)} ns`;
}
