/**
 * ICE through a NAT, across network namespaces made by the test: B (the bootstrap node) and C sit on the
 * public side, A behind an iptables MASQUERADE router. A joins through B (a direct DTLS link out through
 * the NAT, then an Attach whose ICE checks must cross it), and then attaches to C through B. Each node is
 * its own process, run with `ip netns exec`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../src-main/reload/wire';
import { createNatNamespaces, namespacesUnavailable, type NatNamespaces } from '../support/nat-namespaces';
import { makeNodes, TEST_OVERLAY, type TestNode, type TestNodes } from '../support/node-identities';
import type { IceNodeSetup } from '../support/ice-node-process';

const unavailable = namespacesUnavailable();
if (unavailable) console.warn(`NAT test skipped: ${unavailable}`);

type Event = Record<string, unknown> & { event: string };

class NodeProcess {
  readonly events: Event[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as Event);
      } catch {
        return; // not one of ours
      }
      for (const w of [...this.waiters]) w();
    });
  }

  next(event: string, after: number, ms: number): Promise<Event> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.events.slice(after).find((e) => e.event === event || e.event === 'error');
        if (!found) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        if (found.event === 'error') reject(new Error(`${String(found.during)}: ${String(found.message)}`));
        else resolve(found);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no ${event} within ${ms} ms; saw ${JSON.stringify(this.events)}`));
      }, ms);
      this.waiters.add(check);
      check();
    });
  }

  async command(line: string, event: string, ms = 20_000): Promise<Event> {
    const after = this.events.length;
    this.child.stdin!.write(`${line}\n`);
    return this.next(event, after, ms);
  }
}

describe.skipIf(unavailable !== undefined)('ICE through a MASQUERADE NAT (network namespaces)', () => {
  let ns: NatNamespaces;
  let ids: TestNodes;
  const children: ChildProcess[] = [];
  let a: NodeProcess, b: NodeProcess, c: NodeProcess;
  let bAddress: { host: string; port: number };
  const dir = mkdtempSync(join(tmpdir(), 'reload-nat-'));

  function start(namespace: string, node: TestNode, host: string, bootstrap?: { host: string; port: number }) {
    const setup: IceNodeSetup = {
      overlay: TEST_OVERLAY,
      privateKeyPem: node.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      certificate: Buffer.from(node.certificate).toString('base64'),
      rootCert: Buffer.from(ids.ca.certificate).toString('base64'),
      nodeId: toHex(node.nodeId),
      listenHost: host,
      hostAddresses: [host],
      ...(bootstrap ? { bootstrap } : {}),
    };
    const file = join(dir, `${toHex(node.nodeId)}.json`);
    writeFileSync(file, JSON.stringify(setup));
    const child = spawn(
      'ip',
      ['netns', 'exec', namespace, process.execPath, '--import', 'tsx', 'test/support/ice-node-process.ts', file],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    children.push(child);
    return new NodeProcess(child);
  }

  beforeAll(async () => {
    ns = createNatNamespaces();
    ids = await makeNodes(3);
    b = start(ns.public, ids.nodes[1]!, ns.publicAddress);
    const listening = await b.next('listening', 0, 20_000);
    bAddress = { host: String(listening.host), port: Number(listening.port) };
  }, 60_000);

  afterAll(async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 3000).unref();
          }),
      ),
    );
    ns?.remove();
  });

  it('joins from behind the NAT: the Attach to Node-ID + 1 builds an ICE link to B across it', async () => {
    c = start(ns.public, ids.nodes[2]!, ns.publicAddress, bAddress);
    a = start(ns.private, ids.nodes[0]!, ns.privateAddress, bAddress);
    const [joinedA, joinedC] = await Promise.all([
      a.next('bootstrapped', 0, 40_000),
      c.next('bootstrapped', 0, 40_000),
    ]);
    for (const joined of [joinedA, joinedC]) {
      expect(joined.bootstrapType).toBe('DTLS-UDP-SR-NO-ICE');
      expect(joined.admittingType).toBe('DTLS-UDP-SR');
      expect(joined.admitting).toBe(toHex(ids.nodes[1]!.nodeId));
    }
    // The router really translated A's traffic.
    const nat = ns.exec(ns.router, ['iptables', '-t', 'nat', '-L', 'POSTROUTING', '-v', '-n', '-x']);
    const masqueraded = /^\s*(\d+)\s+\d+\s+MASQUERADE/m.exec(nat);
    expect(Number(masqueraded?.[1] ?? 0)).toBeGreaterThan(0);
  }, 60_000);

  it('attaches A (behind the NAT) to C (public) through B, then pings C directly', async () => {
    const attached = await a.command(`attach ${toHex(ids.nodes[2]!.nodeId)}`, 'attached', 40_000);
    expect(attached.type).toBe('DTLS-UDP-SR');
    const pong = await a.command(`ping ${toHex(ids.nodes[2]!.nodeId)}`, 'pong');
    expect(pong.direct).toBe(true);
    // And C reaches A, which has no public address, over the same link.
    const back = await c.command(`ping ${toHex(ids.nodes[0]!.nodeId)}`, 'pong');
    expect(back.direct).toBe(true);
  }, 60_000);
});
