/**
 * Kamailio (Debian package `kamailio`) as the conventional SIP registrar and proxy the tests and the SIP
 * benchmark compare against: the configuration test/support/sipp-scenarios/kamailio.cfg (from
 * /work/shared/anchors/sip/kamailio.cfg) written into a temporary directory with its port, worker count and
 * module path, started in the foreground (`-DD -E`, logging to stderr) on a free 127.0.0.1 port, ready once it
 * answers a SIP OPTIONS, and stopped by its pid (SIGTERM, then SIGKILL of it and its workers).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeLoopbackPort, LOOPBACK, trackChild } from './sipp';

export const KAMAILIO = process.env.KAMAILIO_PATH ?? 'kamailio';
const TEMPLATE = new URL('./sipp-scenarios/kamailio.cfg', import.meta.url).pathname;

export interface KamailioOptions {
  /** UDP port on 127.0.0.1; 0 or absent: a free one. */
  port?: number;
  /** UDP worker processes (default 1: with more, a 200 OK can overtake its 180 and strict sipp scenarios abort). */
  children?: number;
  /** Shared memory in MB (`-m`, default 64; the anchor uses 512 for rates over ~600 calls/s). */
  shmMb?: number;
  /** Private memory per process in MB (`-M`, default 8). */
  pkgMb?: number;
  /** Ready (answers OPTIONS) within this, or it is killed and start() rejects (default 10 s). */
  startTimeoutMs?: number;
}

/** Kamailio's version line, or undefined when it is not installed. */
export function kamailioVersion(): string | undefined {
  const r = spawnSync(KAMAILIO, ['-v'], { encoding: 'utf8', timeout: 5000 });
  if (r.error || typeof r.stdout !== 'string') return undefined;
  return (
    r.stdout
      .split('\n')[0]
      ?.replace(/^version:\s*/, '')
      .trim() || undefined
  );
}

/** The installed package's module directory (Debian: /usr/lib/<multiarch>/kamailio/modules). */
export function kamailioModulesDir(): string {
  for (const lib of ['/usr/lib', '/usr/lib64', '/usr/local/lib']) {
    if (!existsSync(lib)) continue;
    const direct = join(lib, 'kamailio', 'modules');
    if (existsSync(join(direct, 'tm.so'))) return direct;
    for (const arch of readdirSync(lib)) {
      const dir = join(lib, arch, 'kamailio', 'modules');
      if (existsSync(join(dir, 'tm.so'))) return dir;
    }
  }
  throw new Error('kamailio modules not found: install Debian kamailio (.ci/run does)');
}

/** The configuration for one run: the template with port, workers and module path defined. */
export function kamailioConfig(port: number, children: number, modulesDir = kamailioModulesDir()): string {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`kamailio: bad port ${port}`);
  if (!Number.isInteger(children) || children < 1 || children > 64)
    throw new RangeError(`kamailio: bad children ${children}`);
  const template = readFileSync(TEMPLATE, 'utf8');
  const mpath = /^mpath=.*$/m;
  if (!mpath.test(template)) throw new Error(`${TEMPLATE}: no mpath line`);
  const [first, ...rest] = template.split('\n');
  return [first, `#!define SIP_PORT ${port}`, `#!define CHILDREN ${children}`, ...rest]
    .join('\n')
    .replace(mpath, `mpath="${modulesDir}/"`);
}

