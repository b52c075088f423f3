/**
 * Real sockets between separate processes: A (this test) → B → C over TLS links on loopback, B and C each
 * in its own Node process. A request from A to C is forwarded by B and answered by C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src-main/common/logger';
import { realClock } from '../../src-main/reload/clock';
import { createSigner } from '../../src-main/reload/crypto';
import { TlsEndpoint } from '../../src-main/reload/link/tls/tls-endpoint';
import { MessageTransport, StaticTopology } from '../../src-main/reload/transport';
import { bytesEqual, toHex } from '../../src-main/reload/wire';
import { tempDir } from '../support/fixtures';
import { makeNodes, TEST_OVERLAY, type TestNodes } from '../support/node-identities';

let ids: TestNodes;
let dir: Awaited<ReturnType<typeof tempDir>>;
const children: ChildProcess[] = [];
let transport: MessageTransport;
let endpoint: TlsEndpoint;

async function startPeer(
  index: number,
  routes: Record<string, string>,
  connectTo?: { port: number; nodeId: string },
): Promise<number> {
  const node = ids.nodes[index]!;
  const file = join(dir.path, `peer${index}.json`);
  await writeFile(
    file,
    JSON.stringify({
      index,
      overlay: TEST_OVERLAY,
      privateKeyPem: node.privateKey.export({ format: 'pem', type: 'pkcs8' }),
      certificate: Buffer.from(node.certificate).toString('base64'),
      rootCert: Buffer.from(ids.ca.certificate).toString('base64'),
      nodeId: toHex(node.nodeId),
      routes,
      ...(connectTo ? { connectTo: { host: '127.0.0.1', ...connectTo } } : {}),
    }),
    { mode: 0o600 },
  );
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/tls-peer-process.ts', file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`peer ${index} did not start`)), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      const m = /listening (\d+)/.exec(d.toString());
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`peer ${index} exited with ${code}`)));
  });
}

beforeAll(async () => {
  ids = await makeNodes(3);
  dir = await tempDir('multi-process-');
  const [a, b, c] = ids.nodes.map((n) => toHex(n.nodeId)) as [string, string, string];
  const cPort = await startPeer(2, { [a]: b });
  const bPort = await startPeer(1, {}, { port: cPort, nodeId: c });
  const node = ids.nodes[0]!;
  transport = new MessageTransport({
    nodeId: node.nodeId,
    overlay: 99,
    configSequence: 1,
    initialTtl: 100,
    reliabilityTimerMs: 1000,
    maxMessageSize: 5000,
    nodeIdLength: 16,
    signer: createSigner({ privateKey: node.privateKey, certificate: node.certificate }),
    policy: ids.policy,
    topology: new StaticTopology(
      (id) => bytesEqual(id, node.nodeId),
      () => ids.nodes[1]!.nodeId,
    ),
    clock: realClock,
    log: createLogger({ level: 'warn' }),
  });
  endpoint = await TlsEndpoint.listen({
    privateKey: node.privateKey,
    certificates: [node.certificate],
    policy: ids.policy,
  });
  transport.addLink(await endpoint.connect({ host: '127.0.0.1', port: bPort }, ids.nodes[1]!.nodeId));
}, 60_000);

afterAll(async () => {
  await endpoint?.close();
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(undefined) : c.once('exit', r)))));
  await dir?.remove();
});

describe('separate processes on loopback', () => {
  it('A reaches C through B; C answers along the reverse path', async () => {
    const { body, message } = await transport.request([{ type: 'node', id: ids.nodes[2]!.nodeId }], {
      method: 'ping_req',
      value: { padding: new Uint8Array(32) },
    });
    expect(body).toMatchObject({ method: 'ping_ans', value: { responseId: 2n } });
    expect(message.header.transactionId).toBeTypeOf('bigint');
  });

  it('reaches B directly, and many requests in a row all succeed', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        transport.request([{ type: 'node', id: ids.nodes[i % 2 ? 1 : 2]!.nodeId }], {
          method: 'ping_req',
          value: { padding: new Uint8Array(0) },
        }),
      ),
    );
    expect(results.map((r) => (r.body.method === 'ping_ans' ? Number(r.body.value.responseId) : -1))).toEqual(
      Array.from({ length: 50 }, (_, i) => (i % 2 ? 1 : 2)),
    );
    expect(transport.counters.retransmissions).toBe(0);
  });
});
