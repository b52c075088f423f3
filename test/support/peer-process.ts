/**
 * Runs `src-main/host/peer-cli.ts` (the real headless peer) as a child process with `--control`, and talks
 * to it in JSON lines: events it prints, and commands with a tag answered by tag.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export type PeerLine = Record<string, unknown> & { event?: string; ok?: boolean; tag?: number };

export class PeerProcess {
  readonly lines: PeerLine[] = [];
  /** The last lines of its log, for failure messages. */
  readonly stderr: string[] = [];
  readonly child: ChildProcess;
  private readonly waiters = new Set<() => void>();
  private nextTag = 1;
  exited = false;

  /** `namespace`: run it inside that network namespace (`ip netns exec`, which execs: the pid is the peer's). */
  constructor(args: string[], env: NodeJS.ProcessEnv = {}, namespace?: string) {
    // RELOAD_PEER_ENTRY: a JavaScript build of peer-cli.ts to run instead of the TypeScript through tsx (benchmarks).
    const entry = process.env.RELOAD_PEER_ENTRY;
    const command = [
      process.execPath,
      ...(entry ? [entry] : ['--import', 'tsx', 'src-main/host/peer-cli.ts']),
      ...args,
      // Peers run without the local SIP interface unless a test names a port: many peers share one machine.
      ...(args.includes('--sip-port') ? [] : ['--sip-port', '0']),
      '--control',
    ];
    const [file, ...rest] = namespace ? ['ip', 'netns', 'exec', namespace, ...command] : command;
    this.child = spawn(file as string, rest, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    });
    createInterface({ input: this.child.stderr! }).on('line', (line) => {
      this.stderr.push(line);
      if (this.stderr.length > 20) this.stderr.shift();
    });
    this.child.once('exit', () => {
      this.exited = true;
      this.wake();
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      try {
        this.lines.push(JSON.parse(line) as PeerLine);
      } catch {
        return;
      }
      this.wake();
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** The first line (from `from` on) that matches, within `ms`. */
  wait(match: (line: PeerLine) => boolean, ms: number, what: string, from = 0): Promise<PeerLine> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.lines.slice(from).find(match);
        if (found) {
          done();
          resolve(found);
        } else if (this.exited) {
          done();
          reject(new Error(`peer exited before ${what}; stderr: ${this.stderr.slice(-5).join(' | ')}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${what} within ${ms} ms; last lines ${JSON.stringify(this.lines.slice(-3))}`));
      }, ms);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  event(name: string, ms = 30_000): Promise<PeerLine> {
    return this.wait((l) => l.event === name, ms, `event ${name}`);
  }

  async command(cmd: Record<string, unknown>, ms = 20_000): Promise<PeerLine> {
    const tag = this.nextTag++;
    this.child.stdin!.write(`${JSON.stringify({ ...cmd, tag })}\n`);
    const answer = await this.wait((l) => l.tag === tag, ms, `answer to ${String(cmd.cmd)}`);
    if (answer.ok !== true) throw new Error(`${String(cmd.cmd)} failed: ${String(answer.error)}`);
    return answer;
  }

  kill(signal: NodeJS.Signals): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.kill(signal);
      setTimeout(() => this.child.kill('SIGKILL'), 8_000).unref();
    });
  }
}
