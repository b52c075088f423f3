/**
 * `npm run bench`: runs the benchmarks and writes bench/results/<name>.md with PNG plots. Every loop is
 * bounded by time; nothing here touches the network. Figures are machine-dependent: the report records
 * the machine they came from.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { barChartSvg, svgToPng } from './lib/chart';
import { runAppBench } from './app.bench';
import { runAttachBench } from './attach.bench';
import { runLinkBench } from './links.bench';
import { runOverlaySimBench, type SimBenchResult } from './overlay-sim.bench';
import { runOverlayProcessesBench } from './overlay-processes.bench';
import { runSipBench } from './sip.bench';
import { runWireBench } from './wire.bench';

const results = new URL('./results/', import.meta.url);

function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpu}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
}

async function wire(): Promise<void> {
  console.log('== wire codec and signatures');
  const r = await runWireBench();
  const rows = r.measurements.map(
    (m) => `| ${m.name} | ${(m.nsPerOp / 1000).toFixed(2)} | ${Math.round(m.opsPerSec).toLocaleString('en')} |`,
  );
  const verdict = r.codecToEcdsaSignRatio < 0.1 ? 'met' : 'NOT met';
  const md = [
    '# Wire codec and signature benchmark',
    '',
    `Machine: ${machine()}. One core (Node's main thread). Command: \`npm run bench\` (bench/wire.bench.ts).`,
    'Each figure is the median of 7 rounds of 400 ms after a 300 ms warm-up.',
    '',
    `Messages: a Store request with one SIP-REGISTRATION dictionary entry (${r.storeRequestBytes} bytes with`,
    `a 220-byte certificate in the security block) and a Fetch answer with 10 values (${r.fetchAnswerBytes} bytes).`,
    '"Encode" builds the whole message from values in one pass (as `signMessage` does, minus the signature);',
    '"decode" parses header, contents, security block and body, as a destination does.',
    '',
    '| operation | µs/op | ops/s |',
    '|---|---:|---:|',
    ...rows,
    '',
    `**Target: codec (encode + decode of the Store request) < 10% of one ECDSA P-256 signature of the same`,
    `message — ${(r.codecToEcdsaSignRatio * 100).toFixed(1)}%, ${verdict}.**`,
    '',
    '![per-operation cost, log scale](wire.png)',
    '',
  ].join('\n');
  const svg = barChartSvg(
    'RELOAD wire codec vs signatures (µs per message, log scale)',
    'µs',
    r.measurements.map((m) => ({ label: m.name, value: m.nsPerOp / 1000 })),
  );
  await svgToPng(svg, new URL('wire.png', results).pathname);
  await writeFile(new URL('wire.md', results), md);
  console.log(`wrote bench/results/wire.md and wire.png`);
}

async function links(): Promise<void> {
  console.log('== links and message transport');
  const r = await runLinkBench('tls');
  const d = await runLinkBench('dtls');
  const tlsAttach = await runAttachBench('no-ice');
  const iceAttach = await runAttachBench('ice');
  const phases = iceAttach.phases;
  const md = [
    '# Links and message transport benchmark',
    '',
    `Machine: ${machine()}. Command: \`npm run bench -- links\` (bench/links.bench.ts). Loopback, TLS 1.2 links,`,
    'ECDSA P-256 identities; every message signed by its originator and verified at its destination. All',
    'nodes run in one Node process, so throughput is what one core does for sender, forwarder and receiver',
    'together.',
    '',
    '| measure | TLS-TCP-FH-NO-ICE | DTLS-UDP-SR-NO-ICE |',
    '|---|---:|---:|',
    `| one-hop request/answer latency p50 (A→B) | ${r.latency.p50.toFixed(3)} ms | ${d.latency.p50.toFixed(3)} ms |`,
    `| one-hop request/answer latency p99 | ${r.latency.p99.toFixed(3)} ms | ${d.latency.p99.toFixed(3)} ms |`,
    `| samples | ${r.latency.samples} | ${d.latency.samples} |`,
    `| A→B→C requests/s (32 in flight, ~600-byte requests) | ${Math.round(r.forwarding.requestsPerSecond)} | ${Math.round(d.forwarding.requestsPerSecond)} |`,
    `| messages/s forwarded by B (requests and answers) | ${Math.round(r.forwarding.forwardedPerSecond)} | ${Math.round(d.forwarding.forwardedPerSecond)} |`,
    '',
    "DTLS-UDP-SR uses RFC 6940's stop-and-wait sender (§6.6.3.1): one unacknowledged message per link, the",
    "next one sent when the ack arrives (without the reference's 10 ms pause, which capped a link at about 90",
    'messages/s and gave an 11 ms one-hop p50; docs/decisions.md). Each direction of a link therefore carries',
    'one message per round trip; a windowed sender with RFC 5405 congestion control would go further.',
    '',
    '## Attach setup',
    '',
    'From `attach()` to a usable link, the Attach request and answer routed A→B→C, the link closed again',
    `after each round (5 warm-up rounds not counted, then up to 100). ICE: fresh agents per Attach, host`,
    'candidates on loopback, werift-ice checks, then the DTLS handshake over the selected pair (the requester',
    'is the DTLS server). No-ICE: the answerer connects back to the passive TLS candidate.',
    '',
    '| Attach | p50 | p99 | mean | samples |',
    '|---|---:|---:|---:|---:|',
    `| ICE + DTLS-UDP-SR | ${iceAttach.p50.toFixed(1)} ms | ${iceAttach.p99.toFixed(1)} ms | ${iceAttach.mean.toFixed(1)} ms | ${iceAttach.samples} |`,
    `| No-ICE TLS-TCP-FH-NO-ICE | ${tlsAttach.p50.toFixed(1)} ms | ${tlsAttach.p99.toFixed(1)} ms | ${tlsAttach.mean.toFixed(1)} ms | ${tlsAttach.samples} |`,
    '',
    phases
      ? `Requester's phases (medians): gathering ${phases.gather.toFixed(1)} ms, ICE checks ${phases.ice.toFixed(1)} ms, DTLS handshake ${phases.dtls.toFixed(1)} ms; the rest is the Attach exchange (two signed messages over two hops each way).`
      : '',
    '',
    '![latency](links.png)',
    '',
  ].join('\n');
  const svg = barChartSvg(
    'One-hop request/answer over TLS (ms)',
    'ms',
    [
      { label: 'p50', value: r.latency.p50 },
      { label: 'mean', value: r.latency.mean },
      { label: 'p99', value: r.latency.p99 },
    ],
    false,
  );
  await svgToPng(svg, new URL('links.png', results).pathname);
  await writeFile(new URL('links.md', results), md);
  console.log('wrote bench/results/links.md and links.png');
}

function simTable(rs: SimBenchResult[]): string[] {
  const target = (n: number) => 0.5 * Math.log2(n) + 1;
  const row = (label: string, f: (r: SimBenchResult) => string) => `| ${label} | ${rs.map(f).join(' | ')} |`;
  const pct = (a: number, b: number) => `${((100 * a) / Math.max(1, b)).toFixed(2)}%`;
  return [
    `| measure | ${rs.map((r) => `N = ${r.n.toLocaleString('en')}`).join(' | ')} |`,
    `|---|${rs.map(() => '---:').join('|')}|`,
    row('create identities + nodes (real s)', (r) => r.createSeconds.toFixed(1)),
    row('join all, 20 at a time (real s)', (r) => `${r.joinSeconds.toFixed(1)} (${r.joinFailures} failed)`),
    row('ring errors after joining (peers with a wrong successor list)', (r) => String(r.ringErrors)),
    row(
      'hops per lookup, mean (target ≤ 0.5·log2 N + 1)',
      (r) =>
        `${r.stable.meanHops.toFixed(2)} (≤ ${target(r.n).toFixed(2)}: ${r.stable.meanHops <= target(r.n) ? 'met' : 'NOT met'})`,
    ),
    row('hops per lookup, p99', (r) => String(r.stable.p99Hops)),
    row(
      'lookup success, stable ring (target 100%)',
      (r) => `${pct(r.stable.correct, r.stable.lookups)} of ${r.stable.lookups}`,
    ),
    row('lookup success under churn, 10 min mean session (target ≥ 99.5%)', (r) =>
      r.churn
        ? `${pct(r.churn.correct, r.churn.lookups)} of ${r.churn.lookups} (${r.churn.minutes} min, ${r.churn.departures} left, ${r.churn.arrivals} joined)`
        : 'not run',
    ),
    row('hops under churn, mean / p99', (r) => (r.churn ? `${r.churn.meanHops.toFixed(2)} / ${r.churn.p99Hops}` : '-')),
    row(
      'maintenance traffic per peer (target ≤ 1 KB/s)',
      (r) => `${r.maintenanceBytesPerPeerPerSecond.toFixed(1)} B/s`,
    ),
    row('memory per simulated peer (V8 heap)', (r) => `${r.heapPerPeerKiB.toFixed(0)} KiB`),
  ];
}

async function overlay(): Promise<void> {
  console.log('== overlay (simulation)');
  const sizes = (process.env.BENCH_SIM_SIZES ?? '1000,10000').split(',').map(Number);
  const rs: SimBenchResult[] = [];
  for (const n of sizes) rs.push(await runOverlaySimBench(n, { churnMinutes: n <= 1000 ? 10 : 0 }));
  const md = [
    '# Overlay benchmark: simulation',
    '',
    `Machine: ${machine()}. Command: \`npm run bench -- overlay\` (bench/overlay-sim.bench.ts; sizes from`,
    '`BENCH_SIM_SIZES`, default 1000,10000). The real node code (transport, Attach, CHORD-RELOAD, storage, every',
    'message signed and verified) over the in-memory network (5 ms latency) and a virtual clock, one process.',
    'CHORD-RELOAD at the configuration defaults: chord-update-interval 600 s, chord-ping-interval 3600 s,',
    'reactive recovery. Lookups are Pings to random Resource-IDs from random peers; "success" means the answer',
    'came from the peer that is responsible by the sorted ring at that moment. Hops count every link the request',
    'crossed (1 = a neighbour answered). Maintenance traffic: all RELOAD bytes sent over 20 minutes of a',
    'stable ring, per peer per second. Churn: each peer dies (no Leave) at rate 1/600 s and a fresh peer joins',
    'for each that dies; 2 lookups per second throughout. Churn runs only at N ≤ 1000 (at 10,000 it would',
    'take hours of real time on two cores); memory is the V8 heap growth per peer after a forced GC.',
    '',
    ...simTable(rs),
    '',
    '![hops per lookup](overlay-sim.png)',
    '',
  ].join('\n');
  const svg = barChartSvg(
    'Hops per lookup (mean; p99) by overlay size',
    'hops',
    rs.flatMap((r) => [
      { label: `N=${r.n} mean`, value: r.stable.meanHops },
      { label: `N=${r.n} p99`, value: r.stable.p99Hops },
      { label: `N=${r.n} target`, value: 0.5 * Math.log2(r.n) + 1 },
    ]),
    false,
  );
  await svgToPng(svg, new URL('overlay-sim.png', results).pathname);
  await writeFile(new URL('overlay-sim.md', results), md);
  console.log('wrote bench/results/overlay-sim.md and overlay-sim.png');
}

async function overlayProcesses(): Promise<void> {
  console.log('== overlay of real processes vs OpenDHT');
  const sizes = (process.env.BENCH_PROCESS_SIZES ?? '20,50').split(',').map(Number);
  const r = await runOverlayProcessesBench({ sizes });
  for (const p of r.pngs) await svgToPng(p.svg, new URL(p.file, results).pathname);
  await writeFile(new URL('overlay-processes.md', results), r.markdown);
  console.log('wrote bench/results/overlay-processes.md');
}

async function sip(): Promise<void> {
  console.log('== SIP call setup (sipp, Kamailio)');
  // BENCH_SIP_CALLS, BENCH_SIP_RATE (setup-time test), BENCH_SIP_STEPS, BENCH_SIP_STEP_SECS (max-rate test).
  const env = (name: string) => (process.env[name] ? Number(process.env[name]) : undefined);
  const r = await runSipBench({
    calls: env('BENCH_SIP_CALLS'),
    rate: env('BENCH_SIP_RATE'),
    steps: process.env.BENCH_SIP_STEPS?.split(',').map(Number),
    stepSecs: env('BENCH_SIP_STEP_SECS'),
  });
  for (const p of r.pngs) await svgToPng(p.svg, new URL(p.file, results).pathname);
  await writeFile(new URL('sip.md', results), r.markdown);
  console.log('wrote bench/results/sip.md and sip.png');
  if (r.failures.length) throw new Error(`sip bench: ${r.failures.join('; ')}`);
}

async function app(): Promise<void> {
  console.log('== the app as a peer (browser-mode backends, local and operator overlays)');
  // BENCH_APP_RUNS (joins per overlay), BENCH_APP_PEERS (headless peers), BENCH_APP_RESTARTS.
  const env = (name: string) => (process.env[name] ? Number(process.env[name]) : undefined);
  const r = await runAppBench({
    runs: env('BENCH_APP_RUNS'),
    peers: env('BENCH_APP_PEERS'),
    restarts: env('BENCH_APP_RESTARTS'),
  });
  for (const p of r.pngs) await svgToPng(p.svg, new URL(p.file, results).pathname);
  await writeFile(new URL('app.md', results), r.markdown);
  console.log('wrote bench/results/app.md and app.png');
  if (r.failures.length) throw new Error(`app bench: ${r.failures.join('; ')}`);
}

await mkdir(results, { recursive: true });
const only = process.argv[2];
if (!only || only === 'wire') await wire();
if (!only || only === 'links') await links();
if (!only || only === 'overlay') await overlay();
if (!only || only === 'overlay' || only === 'overlay-processes') await overlayProcesses();
if (!only || only === 'sip') await sip();
// Only when named: it needs the build (out/) and a Secret Service (scripts/with-keyring.sh).
if (only === 'app') await app();
process.exit(0);
