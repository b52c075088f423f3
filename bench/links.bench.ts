/**
 * Links and message transport on loopback (issue: links and message transport): one-hop request/answer
 * latency, and forwarding throughput A→B→C with 600-byte messages, over TLS and over DTLS. All nodes run in this
 * one Node process, so "messages/s" is what one core does for sender, forwarder and receiver together.
 */
import { createSigner } from '../src-main/reload/crypto';
import { realClock } from '../src-main/reload/clock';
import type { Link } from '../src-main/reload/link/link';
import { DtlsEndpoint } from '../src-main/reload/link/dtls/dtls-endpoint';
import type { LinkEndpoint } from '../src-main/reload/link/link';
import { TlsEndpoint } from '../src-main/reload/link/tls/tls-endpoint';
import { MessageTransport, StaticTopology } from '../src-main/reload/transport';
import { bytesEqual, type Body } from '../src-main/reload/wire';
import { createLogger } from '../src-main/common/logger';
import { makeNodes } from '../test/support/node-identities';

export interface LinkBenchResult {
  latency: { samples: number; p50: number; p99: number; mean: number };
  forwarding: {
    requests: number;
    seconds: number;
    requestsPerSecond: number;
    forwardedPerSecond: number;
    messageBytes: number;
  };
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;

export async function runLinkBench(
  kind: 'tls' | 'dtls',
  log: (line: string) => void = console.log,
): Promise<LinkBenchResult> {
  const ids = await makeNodes(3);
  const silent = createLogger({ level: 'error' });
  const endpoints: (LinkEndpoint & { address: unknown })[] = await Promise.all(
    ids.nodes.map((n) =>
      kind === 'tls'
        ? TlsEndpoint.listen({ privateKey: n.privateKey, certificates: [n.certificate], policy: ids.policy })
        : DtlsEndpoint.listen({ privateKey: n.privateKey, certificates: [n.certificate], policy: ids.policy }),
    ),
  );
  const name = kind.toUpperCase();
  const index = (id: Uint8Array) => ids.nodes.findIndex((n) => bytesEqual(n.nodeId, id));
  const transports = ids.nodes.map(
    (n, i) =>
      new MessageTransport({
        nodeId: n.nodeId,
        overlay: 7,
        configSequence: 1,
        initialTtl: 100,
        reliabilityTimerMs: 3000,
        maxMessageSize: 5000,
        nodeIdLength: 16,
        signer: createSigner({ privateKey: n.privateKey, certificate: n.certificate }),
        policy: ids.policy,
        topology: new StaticTopology(
          (id) => bytesEqual(id, n.nodeId),
          (id) => {
            const t = index(id);
            return t > i ? ids.nodes[i + 1]?.nodeId : t < i && t >= 0 ? ids.nodes[i - 1]?.nodeId : undefined;
          },
        ),
        clock: realClock,
        log: silent,
      }),
  );
  transports.forEach((t) =>
    t.handle((req): Body =>
      req.body.method === 'ping_req'
        ? { method: 'ping_ans', value: { responseId: 1n, time: 0n } }
        : { method: 'update_ans', value: {} },
    ),
  );
  endpoints.forEach((e, i) => e.onLink((l: Link) => transports[i]!.addLink(l)));
  for (let i = 0; i < 2; i++) transports[i]!.addLink(await endpoints[i]!.connect(endpoints[i + 1]!.address));
  await new Promise((r) => setTimeout(r, 50));

  // One hop A→B, one request at a time.
  const ping: Body = { method: 'ping_req', value: { padding: new Uint8Array(0) } };
  const b = [{ type: 'node' as const, id: ids.nodes[1]!.nodeId }];
  for (let i = 0; i < 200; i++) await transports[0]!.request(b, ping);
  const times: number[] = [];
  const deadline = Date.now() + 5_000;
  while (times.length < 3000 && Date.now() < deadline) {
    const t0 = performance.now();
    await transports[0]!.request(b, ping);
    times.push(performance.now() - t0);
  }
  times.sort((x, y) => x - y);
  const latency = {
    samples: times.length,
    p50: percentile(times, 50),
    p99: percentile(times, 99),
    mean: times.reduce((a, x) => a + x, 0) / times.length,
  };
  log(
    `one-hop request/answer over ${name}: p50 ${latency.p50.toFixed(3)} ms, p99 ${latency.p99.toFixed(3)} ms (${latency.samples} samples)`,
  );

  // Forwarding: A→B→C, 600-byte messages, 32 requests in flight, bounded by count and time.
  const c = [{ type: 'node' as const, id: ids.nodes[2]!.nodeId }];
  const padded: Body = { method: 'ping_req', value: { padding: new Uint8Array(300) } }; // ≈ 600 bytes with header and signature
  const forwardedBefore = transports[1]!.counters.forwarded;
  const start = performance.now();
  let done = 0;
  const stopAt = start + 8_000;
  const worker = async () => {
    while (done < 20_000 && performance.now() < stopAt) {
      await transports[0]!.request(c, padded);
      done++;
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  const seconds = (performance.now() - start) / 1000;
  const forwarded = transports[1]!.counters.forwarded - forwardedBefore;
  const forwarding = {
    requests: done,
    seconds,
    requestsPerSecond: done / seconds,
    forwardedPerSecond: forwarded / seconds,
    messageBytes: 0,
  };
  log(
    `forwarding A→B→C over ${name}: ${Math.round(forwarding.requestsPerSecond)} requests/s, B forwards ${Math.round(forwarding.forwardedPerSecond)} messages/s`,
  );
  await Promise.all(endpoints.map((e) => e.close()));
  return { latency, forwarding };
}
