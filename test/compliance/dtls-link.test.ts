/**
 * DTLS over UDP links with Simple Reliability on loopback: compliance, mutual authentication, Node-ID
 * checks, proof of key possession (a stolen certificate is refused), key log, and reliability through a
 * lossy, reordering, duplicating relay.
 */
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DtlsClient } from 'werift-dtls/lib/dtls/src/index.js';
import { PeerRejectedError, type Link } from '../../src-main/reload/link/link';
import {
  DtlsEndpoint,
  type DtlsAddress,
  type DtlsEndpointOptions,
} from '../../src-main/reload/link/dtls/dtls-endpoint';
import { generateIdentityKeys } from '../../src-main/reload/identity';
import { bareWeriftPeer, dtlsEndpoint, sleep, until } from '../support/dtls-peers';
import { makeNodes, type TestNode, type TestNodes } from '../support/node-identities';
import { describeLinkCompliance } from './link-compliance';
import { describeLinkSecurity } from './link-security';

let ids: TestNodes;
let foreign: TestNodes;
let rsa: TestNodes;
beforeAll(async () => {
  ids = await makeNodes(3);
  foreign = await makeNodes(1);
  rsa = await makeNodes(2, 'rsa');
});

const endpoint = (node: TestNode, policy = ids.policy, extra: Partial<DtlsEndpointOptions> = {}) =>
  dtlsEndpoint(node, policy, extra);

async function connected(nodes: TestNodes = ids, extra: Partial<DtlsEndpointOptions> = {}) {
  const [na, nb] = nodes.nodes as [TestNode, TestNode];
  const ea = await endpoint(na, nodes.policy, extra);
  const eb = await endpoint(nb, nodes.policy, extra);
  const accepted = new Promise<Link>((resolve) => eb.onLink(resolve));
  const a = await ea.connect(eb.address, nb.nodeId);
  const b = await accepted;
  return { a, b, ea, eb, na, nb };
}

const message = (i: number, size = 64) => Uint8Array.from({ length: size }, (_, k) => (i * 31 + k * 7) & 0xff);

describeLinkCompliance('DTLS-UDP-SR-NO-ICE', async () => {
  const { a, b, ea, eb, na, nb } = await connected();
  return {
    a,
    b,
    aNodeId: na.nodeId,
    bNodeId: nb.nodeId,
    tick: () => sleep(5),
    teardown: async () => {
      await ea.close();
      await eb.close();
    },
  };
});

describeLinkSecurity(
  'DTLS',
  (node, policy) => endpoint(node, policy),
  () => ({ ids, foreign }),
  true,
);

describe('DTLS link, beyond the shared suites', () => {
  it('refuses to start with a private key that does not belong to the certificate', async () => {
    const other = await generateIdentityKeys('ecdsa');
    await expect(
      DtlsEndpoint.listen({
        privateKey: other.privateKey,
        certificates: [ids.nodes[0]!.certificate],
        policy: ids.policy,
      }),
    ).rejects.toThrow(/does not belong/);
  });

  it('a second connect to an address with an open link returns that link (one association per address)', async () => {
    const { a, ea, eb, nb, na } = await connected();
    expect(await ea.connect(eb.address, nb.nodeId)).toBe(a);
    await expect(ea.connect(eb.address, na.nodeId)).rejects.toThrow(PeerRejectedError);
    await a.close();
    await until(() => ea.associationCount === 0, 'the association to go');
    const again = await ea.connect(eb.address, nb.nodeId);
    expect(again).not.toBe(a);
    await ea.close();
    await eb.close();
  });

  it('works with RSA identities', async () => {
    const { a, b, ea, eb } = await connected(rsa);
    const got: Uint8Array[] = [];
    b.onMessage((m) => got.push(m));
    await a.send(message(1, 1000));
    await until(() => got.length === 1, 'the message');
    expect(got[0]).toEqual(message(1, 1000));
    await ea.close();
    await eb.close();
  });
});

