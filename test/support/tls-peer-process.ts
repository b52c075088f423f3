/**
 * A RELOAD node in its own process for multi-process tests: a TLS endpoint and a message transport with a
 * static route. Reads its setup from the JSON file named in argv[2]; prints "listening <port>" on stdout
 * once it accepts links; answers Ping with its index. Exits on SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { processIdentity, type ProcessIdentitySetup } from './process-identity';
import { createLogger } from '../../src-main/common/logger';
import { realClock } from '../../src-main/reload/clock';
import { createSigner } from '../../src-main/reload/crypto';
import { TlsEndpoint } from '../../src-main/reload/link/tls/tls-endpoint';
import { MessageTransport, StaticTopology } from '../../src-main/reload/transport';
import { bytesEqual, fromHex } from '../../src-main/reload/wire';

interface Setup extends ProcessIdentitySetup {
  index: number;
  /** Node-ID (hex) -> next hop Node-ID (hex) for destinations not directly connected. */
  routes: Record<string, string>;
  connectTo?: { host: string; port: number; nodeId: string };
}

const setup = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as Setup;
const { policy, privateKey, certificate, nodeId: me } = processIdentity(setup);
const transport = new MessageTransport({
  nodeId: me,
  overlay: 99,
  configSequence: 1,
  initialTtl: 100,
  reliabilityTimerMs: 1000,
  maxMessageSize: 5000,
  nodeIdLength: 16,
  signer: createSigner({ privateKey, certificate }),
  policy,
  topology: new StaticTopology(
    (id) => bytesEqual(id, me),
    (id) => {
      const hop = setup.routes[Buffer.from(id).toString('hex')];
      return hop ? fromHex(hop) : undefined;
    },
  ),
  clock: realClock,
  log: createLogger({ level: 'warn' }),
});
transport.handle((req) => {
  if (req.body.method === 'ping_req')
    return { method: 'ping_ans', value: { responseId: BigInt(setup.index), time: BigInt(Date.now()) } };
  return { method: 'error', value: { errorCode: 3, errorInfo: new TextEncoder().encode('not here') } };
});
const endpoint = await TlsEndpoint.listen({ privateKey, certificates: [certificate], policy });
endpoint.onLink((link) => transport.addLink(link));
if (setup.connectTo) transport.addLink(await endpoint.connect(setup.connectTo, fromHex(setup.connectTo.nodeId)));
process.stdout.write(`listening ${endpoint.address.port}\n`);
process.on('SIGTERM', () => void endpoint.close().then(() => process.exit(0)));
