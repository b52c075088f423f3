/**
 * Overlays of real headless peer processes for the SIP interop tests (test/interop/sipp-overlay.test.ts,
 * test/interop/baresip.test.ts): an overlay directory with its CA, one CA-issued identity per peer (its
 * certificate user and Node-ID chosen by the test), peer 0 the first node on a free loopback port, and a
 * local SIP interface on a free port for the peers that want one.
 */
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { OverlayDir } from '../../src-main/host/overlay/overlay-dir';
import { exportIdentity, generateIdentityKeys, issueCertificate } from '../../src-main/reload/identity';
import { PeerProcess } from './peer-process';
import { freeLoopbackPort } from './sipp';

async function freeUdpPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createSocket('udp4').bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export interface SipOverlay {
  peers: PeerProcess[];
  /** Each peer's command line (a test may start another peer from one). */
  args: string[][];
  /** The local SIP port of each peer that has one. */
  sipPorts: Map<number, number>;
}

export interface SipOverlayOptions {
  /** The overlay name (the domain of every AOR). */
  overlay: string;
  /** How many peer processes. */
  peers: number;
  userOf: (i: number) => string;
  nodeIdOf: (i: number) => Uint8Array;
  sipPeers: number[];
  /** Each peer process is pushed here as soon as it is spawned (so a caller can kill them if startup fails). */
  spawned?: PeerProcess[];
}

/**
 * `o.peers` headless peers on loopback in `dir`, peer 0 the first node: peer i's certificate carries
 * `userOf(i)@overlay` and the Node-ID `nodeIdOf(i)`, and the peers in `sipPeers` open a local SIP interface on a
 * free port. Resolves once every peer is ready and every SIP interface is up for its user.
 */
export async function startSipOverlay(dir: string, o: SipOverlayOptions): Promise<SipOverlay> {
  const port = await freeUdpPort();
  const overlay = await OverlayDir.init(join(dir, 'overlay'), {
    overlay: o.overlay,
    bootstrapNodes: [{ address: '127.0.0.1', port }],
  });
  const args: string[][] = [];
  const sipPorts = new Map<number, number>();
  for (let i = 0; i < o.peers; i++) {
    const keys = await generateIdentityKeys('ecdsa');
    const { der } = await issueCertificate({
      ca: overlay.ca,
      publicKey: keys.webcrypto.publicKey,
      userName: `${o.userOf(i)}@${o.overlay}`,
      nodeIds: [o.nodeIdOf(i)],
      overlay: o.overlay,
      validDays: 2,
    });
    const file = join(dir, `peer${i}.identity`);
    writeFileSync(file, exportIdentity(keys.privateKey, [der], 'test-password'));
    writeFileSync(`${file}.password`, 'test-password\n');
    const a = ['--config', overlay.path('config'), '--identity', file, '--password-file', `${file}.password`];
    a.push('--host-address', '127.0.0.1', '--status-interval', '0');
    a.push(...(i === 0 ? ['--first-node', '--listen', `127.0.0.1:${port}`] : ['--listen', '127.0.0.1:0']));
    if (o.sipPeers.includes(i)) {
      sipPorts.set(i, await freeLoopbackPort(true));
      a.push('--sip-port', String(sipPorts.get(i)));
    }
    args.push(a);
  }
  const spawn = (i: number) => {
    const peer = new PeerProcess(args[i]!);
    o.spawned?.push(peer);
    return peer;
  };
  const peers = [spawn(0)];
  await peers[0]!.event('ready');
  for (let i = 1; i < o.peers; i++) peers.push(spawn(i));
  await Promise.all(peers.slice(1).map((p) => p.event('ready', 60_000)));
  for (const [i, sipPort] of sipPorts)
    expect(await peers[i]!.event('sip')).toMatchObject({
      uri: `sip:127.0.0.1:${sipPort}`,
      user: `${o.userOf(i)}@${o.overlay}`,
    });
  return { peers, args, sipPorts };
}
