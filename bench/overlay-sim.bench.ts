/**
 * The overlay in simulation (bench/overlay): N peers of the real node code over the in-memory network and a
 * virtual clock, CHORD-RELOAD at the configuration defaults (chord-update-interval 600 s, chord-ping-interval
 * 3600 s, reactive). Measures joins, hops per lookup, lookup success in a stable ring and under churn
 * (exponential session times), maintenance traffic per peer, and memory per simulated peer. Every loop is
 * bounded by count and by virtual and real time.
 */
import { OverlaySimulation, type SimNode } from '../src-main/reload/sim';

export interface SimBenchResult {
  n: number;
  createSeconds: number;
  joinSeconds: number;
  joinFailures: number;
  ringErrors: number;
  heapPerPeerKiB: number;
  stable: LookupStats;
  maintenanceBytesPerPeerPerSecond: number;
  churn?: LookupStats & { sessionMeanSeconds: number; minutes: number; departures: number; arrivals: number };
}

export interface LookupStats {
  lookups: number;
  answered: number;
  correct: number;
  meanHops: number;
  p99Hops: number;
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number);

function heapUsed(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

function randomId(sim: OverlaySimulation): Uint8Array {
  return Uint8Array.from({ length: 16 }, () => Math.floor(sim.random() * 256));
}

function totalBytesSent(sim: OverlaySimulation): number {
  let bytes = 0;
  for (const n of sim.nodes) if (n.alive) for (const l of n.node.links.status()) bytes += l.stats.bytesSent;
  return bytes;
}

/** Fires `count` lookups from random live peers to random IDs and scores them as they settle (not driving time). */
function lookups(sim: OverlaySimulation, count: number, stats: LookupStats, hops: number[]): Promise<void> {
  const live = sim.nodes.filter((n) => n.alive && n.node.ready);
  const pending: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const from = live[Math.floor(sim.random() * live.length)] as SimNode;
    const id = randomId(sim);
    stats.lookups++;
    pending.push(
      from.node.transport
        .request([{ type: 'resource', id }], { method: 'ping_req', value: { padding: new Uint8Array(0) } })
        .then(
          (answer) => {
            stats.answered++;
            hops.push(answer.message.header.viaList.length + 1);
            const responsible = sim.responsibleFor(id);
            if (responsible && Buffer.from(responsible.node.nodeId).equals(Buffer.from(answer.from.nodeIds[0]!)))
              stats.correct++;
          },
          () => undefined,
        ),
    );
  }
  return Promise.all(pending).then(() => undefined);
}

function finish(stats: LookupStats, hops: number[]): LookupStats {
  hops.sort((a, b) => a - b);
  return {
    ...stats,
    meanHops: hops.reduce((a, b) => a + b, 0) / Math.max(1, hops.length),
    p99Hops: percentile(hops, 99),
  };
}

