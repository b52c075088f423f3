/**
 * Zero-configuration local overlays: DNS-SD over multicast DNS with the real library on a real (virtual)
 * LAN. Two network namespaces joined by a veth pair stand for two machines; each LocalDiscovery runs in its
 * own process there (`ip netns exec`), so multicast really crosses a link and nothing reaches the host's
 * network. The checks of records and arguments run first, in this process, without any network.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkAnnouncement,
  checkOverlay,
  instanceLabel,
  readRecord,
  readTxt,
  type CheckedRecord,
  type LocalPeer,
} from '../../src-main/reload/discovery/dns-sd';
import { LocalDiscoveryArgumentError } from '../../src-main/reload/discovery/errors';
import { openLocalDiscovery } from '../../src-main/reload/discovery/local-discovery';
import { RecordCache } from '../../src-main/reload/discovery/record-cache';
import { JsonLinesProcess, type ProcessEvent } from '../support/json-lines-process';
import { createLanNamespaces, lanNamespacesUnavailable, type LanNamespaces } from '../support/lan-namespaces';

const OVERLAY = 'lan.example';
const OTHER = 'other.example';
const id = (byte: string) => byte.repeat(16);
const txt = (...strings: string[]) => strings.map((s) => Buffer.from(s));

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(LocalDiscoveryArgumentError);
    return (error as LocalDiscoveryArgumentError).field;
  }
  return undefined;
}

describe('local discovery: arguments and records (no network)', () => {
  it('refuses bad local arguments with typed errors that name the field', async () => {
    const good = { overlay: OVERLAY, nodeId: id('ab'), port: 6084, transport: 'tls' };
    expect(checkAnnouncement(good)).toEqual({ ...good, host: undefined });
    expect(checkAnnouncement({ ...good, overlay: 'LAN.Example', nodeId: id('AB') })).toMatchObject({
      overlay: OVERLAY,
      nodeId: id('ab'),
    });
    expect(fieldOf(() => checkAnnouncement(null))).toBe('announcement');
    expect(fieldOf(() => checkAnnouncement({ ...good, overlay: 'not a name' }))).toBe('overlay');
    expect(fieldOf(() => checkAnnouncement({ ...good, overlay: 7 }))).toBe('overlay');
    expect(fieldOf(() => checkOverlay('a'.repeat(250)))).toBe('overlay'); // longer than a TXT string allows
    expect(fieldOf(() => checkAnnouncement({ ...good, nodeId: 'abcd' }))).toBe('nodeId');
    expect(fieldOf(() => checkAnnouncement({ ...good, nodeId: 'zz'.repeat(16) }))).toBe('nodeId');
    expect(fieldOf(() => checkAnnouncement({ ...good, nodeId: 'ab'.repeat(21) }))).toBe('nodeId');
    expect(fieldOf(() => checkAnnouncement({ ...good, host: 'peer.example' }))).toBe('host');
    expect(fieldOf(() => checkAnnouncement({ ...good, host: '0.0.0.0' }))).toBe('host');
    expect(fieldOf(() => checkAnnouncement({ ...good, port: 0 }))).toBe('port');
    expect(fieldOf(() => checkAnnouncement({ ...good, port: 65536 }))).toBe('port');
    expect(fieldOf(() => checkAnnouncement({ ...good, port: 80.5 }))).toBe('port');
    expect(fieldOf(() => checkAnnouncement({ ...good, transport: 'udp' }))).toBe('transport');
    // Options are checked before any socket is opened.
    await expect(openLocalDiscovery({ interface: '192.0.2.77' })).rejects.toMatchObject({
      name: 'LocalDiscoveryArgumentError',
      field: 'options.interface',
    });
    await expect(openLocalDiscovery({ interface: 'eth0' })).rejects.toMatchObject({ field: 'options.interface' });
    await expect(openLocalDiscovery({ ttl: { host: 0 } })).rejects.toMatchObject({ field: 'options.ttl.host' });
    await expect(openLocalDiscovery({ maxRecords: 1 })).rejects.toMatchObject({ field: 'options.maxRecords' });
  });

  it('reads only well-formed TXT records: txtvers 1, a DNS overlay name, a 16-20 byte hex Node-ID', () => {
    const nodeId = id('0f');
    expect(readTxt(txt('txtvers=1', `overlay=${OVERLAY}`, `node-id=${nodeId}`))).toEqual({ overlay: OVERLAY, nodeId });
    // Keys without case, first occurrence wins, unknown keys (also __proto__) ignored.
    expect(
      readTxt(
        txt('__proto__=x', 'TXTVERS=1', `Overlay=LAN.example`, `node-id=${nodeId}`, `node-id=${id('11')}`, 'flag'),
      ),
    ).toEqual({ overlay: OVERLAY, nodeId });
    expect(readTxt(txt(`overlay=${OVERLAY}`, `node-id=${nodeId}`))).toBeUndefined(); // no txtvers
    expect(readTxt(txt('txtvers=2', `overlay=${OVERLAY}`, `node-id=${nodeId}`))).toBeUndefined();
    expect(readTxt(txt('txtvers=1', `node-id=${nodeId}`))).toBeUndefined();
    expect(readTxt(txt('txtvers=1', 'overlay=bad name', `node-id=${nodeId}`))).toBeUndefined();
    expect(readTxt(txt('txtvers=1', `overlay=${OVERLAY}`, 'node-id=12'))).toBeUndefined();
    expect(readTxt(txt('txtvers=1', `overlay=${OVERLAY}`, `node-id=${nodeId}\u00e9`))).toBeUndefined();
    expect(readTxt([Buffer.from('txtvers=1'), 'overlay=x', 42, null])).toBeUndefined();
    expect(readTxt(Array.from({ length: 65 }, () => Buffer.from('txtvers=1')))).toBeUndefined();
    expect(readTxt(undefined)).toBeUndefined();
    expect(readTxt('txtvers=1')).toBeUndefined();
  });

  it('checks every field of a record from the network and never throws', () => {
    expect(
      readRecord({
        name: 'X._reload._tcp.local',
        type: 'SRV',
        ttl: 120,
        class: 'IN',
        data: { port: 1, target: 'T.local' },
      }),
    ).toEqual({ name: 'x._reload._tcp.local', ttl: 120, data: { type: 'SRV', port: 1, target: 't.local' } });
    for (const bad of [
      null,
      'PTR',
      { name: 'a.local', type: 'A', ttl: 1, data: '10.0.0.300' },
      { name: 'a.local', type: 'A', ttl: 1, data: '::1' },
      { name: 'a.local', type: 'AAAA', ttl: 1, data: '10.0.0.1' },
      { name: 'a.local', type: 'A', ttl: -1, data: '10.0.0.1' },
      { name: 'a.local', type: 'A', ttl: 1.5, data: '10.0.0.1' },
      { name: 'a.local', type: 'A', ttl: 1, class: 'CH', data: '10.0.0.1' },
      { name: '', type: 'PTR', ttl: 1, data: 'x' },
      { name: 'a'.repeat(300), type: 'PTR', ttl: 1, data: 'x' },
      { name: 'a.local', type: 'SRV', ttl: 1, data: { port: 0, target: 'x.local' } },
      { name: 'a.local', type: 'SRV', ttl: 1, data: { port: '80', target: 'x.local' } },
      { name: 'a.local', type: 'SRV', ttl: 1, data: null },
      { name: 'a.local', type: 'TXT', ttl: 1, data: [] },
      { name: 'a.local', type: 'NSEC', ttl: 1, data: {} },
      { name: { toString: () => 'x' }, type: 'PTR', ttl: 1, data: 'x' },
    ])
      expect(readRecord(bad)).toBeUndefined();
  });

  it('derives peers from cached records: own and other overlays left out, goodbye and expiry remove them', () => {
    const cache = new RecordCache(64, () => 0);
    const nodeA = id('aa');
    const nodeB = id('bb');
    const put = (r: object, via = '192.0.2.9', at = 0) => cache.apply(readRecord(r) as CheckedRecord, via, at);
    const peer = (nodeId: string, overlay: string, port: number, address?: string, ttl = 120) => {
      const instance = `${instanceLabel(nodeId, overlay)}._reload._udp.local`;
      const target = `${instanceLabel(nodeId, overlay)}.local`;
      put({ name: '_reload._udp.local', type: 'PTR', ttl, data: instance });
      put({ name: instance, type: 'SRV', ttl, data: { port, target } });
      put({ name: instance, type: 'TXT', ttl, data: txt('txtvers=1', `overlay=${overlay}`, `node-id=${nodeId}`) });
      if (address) put({ name: target, type: 'A', ttl, data: address });
      return instance;
    };
    const own = { instances: new Set<string>(), nodes: new Set<string>() };
    const instanceA = peer(nodeA, OVERLAY, 7000, '192.0.2.10');
    peer(nodeB, OVERLAY, 7001); // no address record: the announcement's source address
    peer(id('cc'), OTHER, 7002, '192.0.2.12');
    const sorted = (list: LocalPeer[]) => [...list].sort((x, y) => x.port - y.port);
    expect(sorted(cache.peers(OVERLAY, own))).toEqual([
      { nodeId: nodeA, host: '192.0.2.10', port: 7000, transport: 'dtls' },
      { nodeId: nodeB, host: '192.0.2.9', port: 7001, transport: 'dtls' },
    ]);
    expect(cache.peers(OTHER, own).map((p) => p.nodeId)).toEqual([id('cc')]);
    expect(cache.peers(OVERLAY, { instances: new Set([instanceA]), nodes: new Set() }).map((p) => p.nodeId)).toEqual([
      nodeB,
    ]);
    expect(cache.peers(OVERLAY, { instances: new Set(), nodes: new Set([`${OVERLAY} ${nodeB}`]) })).toHaveLength(1);
    // Goodbye: the PTR with TTL 0.
    expect(put({ name: '_reload._udp.local', type: 'PTR', ttl: 0, data: instanceA })).toBe('removed');
    expect(cache.peers(OVERLAY, own).map((p) => p.nodeId)).toEqual([nodeB]);
    // Expiry: asked for again at 80 % of the lifetime, gone at 100 %.
    expect(cache.dueRefreshes(97_000)).toEqual(expect.arrayContaining([{ name: '_reload._udp.local', type: 'PTR' }]));
    expect(cache.nextEventAt(true)).toBeGreaterThan(97_000);
    expect(cache.expire(120_000)).toBeGreaterThan(0);
    expect(cache.peers(OVERLAY, own)).toEqual([]);
    expect(cache.size).toBe(0);
    // The cache is bounded.
    const small = new RecordCache(16);
    let full = 0;
    for (let i = 0; i < 40; i++) {
      const r = readRecord({ name: '_reload._udp.local', type: 'PTR', ttl: 10, data: `x${i}` }) as CheckedRecord;
      if (small.apply(r, '192.0.2.1', 0) === 'full') full++;
    }
    expect(small.size).toBe(16);
    expect(full).toBe(24);
  });
});

const unavailable = lanNamespacesUnavailable();
if (unavailable) console.warn(`local discovery network tests skipped: ${unavailable}`);

const SCRIPT = 'test/support/local-discovery-process.ts';

describe.skipIf(unavailable !== undefined)('local discovery over multicast DNS (two network namespaces)', () => {
  let lan: LanNamespaces;
  const processes: JsonLinesProcess[] = [];
  let a: JsonLinesProcess; // lan-a, bound to its interface, announces TLS
  let b: JsonLinesProcess; // lan-b, default options (every interface), announces DTLS with an explicit host
  let c: JsonLinesProcess; // lan-b, another overlay
  const nodeA = randomBytes(16).toString('hex');
  const nodeB = randomBytes(16).toString('hex');
  const nodeC = randomBytes(16).toString('hex');

  const start = (namespace: string, options: Record<string, unknown>) => {
    const p = JsonLinesProcess.inNamespace(namespace, SCRIPT, JSON.stringify({ options }));
    processes.push(p);
    return p;
  };
  const foundIn = (p: JsonLinesProcess, overlay: string) =>
    p.events.filter((e) => e.event === 'found' && e.overlay === overlay).map((e) => e.peer as LocalPeer);
  const isNode = (nodeId: string) => (e: ProcessEvent) => (e.peer as LocalPeer | undefined)?.nodeId === nodeId;

  beforeAll(async () => {
    lan = createLanNamespaces();
    a = start(lan.a, { interface: lan.addressA });
    b = start(lan.b, {});
    c = start(lan.b, {});
    await Promise.all([a, b, c].map((p) => p.next('ready', 20_000)));
  }, 30_000);

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop('SIGTERM')));
    lan?.remove();
  }, 15_000);

  it('two peers announce and browse and find each other', async () => {
    await a.command({ cmd: 'browse', overlay: OVERLAY }, 'browsing');
    await a.command(
      { cmd: 'announce', announcement: { overlay: OVERLAY, nodeId: nodeA, port: 6084, transport: 'tls' } },
      'announced',
    );
    // B announces first and browses afterwards: A learns of B from the announcement, B of A from its query.
    await b.command(
      {
        cmd: 'announce',
        announcement: { overlay: OVERLAY, nodeId: nodeB, host: lan.addressB, port: 7000, transport: 'dtls' },
      },
      'announced',
    );
    await b.command({ cmd: 'browse', overlay: OVERLAY.toUpperCase() }, 'browsing');
    const [atA, atB] = await Promise.all([
      a.next('found', 10_000, isNode(nodeB)),
      b.next('found', 10_000, isNode(nodeA)),
    ]);
    expect(atA.peer).toEqual({ nodeId: nodeB, host: lan.addressB, port: 7000, transport: 'dtls' });
    expect(atB.peer).toEqual({ nodeId: nodeA, host: lan.addressA, port: 6084, transport: 'tls' });
    // Snapshots hold the other peer and never ourselves.
    expect((await a.command({ cmd: 'peers', overlay: OVERLAY }, 'peers')).peers).toEqual([atA.peer]);
    expect((await b.command({ cmd: 'peers', overlay: OVERLAY }, 'peers')).peers).toEqual([atB.peer]);
  }, 30_000);

  it('answers a legacy unicast query (as dig sends one) directly, with its id and TTLs of at most 10 s', async () => {
    const instance = `${instanceLabel(nodeA, OVERLAY)}._reload._tcp.local`;
    const answer = await b.command({ cmd: 'unicast-query', name: instance, type: 'SRV' }, 'unicast-answer');
    expect(answer.id).toBe(0x4242);
    expect(answer.answers).toEqual([
      {
        name: instance,
        type: 'SRV',
        ttl: 10,
        data: { priority: 0, weight: 0, port: 6084, target: `${instanceLabel(nodeA, OVERLAY)}.local` },
      },
    ]);
  }, 20_000);

  it('does not report a peer of another overlay', async () => {
    await c.command(
      { cmd: 'announce', announcement: { overlay: OTHER, nodeId: nodeC, port: 6085, transport: 'tls' } },
      'announced',
    );
    // C is on the wire: a browser of its overlay finds it ...
    await a.command({ cmd: 'browse', overlay: OTHER }, 'browsing');
    const found = await a.next('found', 10_000, (e) => e.overlay === OTHER && isNode(nodeC)(e));
    expect(found.peer).toEqual({ nodeId: nodeC, host: lan.addressB, port: 6085, transport: 'tls' });
    // ... while A's and B's browsers of OVERLAY never reported it, and their snapshots do not hold it.
    expect(foundIn(a, OVERLAY).map((p) => p.nodeId)).not.toContain(nodeC);
    expect(foundIn(b, OVERLAY).map((p) => p.nodeId)).not.toContain(nodeC);
    const peersA = (await a.command({ cmd: 'peers', overlay: OVERLAY }, 'peers')).peers as LocalPeer[];
    expect(peersA.map((p) => p.nodeId)).toEqual([nodeB]);
  }, 30_000);

  it('ignores malformed and hostile records and keeps working', async () => {
    const tag = (nodeId: string, overlay = OVERLAY) => instanceLabel(nodeId, overlay);
    const ptr = (label: string, ttl = 120) => ({
      name: '_reload._tcp.local',
      type: 'PTR',
      ttl,
      data: `${label}._reload._tcp.local`,
    });
    const srv = (label: string, port: number) => ({
      name: `${label}._reload._tcp.local`,
      type: 'SRV',
      ttl: 120,
      data: { port, target: `${label}.local` },
    });
    const txtOf = (label: string, ...strings: string[]) => ({
      name: `${label}._reload._tcp.local`,
      type: 'TXT',
      ttl: 120,
      data: strings,
    });
    const addr = (label: string, address: string) => ({ name: `${label}.local`, type: 'A', ttl: 120, data: address });
    const service = (label: string, port: number, ...strings: string[]) => [
      ptr(label),
      srv(label, port),
      txtOf(label, ...strings),
    ];
    const respond = (answers: object[]) => b.command({ cmd: 'respond', answers }, 'sent');
    const raw = (bytes: Buffer) => b.command({ cmd: 'raw', base64: bytes.toString('base64') }, 'sent');
    const v = 'txtvers=1';
    const o = `overlay=${OVERLAY}`;

    // Not DNS at all, a header promising records that are not there, a name compression loop.
    await raw(randomBytes(64));
    await raw(Buffer.from([0, 0, 0x84, 0, 0, 0, 0, 5, 0, 0, 0, 0]));
    await raw(Buffer.from([0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xc0, 12, 0, 12, 0, 1, 0, 0, 0, 9, 0, 2, 0xc0, 12]));
    // Well-formed DNS, bad DNS-SD.
    const n = (i: number) => `${i.toString(16).padStart(2, '0')}`.repeat(16);
    await respond(service(tag(n(1)), 9001, v, o)); // no node-id
    await respond(service(tag(n(2)), 9002, v, o, `node-id=${'zz'.repeat(16)}`)); // not hex
    await respond(service(tag(n(3)), 9003, v, o, `node-id=${n(4)}`)); // the name carries another Node-ID
    await respond(service(tag(n(5)), 9005, 'txtvers=2', o, `node-id=${n(5)}`)); // unknown TXT version
    await respond(service(tag(n(6)), 9006, v, `overlay=${OTHER}`, `node-id=${n(6)}`)); // the tag of another overlay
    await respond(service(tag(n(7)), 0, v, o, `node-id=${n(7)}`)); // port 0
    await respond(service(tag(n(8)), 9008, ...Array.from({ length: 70 }, () => v), o, `node-id=${n(8)}`));
    await respond([ptr('evil'), srv('evil', 9009), txtOf('evil', v, o, `node-id=${n(9)}`)]); // not our name form
    await respond([{ name: '_reload._tcp.local', type: 'PTR', ttl: 120, data: `${tag(n(10))}._reload._udp.local` }]);
    await respond([{ name: 'printer.local', type: 'A', ttl: 120, data: '10.77.0.50' }]); // nobody's target
    // Unusual but valid: unknown keys (also __proto__ and constructor), keys in capitals, a duplicate node-id.
    await respond(service(tag(n(11)), 9011, '__proto__=1', 'constructor=x', 'TXTVERS=1', o, `NODE-ID=${n(11)}`));
    await respond(service(tag(n(12)), 9012, v, o, `node-id=${n(12)}`, `node-id=${n(13)}`));
    // Last, a well-formed hand-made peer D with a huge TTL and an address other than the packet's source.
    const d = n(0xd0);
    await respond([
      { ...ptr(tag(d)), ttl: 0xffffffff },
      srv(tag(d), 9100),
      txtOf(tag(d), v, o, `node-id=${d}`),
      addr(tag(d), '10.77.0.99'),
    ]);
    const foundD = await a.next('found', 10_000, isNode(d));
    expect(foundD.peer).toEqual({ nodeId: d, host: '10.77.0.99', port: 9100, transport: 'tls' });
    const after = (await a.command({ cmd: 'peers', overlay: OVERLAY }, 'peers')).peers as LocalPeer[];
    expect(after.map((p) => p.nodeId).sort()).toEqual([nodeB, n(11), n(12), d].sort());
    expect(after.find((p) => p.nodeId === n(11))).toEqual({
      nodeId: n(11),
      host: lan.addressB, // no address record: the source of the announcement
      port: 9011,
      transport: 'tls',
    });
    const reported = foundIn(a, OVERLAY).map((p) => p.nodeId);
    for (const i of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) expect(reported).not.toContain(n(i));
    expect(a.events.filter((e) => e.event === 'error')).toEqual([]);
    expect(a.child.exitCode).toBeNull();
    // A hand-made goodbye removes D at once.
    const mark = a.events.length;
    await respond([{ ...ptr(tag(d)), ttl: 0 }]);
    await a.next('gone', 5000, isNode(d), mark);
  }, 40_000);

  it('close() says goodbye and the other side drops the peer at once', async () => {
    const mark = a.events.length;
    const started = Date.now();
    await b.command({ cmd: 'close' }, 'closed');
    const gone = await a.next('gone', 5000, isNode(nodeB), mark);
    expect(gone.peer).toEqual({ nodeId: nodeB, host: lan.addressB, port: 7000, transport: 'dtls' });
    expect(Date.now() - started).toBeLessThan(5000); // far below the records' 120 s TTL
    const peersA = (await a.command({ cmd: 'peers', overlay: OVERLAY }, 'peers')).peers as LocalPeer[];
    expect(peersA.map((p) => p.nodeId)).not.toContain(nodeB);
  }, 20_000);

  it('keeps a live peer past its TTL by asking again, and drops it when its records expire', async () => {
    // E announces with a 3 s TTL on SRV and address records; it will die without a goodbye.
    const e = start(lan.b, { ttl: { host: 3, other: 6 } });
    await e.next('ready', 20_000);
    const nodeE = randomBytes(20).toString('hex'); // a 20-byte Node-ID
    const mark = a.events.length;
    await e.command(
      { cmd: 'announce', announcement: { overlay: OVERLAY, nodeId: nodeE, port: 6090, transport: 'dtls' } },
      'announced',
    );
    await a.next('found', 10_000, isNode(nodeE), mark);
    // Three host TTLs later it is still there: A's refresh queries at 80-95 % of the TTL were answered.
    await new Promise((resolve) => setTimeout(resolve, 9000));
    expect(a.events.slice(mark).filter((ev) => ev.event === 'gone' && isNode(nodeE)(ev))).toEqual([]);
    const alive = (await a.command({ cmd: 'peers', overlay: OVERLAY }, 'peers')).peers as LocalPeer[];
    expect(alive.map((p) => p.nodeId)).toContain(nodeE);
    // Killed: no goodbye, so the records run out (3 s) and E disappears.
    const killed = Date.now();
    await e.stop('SIGKILL');
    await a.next('gone', 10_000, isNode(nodeE), mark);
    expect(Date.now() - killed).toBeLessThan(6000);
    const after = (await a.command({ cmd: 'peers', overlay: OVERLAY }, 'peers')).peers as LocalPeer[];
    expect(after.map((p) => p.nodeId)).not.toContain(nodeE);
  }, 45_000);
});
