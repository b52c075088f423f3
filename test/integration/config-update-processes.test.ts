/**
 * ConfigUpdate between two real headless peers (`npm run peer`, each its own process, ICE + DTLS on
 * loopback), with the configuration the operator tooling generates: A holds sequence 2, B starts from the
 * sequence 1 file. B's first request through its bootstrap link is answered Error_Config_Too_Old, and A sends
 * B the whole signed document (RFC 6940 §6.3.2.1) before that answer; B verifies and applies it, and its next
 * join attempt succeeds. B's --config is a file, so nothing but the ConfigUpdate can have updated it.
 */
import { createSocket } from 'node:dgram';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OverlayDir } from '../../src-main/host/overlay/overlay-dir';
import { signedConfigurationDocument } from '../../src-main/reload/config';
import { exportIdentity, generateIdentityKeys, issueCertificate } from '../../src-main/reload/identity';
import { tempDir } from '../support/fixtures';
import { PeerProcess } from '../support/peer-process';

const OVERLAY = 'update.example.org';
const SIP_REGISTRATION = 1;

/** A UDP port free right now (the first peer's DTLS endpoint listens on UDP). */
async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createSocket('udp4').bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

interface ConfigurationStatus {
  sequence: number;
  documentBytes: number;
  counters: Record<string, number>;
}

describe('ConfigUpdate between two peer processes', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const peers: PeerProcess[] = [];
  let oldConfig: string;
  let newConfig: string;
  let newDocument: string;
  const identities: string[] = [];
  let port: number;

  beforeAll(async () => {
    dir = await tempDir('config-update-processes-');
    port = await freePort();
    const overlay = await OverlayDir.init(join(dir.path, 'overlay'), {
      overlay: OVERLAY,
      bootstrapNodes: [{ address: '127.0.0.1', port }],
    });
    oldConfig = overlay.path('config');
    // Sequence 2: the same generated configuration with one Kind changed, signed by the overlay's signer.
    const input = overlay.configurationInput();
    newDocument = signedConfigurationDocument(
      {
        ...input,
        sequence: 2,
        kinds: input.kinds.map((k) => (k.id === SIP_REGISTRATION ? { ...k, maxCount: 20 } : k)),
      },
      overlay.signer,
      overlay.signer,
    );
    newConfig = join(dir.path, 'reload-config-2.xml');
    await writeFile(newConfig, newDocument);
    for (let i = 0; i < 2; i++) {
      const keys = await generateIdentityKeys('ecdsa');
      const { der } = await issueCertificate({
        ca: overlay.ca,
        publicKey: keys.webcrypto.publicKey,
        userName: `peer${i}@${OVERLAY}`,
        nodeIds: [Uint8Array.from({ length: 16 }, () => Math.floor(Math.random() * 256))],
        overlay: OVERLAY,
        validDays: 2,
      });
      const file = join(dir.path, `peer${i}.identity`);
      await writeFile(file, exportIdentity(keys.privateKey, [der], 'test-password'));
      await writeFile(`${file}.password`, 'test-password\n');
      identities.push(file);
    }
  }, 60_000);

  afterAll(async () => {
    await Promise.all(peers.map((p) => p.kill('SIGKILL')));
    await dir?.remove();
  });

  const args = (i: number, config: string, listen: string) => [
    '--config',
    config,
    '--identity',
    identities[i]!,
    '--password-file',
    `${identities[i]!}.password`,
    '--host-address',
    '127.0.0.1',
    '--status-interval',
    '0',
    '--listen',
    listen,
  ];

  const configuration = async (p: PeerProcess) =>
    ((await p.command({ cmd: 'status' })) as unknown as { configuration: ConfigurationStatus }).configuration;

  it('the stale peer is sent the full generated configuration of sequence 2, applies it and joins', async () => {
    const a = new PeerProcess([...args(0, newConfig, `127.0.0.1:${port}`), '--first-node']);
    peers.push(a);
    await a.event('ready');
    const b = new PeerProcess(args(1, oldConfig, '127.0.0.1:0'));
    peers.push(b);
    await b.event('ready', 60_000);

    expect(await configuration(b)).toMatchObject({
      sequence: 2,
      documentBytes: Buffer.byteLength(newDocument),
      counters: { accepted: 1, refused: 0 },
    });
    expect(await configuration(a)).toMatchObject({ sequence: 2, counters: { pushesTooLarge: 0 } });
    expect((await configuration(a)).counters.pushes).toBeGreaterThanOrEqual(1);
    const { status } = (await b.command({ cmd: 'status' })) as unknown as { status: { successors: string[] } };
    expect(status.successors).toHaveLength(1);
  }, 120_000);
});
