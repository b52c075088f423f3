/**
 * A child process that reports JSON lines on stdout and takes JSON commands on stdin, with bounded waits for
 * its events (the helper processes of the multi-process tests speak this way).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export type ProcessEvent = Record<string, unknown> & { event: string };

export class JsonLinesProcess {
  readonly events: ProcessEvent[] = [];
  private readonly waiters = new Set<() => void>();
  readonly exited: Promise<void>;

  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as ProcessEvent);
      } catch {
        return; // not one of ours
      }
      for (const w of [...this.waiters]) w();
    });
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
  }

  /** Starts `node --import tsx <script> <arg>` inside a network namespace. */
  static inNamespace(namespace: string, script: string, arg: string): JsonLinesProcess {
    const child = spawn('ip', ['netns', 'exec', namespace, process.execPath, '--import', 'tsx', script, arg], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    return new JsonLinesProcess(child);
  }

  /** The first event from index `after` on that matches; rejects on an "error" event or after `ms`. */
  next(event: string, ms: number, match: (e: ProcessEvent) => boolean = () => true, after = 0): Promise<ProcessEvent> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.events.slice(after).find((e) => (e.event === event && match(e)) || e.event === 'error');
        if (!found) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        if (found.event === 'error' && event !== 'error')
          reject(new Error(`${String(found.during)}: ${String(found.message)}`));
        else resolve(found);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no ${event} within ${ms} ms; saw ${JSON.stringify(this.events.slice(after))}`));
      }, ms);
      this.waiters.add(check);
      check();
    });
  }

  /** Sends a command and waits for the event that answers it. */
  command(command: Record<string, unknown>, event: string, ms = 10_000): Promise<ProcessEvent> {
    const after = this.events.length;
    this.child.stdin!.write(`${JSON.stringify(command)}\n`);
    return this.next(event, ms, () => true, after);
  }

  /** Ends the process: the signal, then SIGKILL after `graceMs`; resolves when it has exited. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill(signal);
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
  }
}
