/**
 * Attach setup time on loopback: from `attach()` to a usable link, with the Attach request and answer
 * routed through a third node (A→B→C), for ICE (gathering, checks, DTLS handshake over the selected pair)
 * and for No-ICE TLS (the answerer connects back to the requester's passive candidate). Each round
 * closes the link again and waits until both sides dropped it. Bounded by rounds and by time.
 */
import { bootstrap } from '../src-main/reload/transport';
import { attachOverlay, type OverlayNode } from '../test/support/attach-overlay';
import { makeNodes } from '../test/support/node-identities';

export interface AttachBenchResult {
  mode: 'ice' | 'no-ice';
  samples: number;
  p50: number;
  p99: number;
  mean: number;
  /** ICE only: the requester's phases, medians. */
  phases?: { gather: number; ice: number; dtls: number };
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
const median = (xs: number[]) =>
  percentile(
    [...xs].sort((x, y) => x - y),
    50,
  );
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function runAttachBench(
  mode: 'ice' | 'no-ice',
  log: (line: string) => void = console.log,
): Promise<AttachBenchResult> {
  const ids = await makeNodes(3);
  const overlay = await attachOverlay(ids, mode);
  const [a, b, c] = overlay.nodes as [OverlayNode, OverlayNode, OverlayNode];
  for (const n of [a, c])
    await bootstrap({
      addresses: [b.endpoint.address],
      connect: (address) => n.endpoint.connect(address),
      accept: (link) => n.table.add(link),
      attach: n.attach,
      nodeId: n.node.nodeId,
    });
  const target = { type: 'node' as const, id: c.node.nodeId };
  const times: number[] = [];
  const stopAt = Date.now() + 60_000;
  for (let round = 0; round < 105 && Date.now() < stopAt; round++) {
    const t0 = performance.now();
    const link = await a.attach.attach(target);
    const elapsed = performance.now() - t0;
    if (round >= 5) times.push(elapsed); // the first rounds warm up JIT and caches
    await link.close();
    for (let i = 0; i < 250 && (a.transport.linkTo(c.node.nodeId) || c.transport.linkTo(a.node.nodeId)); i++)
      await sleep(4);
  }
  await overlay.close();
  times.sort((x, y) => x - y);
  const requester = a.timings.slice(5).filter((t) => t.role === 'requester');
  const result: AttachBenchResult = {
    mode,
    samples: times.length,
    p50: percentile(times, 50),
    p99: percentile(times, 99),
    mean: times.reduce((s, x) => s + x, 0) / times.length,
    ...(mode === 'ice'
      ? {
          phases: {
            gather: median(requester.map((t) => t.gatherMs)),
            ice: median(requester.map((t) => t.iceMs)),
            dtls: median(requester.map((t) => t.dtlsMs)),
          },
        }
      : {}),
  };
  log(
    `Attach (${mode}) A→C via B: p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms (${result.samples} samples)` +
      (result.phases
        ? `; requester medians: gather ${result.phases.gather.toFixed(1)}, ICE ${result.phases.ice.toFixed(1)}, DTLS ${result.phases.dtls.toFixed(1)} ms`
        : ''),
  );
  return result;
}
