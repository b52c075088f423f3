/**
 * The zero-configuration local overlay with real headless peers (`npm run peer -- --local`), each in its own
 * network namespace on one bridged virtual LAN: no configuration file, no bootstrap flags, no server. Peers
 * find each other by mDNS, join or form the overlay, and merge rings that formed side by side (two started at
 * the same moment). Values are stored and fetched through the peers' control interface.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_OVERLAY_NAME } from '../../src-main/reload/config';
import { createBridgedLan, lanNamespacesUnavailable, type BridgedLan } from '../support/lan-namespaces';
import { PeerProcess, type PeerLine } from '../support/peer-process';

const unavailable = lanNamespacesUnavailable();
if (unavailable) console.warn(`local overlay network tests skipped: ${unavailable}`);

const CERT_BY_USER = 0x10;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const short = (ids: string[]) => ids.map((id) => id.slice(0, 6)).join(',');

interface Peer {
  process: PeerProcess;
  nodeId: string;
  user: string;
}

const SIP_PORT = 5070;

describe.skipIf(unavailable !== undefined)('the local overlay: --local peers on one LAN (network namespaces)', () => {
  let lan: BridgedLan | undefined;
  const peers: Peer[] = [];
  const removeLan = () => lan?.remove();

  async function start(host: number, extra: string[] = []): Promise<Peer> {
    const user = `user${host + 1}@${LOCAL_OVERLAY_NAME}`;
    const process = new PeerProcess(
      // Each host is its own network namespace with its own loopback: every peer can have SIP on 5070.
      ['--local', '--user', user, '--status-interval', '0', '--sip-port', String(SIP_PORT), ...extra],
      {},
      (lan as BridgedLan).hosts[host],
    );
    const peer = { process, nodeId: '', user };
    peers.push(peer);
    const listening = await process.event('listening', 30_000);
    peer.nodeId = String(listening.nodeId);
    return peer;
  }

  async function ringErrors(live: Peer[]): Promise<string[]> {
    const sorted = [...live].sort((a, b) => a.nodeId.localeCompare(b.nodeId));
    const errors: string[] = [];
    await Promise.all(
      sorted.map(async (p, i) => {
        const answer = await p.process.command({ cmd: 'status' }).catch((e: Error) => ({ error: e.message }));
        if ('error' in answer) return void errors.push(`${p.nodeId.slice(0, 6)}: ${String(answer.error)}`);
        const status = (
          answer as PeerLine & { status: { successors: string[]; predecessors: string[]; state: string } }
        ).status;
        const next = sorted[(i + 1) % sorted.length]!.nodeId;
        const previous = sorted[(i - 1 + sorted.length) % sorted.length]!.nodeId;
        const ids = new Set(live.map((l) => l.nodeId));
        if (status.state !== 'ready') errors.push(`${p.nodeId.slice(0, 6)}: ${status.state}`);
        if (status.successors[0] !== next || status.predecessors[0] !== previous)
          errors.push(
            `${p.nodeId.slice(0, 6)}: successors ${short(status.successors)}, predecessors ${short(status.predecessors)}`,
          );
        if (![...status.successors, ...status.predecessors].every((id) => ids.has(id)))
          errors.push(`${p.nodeId.slice(0, 6)}: neighbours outside the live peers`);
      }),
    );
    return errors;
  }

  async function converge(live: Peer[], ms: number): Promise<number> {
    const started = Date.now();
    let errors: string[] = [];
    while (Date.now() - started < ms) {
      errors = await ringErrors(live);
      if (errors.length === 0) return Date.now() - started;
      await sleep(500);
    }
    throw new Error(`no single ring after ${ms} ms: ${errors.join('; ')}`);
  }

  beforeAll(() => {
    lan = createBridgedLan(3);
    process.once('exit', removeLan); // even if the run is cut short
  });

  afterAll(async () => {
    await Promise.all(peers.map((p) => p.process.kill('SIGTERM')));
    removeLan();
    process.removeListener('exit', removeLan);
  }, 20_000);

  it('two peers started at the same moment form two rings and merge into one', async () => {
    const t0 = Date.now();
    // No join window: neither can have seen the other, so each forms a ring of its own (the worst case of
    // a simultaneous start); then the merge rule moves the larger Node-ID into the smaller one's ring.
    const [a, b] = (await Promise.all([start(0, ['--join-window', '0']), start(1, ['--join-window', '0'])])) as [
      Peer,
      Peer,
    ];
    await Promise.all([a.process.event('formed', 30_000), b.process.event('formed', 30_000)]);
    const settled = await converge([a, b], 30_000);
    const [small, large] = [a, b].sort((x, y) => x.nodeId.localeCompare(y.nodeId)) as [Peer, Peer];
    expect(small.process.lines.filter((l) => l.event === 'rejoining' || l.event === 'joined')).toEqual([]);
    const rejoining = large.process.lines.find((l) => l.event === 'rejoining');
    expect(rejoining?.through).toEqual([small.nodeId]);
    expect(large.process.lines.find((l) => l.event === 'joined')?.through).toBe(small.nodeId);
    // SIP follows the member: the peer that rejoined brought its local SIP interface up again on the same
    // port for its new node (the old one was stopped first), and sip-status answers for the current node.
    const sipEvents = (p: Peer) => p.process.lines.filter((l) => l.event === 'sip');
    expect(sipEvents(small)).toHaveLength(1);
    expect(sipEvents(large)).toHaveLength(2);
    for (const p of [small, large]) {
      expect(sipEvents(p).at(-1)).toMatchObject({ uri: `sip:127.0.0.1:${SIP_PORT}`, user: p.user });
      const status = (await p.process.command({ cmd: 'sip-status' })) as PeerLine & {
        sip: { user: string; local?: { port: number } };
      };
      expect(status.sip).toMatchObject({ user: p.user, local: { port: SIP_PORT } });
    }
    console.log(`two simultaneous --local peers: one ring ${Date.now() - t0} ms after start (${settled} ms polling)`);
  }, 60_000);

  it('a third peer joins with no configuration, and a value stored from one is fetched from another', async () => {
    const c = await start(2);
    const ready = await c.process.event('ready', 30_000);
    expect(ready.local).toBe(true);
    const joined = c.process.lines.find((l) => l.event === 'joined' || l.event === 'formed') as PeerLine;
    expect(joined.event).toBe('joined'); // found the ring within its join window: never alone
    await converge(peers, 30_000);
    const value = Buffer.from('stored on the LAN').toString('base64');
    const [first, , third] = peers as [Peer, Peer, Peer];
    await first.process.command({
      cmd: 'store',
      kind: CERT_BY_USER,
      resource: first.user,
      index: 1, // index 0 holds the certificate the peer published
      value,
      lifetime: 600,
    });
    for (const reader of [third, peers[1] as Peer]) {
      const got = await reader.process.command({ cmd: 'fetch', kind: CERT_BY_USER, resource: first.user });
      expect(got.values).toContain(value);
    }
    // Each peer's self-signed certificate is in the overlay under the user name it claims (unverified).
    const certificate = await first.process.command({ cmd: 'fetch', kind: CERT_BY_USER, resource: third.user });
    expect((certificate.values as string[]).length).toBeGreaterThan(0);
  }, 60_000);
});