export class Kamailio {
  private stopped?: Promise<void>;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
    readonly dir: string,
    private readonly logTail: () => string,
  ) {}

  /** `127.0.0.1:port`, the target for sipp. */
  get address(): string {
    return `${LOOPBACK}:${this.port}`;
  }

  get pid(): number {
    return this.child.pid!;
  }

  static async start(options: KamailioOptions = {}): Promise<Kamailio> {
    const port = options.port || (await freeLoopbackPort());
    const dir = await mkdtemp(join(tmpdir(), 'kamailio-'));
    const cfg = join(dir, 'kamailio.cfg');
    await writeFile(cfg, kamailioConfig(port, options.children ?? 1));
    const args = ['-f', cfg, '-DD', '-E', '-m', String(options.shmMb ?? 64), '-M', String(options.pkgMb ?? 8)];
    // -Y: its runtime directory (ctl/fifo sockets if a module wants one) in ours, not /run/kamailio.
    args.push('-Y', dir, '-P', join(dir, 'kamailio.pid'));
    const child = spawn(KAMAILIO, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child);
    let log = '';
    const keep = (chunk: Buffer) => {
      log = (log + chunk.toString('utf8')).slice(-16384);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const k = new Kamailio(child, port, dir, () => log);
    try {
      await k.waitReady(options.startTimeoutMs ?? 10_000);
    } catch (error) {
      await k.stop();
      throw error;
    }
    return k;
  }

  /** The end of its log (stderr), at most 16 KiB. */
  log(): string {
    return this.logTail();
  }

  /** Its main pid and every descendant (the workers, timers), from /proc. */
  pids(): number[] {
    const out: number[] = [];
    const walk = (pid: number) => {
      out.push(pid);
      let children = '';
      try {
        children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8');
      } catch {
        return;
      }
      for (const c of children.trim().split(/\s+/).filter(Boolean)) walk(Number(c));
    };
    if (this.child.exitCode === null && this.child.signalCode === null) walk(this.pid);
    return out;
  }

  /** SIGTERM to the main process (it ends its workers); after graceMs SIGKILL to it and every worker it had. */
  stop(graceMs = 3000): Promise<void> {
    this.stopped ??= (async () => {
      const all = this.pids();
      if (this.child.exitCode === null && this.child.signalCode === null) {
        const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
        this.child.kill('SIGTERM');
        const timedOut = await Promise.race([
          exited.then(() => false),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(true), graceMs)),
        ]);
        if (timedOut) this.child.kill('SIGKILL');
      }
      // Workers left behind (the main process killed, or slow to reap them): only those that were ours.
      const deadline = performance.now() + graceMs;
      for (const pid of all.slice(1)) {
        while (isKamailio(pid) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        if (isKamailio(pid)) process.kill(pid, 'SIGKILL');
      }
      rmSync(this.dir, { recursive: true, force: true });
    })();
    return this.stopped;
  }

  /** Ready once an OPTIONS sent to it gets any SIP response (its route answers 404 to an unknown user). */
  private async waitReady(ms: number): Promise<void> {
    const deadline = performance.now() + ms;
    let attempt = 0;
    while (performance.now() < deadline) {
      if (this.child.exitCode !== null || this.child.signalCode !== null)
        throw new Error(`kamailio exited (code ${this.child.exitCode}) while starting:\n${this.log().slice(-3000)}`);
      if (await sipProbe(this.port, 200, attempt++)) return;
    }
    throw new Error(`kamailio not answering on ${this.address} after ${ms} ms:\n${this.log().slice(-3000)}`);
  }
}

function isKamailio(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'kamailio';
  } catch {
    return false;
  }
}

/** Sends one OPTIONS over UDP to 127.0.0.1:port; true if a SIP response comes back within `ms`. */
export function sipProbe(port: number, ms: number, attempt = 0): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const done = (ok: boolean) => {
      clearTimeout(timer);
      s.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), ms);
    s.once('error', () => done(false));
    s.on('message', (m) => {
      if (m.subarray(0, 8).toString('latin1') === 'SIP/2.0 ') done(true);
    });
    s.bind(0, LOOPBACK, () => {
      const me = s.address().port;
      const id = `probe-${process.pid}-${attempt}-${me}`;
      const request = [
        `OPTIONS sip:probe@${LOOPBACK}:${port} SIP/2.0`,
        `Via: SIP/2.0/UDP ${LOOPBACK}:${me};branch=z9hG4bK-${id}`,
        `From: <sip:probe@${LOOPBACK}>;tag=${attempt}`,
        `To: <sip:probe@${LOOPBACK}:${port}>`,
        `Call-ID: ${id}`,
        'CSeq: 1 OPTIONS',
        'Max-Forwards: 70',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      s.send(request, port, LOOPBACK);
    });
  });
}
