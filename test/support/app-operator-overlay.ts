/**
 * A fresh operator overlay on loopback, made the way an operator makes one: the real CLI
 * (`src-main/host/overlay-cli.ts`, what `npm run overlay --` runs) for `init`, `add-user` and `serve`, each a
 * child process with a bound; then headless peers (`npm run peer`, PeerProcess) with identities the overlay's
 * CA issued (app-peer-identities.ts). The app joins it through the served configuration URL, with
 * NODE_EXTRA_CA_CERTS naming the overlay's CA. Nothing of src-main is imported here: the browser tests that
 * use this file are typechecked with DOM types, which src-main is not written for.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeerProcess } from './peer-process';

const CLI = ['--import', 'tsx', 'src-main/host/overlay-cli.ts'];
const ISSUE = ['--import', 'tsx', 'test/support/app-peer-identities.ts'];
/** Each command's bound: init makes a CA and three keys, add-user hashes a password (scrypt). */
const CLI_TIMEOUT_MS = 60_000;
/** Headless peers' identity files are encrypted with this (throwaway test identities). */
const PEER_PASSWORD = 'peer-password';

export class OverlayCliError extends Error {
  constructor(args: string[], detail: string) {
    super(`overlay ${args[0] ?? ''} failed: ${detail}`);
    this.name = 'OverlayCliError';
  }
}

/** `npm run overlay -- <args>` as a child process; stdout, or OverlayCliError with its stderr. */
export function runOverlayCli(args: string[], stdin?: string, ms = CLI_TIMEOUT_MS): Promise<string> {
  return runNode([...CLI, ...args], args, stdin, ms);
}

function runNode(argv: string[], args: string[], stdin: string | undefined, ms: number): Promise<string> {
  const child = spawn(process.execPath, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  child.stdin.end(stdin ?? '');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new OverlayCliError(args, `no exit within ${ms} ms; stderr: ${err.slice(-2000)}`));
    }, ms);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new OverlayCliError(args, `exit ${code}; stderr: ${err.slice(-2000)}`));
    });
  });
}

/** A port free right now on 127.0.0.1 (UDP: a peer's DTLS endpoint; TCP: the HTTPS server). */
export function freePort(kind: 'udp' | 'tcp'): Promise<number> {
  return new Promise((resolve, reject) => {
    if (kind === 'udp') {
      const s = createSocket('udp4');
      s.once('error', reject);
      s.bind(0, '127.0.0.1', () => {
        const { port } = s.address();
        s.close(() => resolve(port));
      });
      return;
    }
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface OperatorOverlayOptions {
  /** The overlay's name (instance-name). */
  name: string;
  /** Accounts added with `add-user` (the app enrolls with one). */
  users: { user: string; password: string }[];
  /** Headless peers to start (the first forms the overlay at the bootstrap address). */
  peers: number;
  /** How many peers start at once after the first (two cores: a few). */
  batch?: number;
  /** Bound for each peer's `ready`. */
  readyMs?: number;
}

export interface OperatorOverlay {
  name: string;
  dir: string;
  /** The served configuration, https on 127.0.0.1 with the overlay CA's server certificate. */
  configUrl: string;
  /** The overlay CA's certificate (PEM file): NODE_EXTRA_CA_CERTS for the app's backend. */
  caCertFile: string;
  peers: PeerProcess[];
  peerNodeIds: string[];
  /** The CLI server's stderr (JSON log lines), for failure messages. */
  serverLog: () => string;
  /** Kills every peer and the server, removes the folder. Safe to call twice and after a failed start. */
  close: () => Promise<void>;
}

function startServe(dir: string): { child: ChildProcess; url: Promise<string>; log: () => string } {
  const child = spawn(process.execPath, [...CLI, 'serve', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (c: Buffer) => {
    log += c.toString();
    if (log.length > 100_000) log = log.slice(-100_000);
  });
  const url = new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new OverlayCliError(['serve'], `no URL in 30 s; stderr: ${log}`)), 30_000);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const match = /serving \S+: (https:\/\/\S+)\/\.well-known\/reload-config/.exec(out);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new OverlayCliError(['serve'], `exited with ${code}; stderr: ${log}`));
    });
  });
  return { child, url, log: () => log };
}

function killChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
  });
}

export async function startOperatorOverlay(options: OperatorOverlayOptions): Promise<OperatorOverlay> {
  const root = await mkdtemp(join(tmpdir(), 'softphone-operator-'));
  const dir = join(root, 'overlay');
  const peers: PeerProcess[] = [];
  let serve: ReturnType<typeof startServe> | undefined;
  const close = async () => {
    await Promise.all(peers.map((p) => p.kill('SIGKILL')));
    await killChild(serve?.child);
    await rm(root, { recursive: true, force: true });
  };
  try {
    const [httpsPort, bootstrapPort] = await Promise.all([freePort('tcp'), freePort('udp')]);
    const base = `https://127.0.0.1:${httpsPort}`;
    await runOverlayCli([
      'init',
      options.name,
      '--dir',
      dir,
      '--host',
      '127.0.0.1',
      '--port',
      String(httpsPort),
      '--enrollment-url',
      `${base}/enroll`,
      '--bootstrap',
      `127.0.0.1:${bootstrapPort}`,
    ]);
    for (const { user, password } of options.users)
      await runOverlayCli(['add-user', user, '--password-stdin', '--dir', dir], `${password}\n`);
    serve = startServe(dir);
    const served = await serve.url;
    if (served !== base) throw new OverlayCliError(['serve'], `serves ${served}, expected ${base}`);

    const issued = await runNode(
      [...ISSUE, dir, String(options.peers), root, PEER_PASSWORD],
      ['peer identities'],
      undefined,
      CLI_TIMEOUT_MS,
    );
    const peerNodeIds = (JSON.parse(issued) as { nodeIds: string[] }).nodeIds;
    const args: string[][] = [];
    for (let i = 0; i < options.peers; i++) {
      const file = join(root, `peer${i}.identity`);
      await writeFile(`${file}.password`, `${PEER_PASSWORD}\n`, { mode: 0o600 });
      args.push([
        '--config',
        join(dir, 'reload-config.xml'),
        '--identity',
        file,
        '--password-file',
        `${file}.password`,
        '--host-address',
        '127.0.0.1',
        '--status-interval',
        '0',
        '--listen',
        i === 0 ? `127.0.0.1:${bootstrapPort}` : '127.0.0.1:0',
        ...(i === 0 ? ['--first-node'] : []),
      ]);
    }
    const readyMs = options.readyMs ?? 60_000;
    const start = (i: number) => {
      const p = new PeerProcess(args[i]!);
      peers.push(p);
      return p.event('ready', readyMs);
    };
    if (options.peers > 0) await start(0);
    const batch = options.batch ?? 4;
    for (let i = 1; i < options.peers; i += batch) {
      const ids = Array.from({ length: Math.min(batch, options.peers - i) }, (_, k) => i + k);
      await Promise.all(ids.map(start));
    }
    return {
      name: options.name,
      dir,
      configUrl: `${base}/.well-known/reload-config`,
      caCertFile: join(dir, 'ca-cert.pem'),
      peers,
      peerNodeIds,
      serverLog: () => serve?.log() ?? '',
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** A headless peer's view of the ring (its control interface's `status`). */
export interface PeerRingStatus {
  nodeId: string;
  state: string;
  successors: string[];
  predecessors: string[];
}

export async function peerRing(peer: PeerProcess): Promise<PeerRingStatus> {
  const { status } = (await peer.command({ cmd: 'status' })) as unknown as { status: PeerRingStatus };
  return status;
}
