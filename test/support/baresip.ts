/**
 * baresip (Debian package `baresip-core`) as a real, standard SIP phone in the interop tests: headless, in its
 * own configuration directory (`baresip -f DIR`) with one account line, listening for SIP on 127.0.0.1 only,
 * without any sound hardware: `ausine` (a 440 Hz tone) is the microphone and no audio player module is loaded
 * (baresip then starts no player; the tone is still sent as RTP). No UI module: stdin is /dev/null and the
 * process is stopped with SIGTERM, which makes baresip unregister its account and exit once that is answered
 * (SIGKILL after a grace period). Its log (stdout/stderr) is kept for assertions and failure messages.
 * The child is tracked with sipp.ts's trackChild, so `liveChildren()` covers it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeLoopbackPort, LOOPBACK, trackChild } from './sipp';

export const BARESIP = process.env.BARESIP_PATH ?? 'baresip';

/** baresip's version (`baresip -h` prints `baresip v1.0.0 Copyright …`), or undefined when it is not installed. */
export function baresipVersion(): string | undefined {
  const r = spawnSync(BARESIP, ['-h'], { encoding: 'utf8', timeout: 5000 });
  if (r.error) return undefined;
  return /baresip v(\S+)/.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`)?.[1];
}

/** The installed package's module directory (Debian: /usr/lib/baresip/modules). */
export function baresipModulesDir(): string {
  const candidates = ['/usr/lib/baresip/modules', '/usr/local/lib/baresip/modules'];
  for (const lib of ['/usr/lib', '/usr/lib64'])
    if (existsSync(lib)) for (const arch of readdirSync(lib)) candidates.push(join(lib, arch, 'baresip', 'modules'));
  const found = candidates.find((dir) => existsSync(join(dir, 'ausine.so')) && existsSync(join(dir, 'account.so')));
  if (!found) throw new Error('baresip modules not found: install Debian baresip-core (.ci/run does)');
  return found;
}

/**
 * The `config` for one run. Every line is needed:
 * - `net_interface 127.0.0.1`: otherwise baresip puts the machine's first non-loopback address into its SDP
 *   (`net_interface lo` fails: "could not get IPv4 address").
 * - `ausrc_srate 48000`, `ausrc_channels 2`: ausine refuses anything else ("supports only 48kHz samplerate",
 *   "supports only 2 channels"), and baresip then answers nothing at all; it resamples to the codec's 8 kHz mono.
 * - g711 only: the sipp scenarios offer PCMU.
 */
export function baresipConfig(sipPort: number, modulesDir = baresipModulesDir()): string {
  if (!Number.isInteger(sipPort) || sipPort < 1 || sipPort > 65535)
    throw new RangeError(`baresip: bad port ${sipPort}`);
  return [
    '# written by test/support/baresip.ts: headless, loopback only, no sound hardware',
    'poll_method\t\tepoll',
    `sip_listen\t\t${LOOPBACK}:${sipPort}`,
    `net_interface\t\t${LOOPBACK}`,
    'call_local_timeout\t30',
    'call_max_calls\t\t4',
    'audio_source\t\tausine,440',
    'ausrc_srate\t\t48000',
    'ausrc_channels\t\t2',
    `module_path\t\t${modulesDir}`,
    'module\t\t\tg711.so',
    'module\t\t\tausine.so',
    'module_tmp\t\taccount.so',
    '',
  ].join('\n');
}

export interface BaresipOptions {
  /** The one line of its `accounts` file. */
  account: string;
  /** SIP port on 127.0.0.1 (UDP and TCP); 0 or absent: a free one. */
  port?: number;
  /** Its own bound: baresip's `-t` (it stops itself after that many seconds). Default 300. */
  maxLifetimeSec?: number;
  /** `baresip is ready.` within this, or it is killed and start() rejects (default 10 s). */
  startTimeoutMs?: number;
  /** `-s`: SIP trace in its log. */
  sipTrace?: boolean;
}

const LOG_TAIL = 64 * 1024;

export class Baresip {
  private logText = '';
  private readonly waiters = new Set<() => void>();
  private stopped?: Promise<{ code: number | null; signal: NodeJS.Signals | null; killed: boolean }>;
  /** The spawn failed (e.g. ENOENT): there is no process and no 'exit' to wait for. */
  private spawnError?: Error;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
    readonly dir: string,
  ) {
    const keep = (chunk: Buffer) => {
      // Its log is coloured with ANSI escapes and its SIP trace (-s) has CRLF line ends: keep plain lines.
      // eslint-disable-next-line no-control-regex
      const text = chunk.toString('utf8').replace(/\x1b\[[0-9;]*m|\r/g, '');
      this.logText = (this.logText + text).slice(-LOG_TAIL);
      this.wake();
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.once('exit', () => this.wake());
    child.once('error', (error) => {
      this.spawnError = error;
      this.wake();
    });
  }

  get exited(): boolean {
    return this.spawnError !== undefined || this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** The end of its log (at most 64 KiB). */
  log(): string {
    return this.logText;
  }

  static async start(options: BaresipOptions): Promise<Baresip> {
    if (/[\r\n]/.test(options.account)) throw new Error('baresip: the account must be one line');
    const port = options.port || (await freeLoopbackPort(true));
    const dir = await mkdtemp(join(tmpdir(), 'baresip-'));
    await writeFile(join(dir, 'config'), baresipConfig(port));
    await writeFile(join(dir, 'accounts'), `${options.account}\n`);
    const args = ['-f', dir, '-t', String(options.maxLifetimeSec ?? 300), ...(options.sipTrace ? ['-s'] : [])];
    const child = spawn(BARESIP, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child);
    const b = new Baresip(child, port, dir);
    try {
      await b.waitFor(/baresip is ready\./, options.startTimeoutMs ?? 10_000, 'start');
    } catch (error) {
      await b.stop(1000);
      throw error;
    }
    return b;
  }

  /** Resolves once its log (from the start) matches `pattern`; rejects after `ms` or if it exits first. */
  waitFor(pattern: RegExp, ms: number, what = String(pattern)): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = pattern.exec(this.logText);
        if (m) {
          done();
          resolve(m);
        } else if (this.exited) {
          done();
          reject(
            new Error(`baresip exited (code ${this.child.exitCode}) before ${what}:\n${this.logText.slice(-3000)}`),
          );
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`baresip: no ${what} within ${ms} ms:\n${this.logText.slice(-3000)}`));
      }, ms);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /**
   * SIGTERM (baresip unregisters, then exits by itself), SIGKILL after graceMs; resolves with how it ended
   * (`killed`: it had to be SIGKILLed). Removes its directory. Idempotent.
   */
  stop(graceMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; killed: boolean }> {
    this.stopped ??= (async () => {
      let killed = false;
      if (!this.exited) {
        const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
        this.child.kill('SIGTERM');
        const timedOut = await Promise.race([
          exited.then(() => false),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(true), graceMs)),
        ]);
        if (timedOut) {
          killed = true;
          this.child.kill('SIGKILL');
          await exited;
        }
      }
      rmSync(this.dir, { recursive: true, force: true });
      return { code: this.child.exitCode, signal: this.child.signalCode, killed };
    })();
    return this.stopped;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}
