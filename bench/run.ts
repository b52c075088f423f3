/**
 * `npm run bench`: runs the benchmarks and writes bench/results/<name>.md with PNG plots. Every loop is
 * bounded by time; nothing here touches the network. Figures are machine-dependent: the report records
 * the machine they came from.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { barChartSvg, svgToPng } from './lib/chart';
import { runAttachBench } from './attach.bench';
import { runLinkBench } from './links.bench';
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
    "DTLS-UDP-SR follows RFC 6940's reference sender (§6.6.3.1): one unacknowledged message per link and a",
    '10 ms pause after each acknowledgement, so one direction carries about one message per 11 ms on',
    'loopback; the figures measure that pacing, not the CPU. A windowed sender that still meets RFC 5405',
    'is the obvious improvement.',
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

await mkdir(results, { recursive: true });
const only = process.argv[2];
if (!only || only === 'wire') await wire();
if (!only || only === 'links') await links();
process.exit(0);
