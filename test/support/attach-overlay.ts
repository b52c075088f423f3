/**
 * Three-node test overlays on loopback for Attach: every node has a transport, a request router and an
 * AttachService with the overlay's strategy (ICE or No-ICE), and a direct-link endpoint (TLS for No-ICE,
 * DTLS-UDP-SR-NO-ICE for ICE) that bootstrap uses. Node 1 is the bootstrap node: it is responsible for every
 * Resource-ID and routes to whoever it has a link to; the others route everything through it.
 */
import { createLogger } from '../../src-main/common/logger';
import { realClock } from '../../src-main/reload/clock';
import type { Link, LinkEndpoint } from '../../src-main/reload/link/link';
import { DtlsEndpoint } from '../../src-main/reload/link/dtls/dtls-endpoint';
import { TlsEndpoint } from '../../src-main/reload/link/tls/tls-endpoint';
import {
  answerPing,
  AttachService,
  bootstrap,
  IceDtlsAttach,
  LinkTable,
  NoIceAttach,
  RequestRouter,
  StaticTopology,
  type AttachedEvent,
  type AttachStrategy,
  type BootstrapAddress,
  type AttachTiming,
  type MessageTransport,
} from '../../src-main/reload/transport';
import { bytesEqual } from '../../src-main/reload/wire';
import type { TestNode, TestNodes } from './node-identities';
import { testTransport } from './test-transport';

/** Bootstraps `n` through the given addresses (RFC 6940 §11.4): direct link, then Attach to Node-ID + 1. */
export function joinThrough(n: OverlayNode, addresses: BootstrapAddress[]) {
  return bootstrap({
    addresses,
    connect: (address) => n.endpoint.connect(address),
    accept: (link: Link) => n.table.add(link),
    attach: n.attach,
    nodeId: n.node.nodeId,
    sendUpdate: true,
  });
}

export interface OverlayNode {
  node: TestNode;
  transport: MessageTransport;
  router: RequestRouter;
  attach: AttachService;
  strategy: AttachStrategy;
  endpoint: LinkEndpoint & { address: { host: string; port: number } };
  attached: AttachedEvent[];
  timings: AttachTiming[];
  /** The connection table every link goes into. */
  table: LinkTable;
}

export async function attachOverlay(ids: TestNodes, mode: 'ice' | 'no-ice', hostAddresses = ['127.0.0.1']) {
  const nodes: OverlayNode[] = [];
  for (const [i, n] of ids.nodes.entries()) {
    const credentials = { privateKey: n.privateKey, certificates: [n.certificate], policy: ids.policy };
    const endpoint =
      mode === 'ice'
        ? await DtlsEndpoint.listen({ ...credentials, host: '127.0.0.1', handshakeTimeoutMs: 5000 })
        : await TlsEndpoint.listen({ ...credentials, host: '127.0.0.1' });
    const known = (id: Uint8Array) => nodes.find((o) => o.transport.linkTo(id) !== undefined);
    const transport = testTransport(n, ids.policy, {
      overlay: 5,
      reliabilityTimerMs: 1000,
      topology: new StaticTopology(
        (id) => (i === 1 ? id.length === 16 && !ids.nodes.some((m) => bytesEqual(m.nodeId, id)) : false),
        (id) => (i === 1 ? (known(id) ? id : undefined) : ids.nodes[1]!.nodeId),
      ),
      clock: realClock,
      log: createLogger({ level: 'warn' }),
    });
    const router = new RequestRouter(transport);
    router.on('ping_req', () => answerPing());
    const timings: AttachTiming[] = [];
    const strategy =
      mode === 'ice'
        ? new IceDtlsAttach({
            ...credentials,
            clock: realClock,
            hostAddresses,
            iceTimeoutMs: 8000,
            handshakeTimeoutMs: 5000,
            onTiming: (t) => timings.push(t),
          })
        : new NoIceAttach({ endpoint, address: endpoint.address, clock: realClock });
    const attached: AttachedEvent[] = [];
    const table = new LinkTable(transport, { maxLinks: 16, idleTimeoutMs: 120_000, clock: realClock });
    const attach = new AttachService({
      transport,
      router,
      nodeId: n.nodeId,
      strategy,
      clock: realClock,
      accept: (link) => table.add(link),
      onAttached: (e) => attached.push(e),
    });
    if (mode === 'ice') endpoint.onLink((link: Link) => table.add(link));
    nodes.push({ node: n, transport, router, attach, strategy, endpoint, attached, timings, table });
  }
  return {
    nodes,
    close: async () => {
      await Promise.all(nodes.map((o) => o.table.close()));
      await Promise.all(nodes.map((o) => o.strategy.close()));
      await Promise.all(nodes.map((o) => o.endpoint.close()));
    },
  };
}
