/**
 * Twenty real headless peers (`npm run peer`), each its own process, on loopback over ICE + DTLS links,
 * with CA-issued identities from an overlay made by the operator tooling: the ring converges; after a
 * SIGKILL of 30% of them it is correct again within a bounded time, every surviving peer's stored value is
 * fetchable again, and the killed peers restart and rejoin. Values are stored and fetched through the peers' control
 * interface, signed and access-checked as in the field.
 */
import { createSocket } from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateIdentityKeys, issueCertificate, exportIdentity } from '../../src-main/reload/identity';
import { OverlayDir } from '../../src-main/host/overlay/overlay-dir';
import { toHex } from '../../src-main/reload/wire';
import { PeerProcess } from '../support/peer-process';

const PEERS = 20;
const KILLED = 6;
const OVERLAY = 'ring.example.org';
const short = (ids: string[]) => ids.map((id) => id.slice(0, 6)).join(',');
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A UDP port free right now (the first peer's DTLS endpoint listens on UDP). */
async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createSocket('udp4').bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

interface Peer {
  process: PeerProcess;
  nodeId: string;
  args: string[];
}

describe('20 headless peers on loopback (separate processes, ICE + DTLS)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'reload-ring-'));
  const peers: Peer[] = [];
  let config: string;

  const start = (args: string[]) => new PeerProcess(args);

  async function ringErrors(live: Peer[]): Promise<string[]> {
    const sorted = [...live].sort((a, b) => a.nodeId.localeCompare(b.nodeId));
    const errors: string[] = [];
    await Promise.all(
      sorted.map(async (p, i) => {
        const { status } = (await p.process.command({ cmd: 'status' })) as unknown as {
          status: { successors: string[]; predecessors: string[]; state: string };
        };
        const expected = [1, 2, 3].map((k) => sorted[(i + k) % sorted.length]!.nodeId);
        const before = [1, 2, 3].map((k) => sorted[(i - k + 2 * sorted.length) % sorted.length]!.nodeId);
        if (status.state !== 'ready') errors.push(`${p.nodeId}: ${status.state}`);
        if (status.successors.join() !== expected.join())
          errors.push(`${p.nodeId.slice(0, 6)} successors ${short(status.successors)} expected ${short(expected)}`);
        if (status.predecessors.join() !== before.join())
          errors.push(`${p.nodeId.slice(0, 6)} predecessors ${short(status.predecessors)} expected ${short(before)}`);
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
    throw new Error(`ring not correct after ${ms} ms: ${errors.slice(0, 5).join('; ')}`);
  }

  beforeAll(async () => {
    const port = await freePort();
    const overlay = await OverlayDir.init(join(dir, 'overlay'), {
      overlay: OVERLAY,
      bootstrapNodes: [{ address: '127.0.0.1', port }],
    });
    config = overlay.path('config');
    for (let i = 0; i < PEERS; i++) {
      const keys = await generateIdentityKeys('ecdsa');
      const nodeId = Uint8Array.from({ length: 16 }, () => Math.floor(Math.random() * 256));
      const { der } = await issueCertificate({
        ca: overlay.ca,
        publicKey: keys.webcrypto.publicKey,
        userName: `peer${i}@${OVERLAY}`,
        nodeIds: [nodeId],
        overlay: OVERLAY,
        validDays: 2,
      });
      const file = join(dir, `peer${i}.identity`);
      writeFileSync(file, exportIdentity(keys.privateKey, [der], 'test-password'));
      writeFileSync(`${file}.password`, 'test-password\n');
      const args = ['--config', config, '--identity', file, '--password-file', `${file}.password`];
      // Owners store their values again every 15 s: a value whose three copies all died comes back within it.
      args.push('--host-address', '127.0.0.1', '--status-interval', '0', '--refresh-interval', '15');
      args.push(...(i === 0 ? ['--first-node', '--listen', `127.0.0.1:${port}`] : ['--listen', '127.0.0.1:0']));
      peers.push({ process: undefined as unknown as PeerProcess, nodeId: toHex(nodeId), args });
    }
  }, 60_000);

  afterAll(async () => {
    await Promise.all(peers.map((p) => p.process?.kill('SIGKILL')));
  });

  it('the ring converges: every successor and predecessor list matches the sorted Node-IDs', async () => {
    const joinTimes: number[] = [];
    peers[0]!.process = start(peers[0]!.args);
    await peers[0]!.process.event('ready');
    // The others in batches of four: joins overlap, as they would in the field.
    for (let i = 1; i < PEERS; i += 4) {
      const batch = peers.slice(i, i + 4);
      const t0 = Date.now();
      for (const p of batch) p.process = start(p.args);
      await Promise.all(batch.map((p) => p.process.event('ready', 60_000)));
      joinTimes.push(Date.now() - t0);
    }
    const settle = await converge(peers, 30_000);
    console.log(`20 peers: batches of 4 ready in ${joinTimes.join('/')} ms; ring correct ${settle} ms later`);
  }, 240_000);

  const CERT_BY_USER = 0x10;
  const valueOf = (i: number) => Buffer.from(`value of peer${i}`).toString('base64');

  async function fetchFailures(readers: Peer[], owners: number[]): Promise<string[]> {
    const failures: string[] = [];
    await Promise.all(
      readers.map(async (reader) => {
        for (const owner of owners) {
          const answer = await reader.process
            .command({ cmd: 'fetch', kind: CERT_BY_USER, resource: `peer${owner}@${OVERLAY}` })
            .catch((e: Error) => ({ values: [], error: e.message }));
          const values = (answer as { values?: string[] }).values ?? [];
          if (!values.includes(valueOf(owner))) failures.push(`${reader.nodeId.slice(0, 6)} ← peer${owner}`);
        }
      }),
    );
    return failures;
  }

  it('a value stored from any peer is fetched from every other, 0 failures', async () => {
    // Each peer stores under its own user name (CERTIFICATE_BY_USER is USER-MATCH: only it may).
    const t0 = Date.now();
    await Promise.all(
      peers.map((p, i) =>
        p.process.command({
          cmd: 'store',
          kind: CERT_BY_USER,
          resource: `peer${i}@${OVERLAY}`,
          index: 1, // index 0 holds the certificate the peer published
          value: valueOf(i),
          lifetime: 3600,
        }),
      ),
    );
    const stored = Date.now() - t0;
    const failures = await fetchFailures(
      peers,
      peers.map((_, i) => i),
    );
    expect(failures).toEqual([]);
    console.log(`20 stores in ${stored} ms; 400 fetches (every peer reads every value), 0 failures`);
  }, 120_000);

  it('after a SIGKILL of 30% of the peers the ring is correct again within 90 s, and they rejoin', async () => {
    const victims = peers.slice(2, 2 + KILLED);
    await Promise.all(victims.map((p) => p.process.kill('SIGKILL')));
    const survivors = peers.filter((p) => !victims.includes(p));
    // A killed peer's links go quiet: DTLS-SR gives up after 5 transmissions, ICE consent after 30 s; then
    // the successor check through the ring (1 s after a loss, and every minute) fixes what Updates missed.
    const repaired = await converge(survivors, 90_000);
    console.log(`SIGKILL of ${KILLED}/${PEERS}: ring correct among survivors after ${repaired} ms`);
    // Every survivor's value is there again: from replicas at once, or (all three copies died) from its
    // owner's next refresh.
    const owners = peers.map((p, i) => (victims.includes(p) ? -1 : i)).filter((i) => i >= 0);
    const started = Date.now();
    let failures = await fetchFailures(survivors, owners);
    while (failures.length > 0 && Date.now() - started < 45_000) {
      await sleep(2_000);
      failures = await fetchFailures(survivors, owners);
    }
    expect(failures).toEqual([]);
    console.log(
      `every surviving peer's value fetchable from every survivor ${Date.now() - started} ms after the repair`,
    );
    for (const p of victims) p.process = start(p.args);
    await Promise.all(victims.map((p) => p.process.event('ready', 60_000)));
    const rejoined = await converge(peers, 30_000);
    console.log(`restarted peers rejoined; ring correct after ${rejoined} ms`);
  }, 240_000);
});
