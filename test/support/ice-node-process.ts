/**
 * A RELOAD node of an ICE overlay in its own process (for tests across network namespaces): a
 * DTLS-UDP-SR-NO-ICE endpoint for bootstrap links, Attach with ICE (DTLS-UDP-SR) for everything else.
 * Setup comes from the JSON file named in argv[2]. It speaks JSON lines: on stdout it reports events
 * ({"event":"listening"|"bootstrapped"|"attached"|"pong"|"error", ...}); on stdin it takes commands
 * ("attach <node-id hex>", "ping <node-id hex>"). A node with `bootstrap` set joins through it at start.
 * The bootstrap node is responsible for every Resource-ID; the others send everything towards it.
 */
import { readFileSync } from 'node:fs';
import { processIdentity, type ProcessIdentitySetup } from './process-identity';
import { createInterface } from 'node:readline';
import { createLogger } from '../../src-main/common/logger';
import { realClock } from '../../src-main/reload/clock';
import { createSigner } from '../../src-main/reload/crypto';
import { DtlsEndpoint } from '../../src-main/reload/link/dtls/dtls-endpoint';
import {
  answerPing,
  AttachService,
  bootstrap,
  IceDtlsAttach,
  MessageTransport,
  RequestRouter,
  StaticTopology,
} from '../../src-main/reload/transport';
import { fromHex, toHex } from '../../src-main/reload/wire';

export interface IceNodeSetup extends ProcessIdentitySetup {
  /** Where the bootstrap endpoint listens (this namespace's address). */
  listenHost: string;
  /** Host candidates to offer (the namespace's own addresses). */
  hostAddresses: string[];
  bootstrap?: { host: string; port: number };
  /** Learn a server-reflexive candidate from this STUN server. */
  stunServer?: { host: string; port: number };
}

const say = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);
const setup = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as IceNodeSetup;
const { policy, privateKey, certificate, nodeId: me } = processIdentity(setup);
const credentials = { privateKey, certificates: [certificate], policy };
let towards: Uint8Array | undefined; // the bootstrap node, once joined

const transport: MessageTransport = new MessageTransport({
  nodeId: me,
  overlay: 98,
  configSequence: 1,
  initialTtl: 100,
  reliabilityTimerMs: 1000,
  maxMessageSize: 5000,
  nodeIdLength: 16,
  signer: createSigner({ privateKey, certificate }),
  policy,
  topology: new StaticTopology(
    () => !setup.bootstrap,
    (id): Uint8Array | undefined => (transport.linkTo(id) ? id : towards),
  ),
  clock: realClock,
  log: createLogger({ level: 'warn' }),
});
const router = new RequestRouter(transport);
router.on('ping_req', () => answerPing());
const strategy = new IceDtlsAttach({
  ...credentials,
  clock: realClock,
  hostAddresses: setup.hostAddresses,
  ...(setup.stunServer ? { stunServer: setup.stunServer } : {}),
  iceTimeoutMs: 15_000,
  onTiming: (t) => say({ event: 'timing', ...t }),
});
const attach = new AttachService({ transport, router, nodeId: me, strategy, clock: realClock });
const endpoint = await DtlsEndpoint.listen({ ...credentials, host: setup.listenHost });
endpoint.onLink((link) => transport.addLink(link));
say({ event: 'listening', host: endpoint.address.host, port: endpoint.address.port });

if (setup.bootstrap) {
  try {
    const result = await bootstrap({
      addresses: [setup.bootstrap],
      connect: (address) => endpoint.connect(address),
      accept: (link) => transport.addLink(link),
      attach,
      nodeId: me,
    });
    towards = result.bootstrapLink.peer.nodeIds[0];
    say({
      event: 'bootstrapped',
      bootstrapType: result.bootstrapLink.type,
      admittingType: result.admittingLink.type,
      admitting: toHex(result.admittingLink.peer.nodeIds[0] as Uint8Array),
    });
  } catch (error) {
    say({ event: 'error', during: 'bootstrap', message: (error as Error).message });
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const [command, hex] = line.trim().split(/\s+/);
  if (!hex) return;
  const id = fromHex(hex);
  if (command === 'attach') {
    const started = performance.now();
    attach.attach({ type: 'node', id }).then(
      (link) => say({ event: 'attached', type: link.type, peer: hex, ms: performance.now() - started }),
      (error: Error) => say({ event: 'error', during: 'attach', message: error.message }),
    );
  } else if (command === 'ping') {
    const direct = transport.linkTo(id) !== undefined;
    transport.request([{ type: 'node', id }], { method: 'ping_req', value: { padding: new Uint8Array(0) } }).then(
      () => say({ event: 'pong', peer: hex, direct }),
      (error: Error) => say({ event: 'error', during: 'ping', message: error.message }),
    );
  }
});

process.on('SIGTERM', () => {
  void Promise.all([strategy.close(), endpoint.close()]).finally(() => process.exit(0));
});