/**
 * THE STOLEN-CERTIFICATE CASE. The impostor holds a valid certificate of our CA (the victim's) but not its
 * private key; werift itself is given another key, which bypasses our endpoint's check that key and
 * certificate belong together. Unpatched werift-dtls never checks the peer's CertificateVerify (server side)
 * nor the ServerKeyExchange signature (client side), so both handshakes completed and our endpoint handed
 * out a link to "the victim". Confirmed by running this file in a copy of the repository whose werift-dtls
 * was left unpatched (as published): both tests below failed — the server handed out a link whose peer was
 * node2@links.example.org, and `connect` resolved with a DtlsLink instead of rejecting. Applying
 * patches/werift-dtls+0.5.8.patch there (`npx patch-package`) made both pass.
 */
describe('DTLS proof of key possession (stolen certificate)', () => {
  let impostorKey: KeyObject;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    impostorKey = (await generateIdentityKeys('ecdsa')).privateKey;
  });
  afterAll(() => {
    for (const s of sockets) s.close();
  });

  /** A bare werift peer: the victim's certificate, the impostor's key, on its own UDP socket. */
  async function impostor(role: 'client' | 'server', remote?: DtlsAddress) {
    const victim = ids.nodes[2]!;
    const peer = await bareWeriftPeer(sockets, {
      role,
      credentials: {
        cert: `-----BEGIN CERTIFICATE-----\n${Buffer.from(victim.certificate).toString('base64')}\n-----END CERTIFICATE-----\n`,
        key: impostorKey.export({ format: 'pem', type: 'pkcs8' }) as string,
        signatureHash: { hash: 4, signature: 3 },
      },
      remote,
      // Plaintext alerts only.
      readAlert: (_, datagram) => (datagram.length === 15 ? datagram[14] : undefined),
    });
    return { ...peer, victim };
  }

  it('refuses a client that presents a certificate whose key it does not hold', async () => {
    const eb = await endpoint(ids.nodes[1]!);
    const accepted: Link[] = [];
    eb.onLink((l) => accepted.push(l));
    const fake = await impostor('client', eb.address);
    void (fake.dtls as DtlsClient).connect().catch(() => undefined);
    // Our server answers the bad CertificateVerify with a fatal bad_certificate alert (42).
    await until(() => fake.alerts.length > 0 || accepted.length > 0 || fake.connected(), 'the handshake outcome');
    expect(accepted.map((l) => l.peer.userName)).toEqual([]);
    expect(fake.alerts).toEqual([42]);
    expect(fake.connected()).toBe(false);
    await eb.close();
  });

  it('refuses a server that presents a certificate whose key it does not hold', async () => {
    const ea = await endpoint(ids.nodes[0]!);
    const fake = await impostor('server');
    const attempt = ea.connect(fake.address, fake.victim.nodeId);
    await expect(attempt).rejects.toBeInstanceOf(PeerRejectedError);
    await expect(attempt).rejects.toThrow(/did not prove it holds its certificate's key/);
    expect(fake.connected()).toBe(false);
    await ea.close();
  });
});

