/**
 * A LocalDiscovery in its own process (for tests across network namespaces). Options come as JSON in argv[2].
 * It speaks JSON lines: events on stdout ({"event":"ready"|"announced"|"found"|"gone"|"peers"|"sent"|"closed"|
 * "error", ...}), commands on stdin:
 *   {"cmd":"announce","announcement":{...}}   {"cmd":"browse","overlay":"..."}   {"cmd":"peers","overlay":"..."}
 *   {"cmd":"close"}
 * and, to play a hostile or hand-made responder from port 5353 on the same interface:
 *   {"cmd":"raw","base64":"..."}              any bytes as one datagram
 *   {"cmd":"respond","answers":[...],"additionals":[...]}   records as multicast-dns takes them; TXT data as
 *                                                           an array of strings
 * and, as a legacy resolver would (dig), a one-shot query from an ephemeral port:
 *   {"cmd":"unicast-query","name":"...","type":"PTR"}  ->  {"event":"unicast-answer","id":...,"answers":[...]}
 */
import { createSocket, type Socket } from 'node:dgram';
import { createInterface } from 'node:readline';
import multicastDns, { type MulticastDns, type OutgoingRecord } from 'multicast-dns';
import { createLogger } from '../../src-main/common/logger';
import { LocalDiscoveryArgumentError } from '../../src-main/reload/discovery/errors';
import { openLocalDiscovery, type LocalDiscoveryOptions } from '../../src-main/reload/discovery/local-discovery';

export interface DiscoveryProcessSetup {
  options: Omit<LocalDiscoveryOptions, 'clock' | 'log'>;
}

const say = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);
const setup = JSON.parse(process.argv[2] as string) as DiscoveryProcessSetup;
const iface = setup.options.interface;

const failed = (during: string, error: unknown) => {
  const e = error as Error;
  say({
    event: 'error',
    during,
    name: e.name,
    message: e.message,
    ...(error instanceof LocalDiscoveryArgumentError ? { field: error.field } : {}),
  });
};

let hostile: MulticastDns | undefined;
let raw: Socket | undefined;

async function hostileResponder(): Promise<MulticastDns> {
  if (hostile) return hostile;
  const mdns = multicastDns({ reuseAddr: true, ...(iface ? { interface: iface, bind: '0.0.0.0' } : {}) });
  await new Promise<void>((resolve, reject) => {
    mdns.once('ready', resolve);
    mdns.once('error', reject);
  });
  mdns.on('warning', () => undefined);
  return (hostile = mdns);
}

async function rawSocket(): Promise<Socket> {
  if (raw) return raw;
  const socket = createSocket({ type: 'udp4', reuseAddr: true });
  await new Promise<void>((resolve) => socket.bind(5353, '0.0.0.0', resolve));
  if (iface) socket.setMulticastInterface(iface);
  return (raw = socket);
}

/** Sends a query from an ephemeral port (not 5353) and waits up to 3 s for the unicast answer. */
async function unicastQuery(name: string, type: string): Promise<{ id: unknown; answers: unknown }> {
  const mdns = multicastDns({ port: 0, multicast: false });
  mdns.on('warning', () => undefined);
  const id = 0x4242;
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no unicast answer within 3 s')), 3000);
      mdns.on('response', (packet) => {
        if (packet.id !== id) return;
        clearTimeout(timer);
        resolve({
          id: packet.id,
          answers: (packet.answers as { name: string; type: string; ttl: number; data: unknown }[]).map((r) => ({
            name: r.name,
            type: r.type,
            ttl: r.ttl,
            data: r.type === 'TXT' ? (r.data as Buffer[]).map((b) => b.toString()) : r.data,
          })),
        });
      });
      mdns.query({ id, questions: [{ name, type }] }, { port: 5353, address: '224.0.0.251' }, (error) => {
        if (error) reject(error);
      });
    });
  } finally {
    mdns.destroy();
  }
}

function records(list: unknown): OutgoingRecord[] {
  return ((list as OutgoingRecord[] | undefined) ?? []).map((r) =>
    r.type === 'TXT' && Array.isArray(r.data) ? { ...r, data: (r.data as string[]).map((s) => Buffer.from(s)) } : r,
  );
}

let discovery: Awaited<ReturnType<typeof openLocalDiscovery>>;
try {
  discovery = await openLocalDiscovery({ ...setup.options, log: createLogger({ level: 'warn' }) });
} catch (error) {
  failed('open', error);
  process.exit(1);
}
say({ event: 'ready' });

createInterface({ input: process.stdin }).on('line', (line) => {
  let command: Record<string, unknown>;
  try {
    command = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return;
  }
  const run = async () => {
    switch (command.cmd) {
      case 'announce':
        await discovery.announce(command.announcement as never);
        return say({ event: 'announced' });
      case 'browse': {
        const overlay = command.overlay as string;
        discovery.browse(
          overlay,
          (peer) => say({ event: 'found', overlay, peer }),
          (peer) => say({ event: 'gone', overlay, peer }),
        );
        return say({ event: 'browsing', overlay });
      }
      case 'peers': {
        const overlay = command.overlay as string;
        return say({ event: 'peers', overlay, peers: discovery.peers(overlay) });
      }
      case 'close':
        await discovery.close();
        return say({ event: 'closed' });
      case 'raw': {
        const socket = await rawSocket();
        const bytes = Buffer.from(command.base64 as string, 'base64');
        await new Promise<void>((resolve, reject) =>
          socket.send(bytes, 5353, '224.0.0.251', (error) => (error ? reject(error) : resolve())),
        );
        return say({ event: 'sent' });
      }
      case 'respond': {
        const mdns = await hostileResponder();
        await new Promise<void>((resolve, reject) =>
          mdns.respond({ answers: records(command.answers), additionals: records(command.additionals) }, (error) =>
            error ? reject(error) : resolve(),
          ),
        );
        return say({ event: 'sent' });
      }
      case 'unicast-query':
        return say({
          event: 'unicast-answer',
          ...(await unicastQuery(command.name as string, command.type as string)),
        });
      default:
        return say({ event: 'error', during: 'command', message: `unknown command ${String(command.cmd)}` });
    }
  };
  run().catch((error: unknown) => failed(String(command.cmd), error));
});

process.on('SIGTERM', () => {
  hostile?.destroy();
  raw?.close();
  void discovery.close().finally(() => process.exit(0));
});