export async function runOverlaySimBench(
  n: number,
  options: { churnMinutes?: number; sessionMeanSeconds?: number; log?: (line: string) => void } = {},
): Promise<SimBenchResult> {
  const log = options.log ?? console.log;
  const heapBefore = heapUsed();
  const t0 = performance.now();
  const sim = await OverlaySimulation.create({
    nodes: n,
    seed: n,
    chord: { updateIntervalMs: 600_000, fingerIntervalMs: 3_600_000, reactive: true },
    replicaHoldDownMs: 30_000,
    refreshIntervalMs: 300_000,
  });
  const createSeconds = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  let joinFailures = (await sim.startMany([0])).length;
  const batch = 20;
  for (let i = 1; i < n; i += batch) {
    joinFailures += (await sim.startMany(Array.from({ length: Math.min(batch, n - i) }, (_, k) => i + k))).length;
    if (performance.now() - t1 > 3_600_000) throw new Error('joins took over an hour of real time');
  }
  const joinSeconds = (performance.now() - t1) / 1000;
  await sim.run(60_000, 20);
  const ringErrors = sim.ringErrors().length;
  const heapPerPeerKiB = (heapUsed() - heapBefore) / n / 1024;
  const fingers = sim.nodes.reduce((sum, x) => sum + x.node.table.fingerTable.size, 0) / n;
  log(`  fingers per peer: ${fingers.toFixed(1)}; errors: ${JSON.stringify(sim.ringErrors().slice(0, 2))}`);
  log(
    `sim N=${n}: created ${createSeconds.toFixed(1)} s, joined ${joinSeconds.toFixed(1)} s (${joinFailures} failed), ring errors ${ringErrors}, heap ${heapPerPeerKiB.toFixed(0)} KiB/peer`,
  );

  // Stable ring: lookups, then maintenance traffic over two update intervals with nothing else going on.
  const stableHops: number[] = [];
  const stable: LookupStats = { lookups: 0, answered: 0, correct: 0, meanHops: 0, p99Hops: 0 };
  for (let k = 0; k < 10; k++) await sim.until(lookups(sim, 100, stable, stableHops), 60_000);
  const stableResult = finish(stable, stableHops);
  log(
    `  stable: ${stableResult.correct}/${stableResult.lookups} correct, hops mean ${stableResult.meanHops.toFixed(2)} p99 ${stableResult.p99Hops}`,
  );
  const bytes0 = totalBytesSent(sim);
  const window = 1_200_000;
  await sim.run(window, 200);
  const live = sim.nodes.filter((x) => x.alive).length;
  const maintenance = (totalBytesSent(sim) - bytes0) / live / (window / 1000);
  log(`  maintenance: ${maintenance.toFixed(1)} bytes/s per peer`);

  const result: SimBenchResult = {
    n,
    createSeconds,
    joinSeconds,
    joinFailures,
    ringErrors,
    heapPerPeerKiB,
    stable: stableResult,
    maintenanceBytesPerPeerPerSecond: maintenance,
  };

  if (options.churnMinutes) {
    // Churn: every live peer leaves (dies, no Leave) at rate 1/mean; a new peer joins for each that leaves.
    const mean = options.sessionMeanSeconds ?? 600;
    const churnHops: number[] = [];
    const churn: LookupStats = { lookups: 0, answered: 0, correct: 0, meanHops: 0, p99Hops: 0 };
    let departures = 0;
    let arrivals = 0;
    const started = performance.now();
    const inFlight: Promise<void>[] = [];
    for (let second = 0; second < options.churnMinutes * 60; second++) {
      const alive = sim.nodes.filter((x) => x.alive && x.node.ready);
      let leaving = 0;
      for (let i = 0; i < alive.length; i++) if (sim.random() < 1 / mean) leaving++;
      for (let i = 0; i < leaving; i++) {
        const victim = alive.splice(Math.floor(sim.random() * alive.length), 1)[0];
        if (!victim) break;
        await sim.kill(victim.index);
        departures++;
        const fresh = await sim.addNode();
        const via = alive[Math.floor(sim.random() * alive.length)] as SimNode;
        const [host, port] = via.address.split(':') as [string, string];
        void fresh.node.start({ bootstrapNodes: [{ host, port: Number(port) }] }).then(
          () => void arrivals++,
          () => undefined,
        );
      }
      inFlight.push(lookups(sim, 2, churn, churnHops));
      await sim.run(1_000, 20);
      if (performance.now() - started > 3_600_000) break;
    }
    await sim.until(Promise.all(inFlight), 60_000);
    const c = finish(churn, churnHops);
    result.churn = { ...c, sessionMeanSeconds: mean, minutes: options.churnMinutes, departures, arrivals };
    log(
      `  churn (${mean} s mean session, ${options.churnMinutes} min): ${c.answered}/${c.lookups} answered, ${c.correct} correct, ${departures} left, ${arrivals} joined`,
    );
  }
  return result;
}