describe('DTLS key log', () => {
  it('writes the same NSS CLIENT_RANDOM line on both sides', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dtls-keylog-'));
    try {
      const fa = join(dir, 'a.log');
      const fb = join(dir, 'b.log');
      const [na, nb] = ids.nodes as [TestNode, TestNode];
      const ea = await endpoint(na, ids.policy, { keyLogFile: fa });
      const eb = await endpoint(nb, ids.policy, { keyLogFile: fb });
      const accepted = new Promise<Link>((resolve) => eb.onLink(resolve));
      await ea.connect(eb.address);
      await accepted;
      const line = readFileSync(fa, 'utf8');
      expect(line).toMatch(/^CLIENT_RANDOM [0-9a-f]{64} [0-9a-f]{96}\n$/);
      expect(readFileSync(fb, 'utf8')).toBe(line);
      await ea.close();
      await eb.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** mulberry32: small, fast, seedable. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A UDP relay on 127.0.0.1 between one client and one server. Once impaired it drops, duplicates and
 * reorders datagrams, each decision drawn from a seeded PRNG: reordering holds a datagram back until the
 * next one in the same direction has passed, or at most `maxHoldMs`.
 */
class Relay {
  impaired = false;
  blackhole = false;
  dropped = 0;
  duplicated = 0;
  reordered = 0;
  /** The first datagram from the client: its ClientHello. */
  firstUp: Buffer | undefined;
  /** Every datagram forwarded, if set. */
  tap: ((direction: 'up' | 'down', data: Buffer) => void) | undefined;
  private client: DtlsAddress | undefined;
  private readonly held = new Map<'up' | 'down', { data: Buffer; timer: NodeJS.Timeout }>();
  private readonly rand: () => number;

  private constructor(
    private readonly socket: Socket,
    private readonly server: DtlsAddress,
    seed: number,
    private readonly loss = 0.05,
    private readonly duplication = 0.02,
    private readonly reordering = 0.1,
    private readonly maxHoldMs = 25,
  ) {
    this.rand = prng(seed);
    socket.on('message', (data, from) => {
      if (from.address === server.host && from.port === server.port) this.forward('down', data);
      else {
        this.client = { host: from.address, port: from.port };
        this.firstUp ??= Buffer.from(data);
        this.forward('up', data);
      }
    });
  }

  static async start(server: DtlsAddress, seed: number): Promise<Relay> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new Relay(socket, server, seed);
  }

  get address(): DtlsAddress {
    return { host: '127.0.0.1', port: this.socket.address().port };
  }

  /** Sends a datagram of our own making as if it came from the other side. */
  inject(direction: 'up' | 'down', data: Uint8Array): void {
    this.send(direction, Buffer.from(data));
  }

  close(): void {
    for (const { timer } of this.held.values()) clearTimeout(timer);
    this.socket.close();
  }

  private send(direction: 'up' | 'down', data: Buffer): void {
    this.tap?.(direction, data);
    const to = direction === 'up' ? this.server : this.client;
    if (to) this.socket.send(data, to.port, to.host);
  }

  private forward(direction: 'up' | 'down', data: Buffer): void {
    if (this.blackhole) return;
    if (!this.impaired) return this.send(direction, data);
    if (this.rand() < this.loss) {
      this.dropped++;
      return;
    }
    const copies = this.rand() < this.duplication ? 2 : 1;
    if (copies === 2) this.duplicated++;
    const held = this.held.get(direction);
    if (held) {
      // this one overtakes the datagram held back
      clearTimeout(held.timer);
      this.held.delete(direction);
      for (let i = 0; i < copies; i++) this.send(direction, data);
      this.send(direction, held.data);
      this.reordered++;
      return;
    }
    if (this.rand() < this.reordering) {
      const timer = setTimeout(() => {
        this.held.delete(direction);
        for (let i = 0; i < copies; i++) this.send(direction, data);
      }, this.maxHoldMs);
      this.held.set(direction, { data, timer });
      return;
    }
    for (let i = 0; i < copies; i++) this.send(direction, data);
  }
}

describe('DTLS Simple Reliability', () => {
  it('delivers 200 messages exactly once and in order through 5% loss, duplication and reordering', async () => {
    const [na, nb] = ids.nodes as [TestNode, TestNode];
    const ea = await endpoint(na);
    const eb = await endpoint(nb);
    const relay = await Relay.start(eb.address, 20_240_601);
    try {
      const accepted = new Promise<Link>((resolve) => eb.onLink(resolve));
      const a = await ea.connect(relay.address, nb.nodeId);
      const b = await accepted;
      relay.impaired = true; // the handshake is werift's business; the impairment is for Simple Reliability
      const atB: Uint8Array[] = [];
      const atA: Uint8Array[] = [];
      b.onMessage((m) => atB.push(m));
      a.onMessage((m) => atA.push(m));
      const sent = Array.from({ length: 200 }, (_, i) => message(i, 40 + ((i * 37) % 900)));
      const back = Array.from({ length: 50 }, (_, i) => message(5000 + i, 100));
      const started = Date.now();
      await Promise.all([
        (async () => {
          for (const m of sent) await a.send(m);
        })(),
        (async () => {
          for (const m of back) await b.send(m);
        })(),
      ]);
      await until(() => atB.length >= 200 && atA.length >= 50, 'all messages', 20_000);
      await sleep(600); // let late copies and retransmissions arrive: they must not be delivered again
      const elapsed = Date.now() - started;
      expect(atB.length).toBe(200);
      expect(atB).toEqual(sent);
      expect(atA).toEqual(back);
      expect(a.stats.retransmissions + b.stats.retransmissions).toBeGreaterThan(0);
      expect(relay.dropped).toBeGreaterThan(0);
      expect(relay.duplicated).toBeGreaterThan(0);
      expect(relay.reordered).toBeGreaterThan(0);
      expect(a.closed || b.closed).toBe(false);
      console.info(
        `SR through the relay: ${elapsed} ms; relay dropped ${relay.dropped}, duplicated ${relay.duplicated},` +
          ` reordered ${relay.reordered}; retransmissions a=${a.stats.retransmissions} b=${b.stats.retransmissions};` +
          ` rtt a=${a.rttMs?.toFixed(1)} ms`,
      );
    } finally {
      await ea.close();
      await eb.close();
      relay.close();
    }
  }, 40_000);

  it('never gives two encrypted records the same AES-GCM nonce (epoch, sequence number)', async () => {
    // Unpatched werift numbered the Finished record of epoch 1 after the handshake records and then restarted
    // at 1, so the 7th (client) or 8th (server) application record reused the Finished record's nonce.
    const [na, nb] = ids.nodes as [TestNode, TestNode];
    const ea = await endpoint(na);
    const eb = await endpoint(nb);
    const relay = await Relay.start(eb.address, 5);
    const nonces = { up: new Set<string>(), down: new Set<string>() };
    let reused = 0;
    let records = 0;
    relay.tap = (direction, data) => {
      for (let at = 0; at + 13 <= data.length; at += 13 + data.readUInt16BE(at + 11)) {
        if (data.readUInt16BE(at + 3) === 0) continue; // epoch 0: in the clear
        const nonce = data.subarray(at + 13, at + 21).toString('hex'); // explicit nonce: epoch and sequence
        if (nonces[direction].has(nonce)) reused++;
        nonces[direction].add(nonce);
        records++;
      }
    };
    try {
      const accepted = new Promise<Link>((resolve) => eb.onLink(resolve));
      const a = await ea.connect(relay.address);
      const b = await accepted;
      const atA: Uint8Array[] = [];
      const atB: Uint8Array[] = [];
      a.onMessage((m) => atA.push(m));
      b.onMessage((m) => atB.push(m));
      for (let i = 0; i < 12; i++) {
        await a.send(message(i));
        await b.send(message(100 + i));
      }
      await until(() => atA.length === 12 && atB.length === 12, 'all messages');
      expect(records).toBeGreaterThan(40);
      expect(reused).toBe(0);
    } finally {
      await ea.close();
      await eb.close();
      relay.close();
    }
  });

  it('delivers a replayed record no second time, however late', async () => {
    const [na, nb] = ids.nodes as [TestNode, TestNode];
    const ea = await endpoint(na);
    const eb = await endpoint(nb);
    const relay = await Relay.start(eb.address, 9);
    const upData: Buffer[] = [];
    relay.tap = (direction, data) => {
      if (direction === 'up' && data[0] === 23) upData.push(Buffer.from(data));
    };
    try {
      const accepted = new Promise<Link>((resolve) => eb.onLink(resolve));
      const a = await ea.connect(relay.address);
      const b = await accepted;
      const atB: Uint8Array[] = [];
      b.onMessage((m) => atB.push(m));
      await a.send(message(0));
      await until(() => atB.length === 1, 'the first message');
      const first = upData[0]!;
      relay.inject('up', first); // at once: the same sequence number
      for (let i = 1; i <= 40; i++) await a.send(message(i));
      await until(() => atB.length === 41, '41 messages');
      relay.inject('up', first); // 40 sequence numbers later: outside the receive window
      await sleep(100);
      expect(atB).toEqual(Array.from({ length: 41 }, (_, i) => message(i)));
    } finally {
      await ea.close();
      await eb.close();
      relay.close();
    }
  });

  it('ignores forged plaintext alerts, a replayed ClientHello and junk after the handshake', async () => {
    const [na, nb] = ids.nodes as [TestNode, TestNode];
    const ea = await endpoint(na);
    const eb = await endpoint(nb);
    const relay = await Relay.start(eb.address, 3);
    try {
      const accepted = new Promise<Link>((resolve) => eb.onLink(resolve));
      const a = await ea.connect(relay.address);
      const b = await accepted;
      const record = (type: number, epoch: number, body: number[]) =>
        Uint8Array.from([type, 254, 253, 0, epoch, 0, 0, 0, 0, 0, 99, 0, body.length, ...body]);
      for (const direction of ['up', 'down'] as const) {
        relay.inject(direction, record(21, 0, [1, 0])); // close_notify in the clear
        relay.inject(direction, record(21, 0, [2, 40])); // fatal handshake_failure in the clear
        // werift reads these two "ciphertext" bytes as a close_notify without decrypting
        relay.inject(direction, record(21, 1, [1, 0, ...new Array<number>(24).fill(7)]));
        relay.inject(direction, record(25, 1, [1, 2, 3])); // unknown content type: werift takes it for an alert
        relay.inject(direction, Uint8Array.from([22, 254]));
      }
      relay.inject('up', relay.firstUp!); // a replayed ClientHello: b starts a new handshake that goes nowhere
      await sleep(100);
      expect(a.closed).toBe(false);
      expect(b.closed).toBe(false);
      const atA: Uint8Array[] = [];
      const atB: Uint8Array[] = [];
      a.onMessage((m) => atA.push(m));
      b.onMessage((m) => atB.push(m));
      await a.send(message(1));
      await b.send(message(2));
      await until(() => atA.length === 1 && atB.length === 1, 'messages both ways');
    } finally {
      await ea.close();
      await eb.close();
      relay.close();
    }
  });

  it('lets a peer that restarted on the same address in again, and ends its old link', async () => {
    const [na, nb] = ids.nodes as [TestNode, TestNode];
    const eb = await endpoint(nb);
    const links: Link[] = [];
    eb.onLink((l) => links.push(l));
    const crashed = await endpoint(na);
    await crashed.connect(eb.address);
    await until(() => links.length === 1, 'the first link');
    const reasons: string[] = [];
    links[0]!.onClose((r) => reasons.push(r));
    // The process dies: its socket goes away without a close_notify.
    (crashed as unknown as { socket: Socket }).socket.close();
    const ea = await endpoint(na, ids.policy, { port: crashed.address.port });
    try {
      const a = await ea.connect(eb.address, nb.nodeId);
      await until(() => links.length === 2, 'the new link');
      expect(reasons).toEqual(['remote']);
      const got: Uint8Array[] = [];
      links[1]!.onMessage((m) => got.push(m));
      await a.send(message(3));
      await until(() => got.length === 1, 'a message on the new link');
      expect(eb.associationCount).toBe(1);
    } finally {
      await ea.close();
      await eb.close();
    }
  });

  it('declares the link dead after 5 transmissions without an ack, doubling the wait', async () => {
    const [na, nb] = ids.nodes as [TestNode, TestNode];
    const ea = await endpoint(na, ids.policy, { initialRtoMs: 40 });
    const eb = await endpoint(nb);
    const relay = await Relay.start(eb.address, 7);
    try {
      const accepted = new Promise<Link>((resolve) => eb.onLink(resolve));
      const a = await ea.connect(relay.address);
      const b = await accepted;
      const atB: Uint8Array[] = [];
      b.onMessage((m) => atB.push(m));
      relay.blackhole = true;
      const closed = new Promise<string>((resolve) => a.onClose((reason) => resolve(reason)));
      const started = Date.now();
      await a.send(message(1));
      const queued = a.send(message(2)); // waits behind the first, then fails with the link
      expect(await closed).toBe('dead');
      const elapsed = Date.now() - started;
      // sends at 0, 40, 120, 280, 600 ms; dead at 1240 ms
      expect(elapsed).toBeGreaterThanOrEqual(1200);
      expect(elapsed).toBeLessThan(3000);
      expect(a.stats.retransmissions).toBe(4);
      await expect(queued).rejects.toThrow(/closed \(dead\)/);
      expect(atB).toEqual([]);
    } finally {
      await ea.close();
      await eb.close();
      relay.close();
    }
  });
});
