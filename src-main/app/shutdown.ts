/**
 * Ordered shutdown: hooks run one after another, last registered first (so a layer stops before the layers
 * it depends on), each bounded by its own timeout, and a failing hook does not stop the others. The overlay
 * registers its Leave here in a later issue.
 */
import type { Logger } from '../common/logger';

export interface ShutdownHookOptions {
  /** How long the hook may take before shutdown moves on without it. */
  timeoutMs?: number;
}

export interface ShutdownOutcome {
  name: string;
  status: 'done' | 'failed' | 'timed-out';
  ms: number;
  error?: string;
}

interface Hook {
  name: string;
  run: (reason: string) => Promise<void> | void;
  timeoutMs: number;
}

export class ShutdownHookTimeoutError extends Error {
  constructor(name: string, ms: number) {
    super(`shutdown hook "${name}" did not finish within ${ms} ms`);
    this.name = 'ShutdownHookTimeoutError';
  }
}

export class ShutdownHooks {
  private readonly hooks: Hook[] = [];
  private running: Promise<ShutdownOutcome[]> | undefined;

  constructor(
    private readonly log: Logger,
    private readonly defaultTimeoutMs = 5_000,
  ) {}

  get started(): boolean {
    return this.running !== undefined;
  }

  add(name: string, run: Hook['run'], options: ShutdownHookOptions = {}): void {
    if (this.running) throw new Error(`cannot add shutdown hook "${name}": shutdown already started`);
    this.hooks.push({ name, run, timeoutMs: options.timeoutMs ?? this.defaultTimeoutMs });
  }

  /** Idempotent: a second call returns the first call's outcome. */
  run(reason: string): Promise<ShutdownOutcome[]> {
    this.running ??= this.runAll(reason);
    return this.running;
  }

  private async runAll(reason: string): Promise<ShutdownOutcome[]> {
    this.log.info('shutdown started', { reason, hooks: this.hooks.length });
    const outcomes: ShutdownOutcome[] = [];
    for (const hook of [...this.hooks].reverse()) {
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          Promise.resolve().then(() => hook.run(reason)),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new ShutdownHookTimeoutError(hook.name, hook.timeoutMs)), hook.timeoutMs);
          }),
        ]);
        outcomes.push({ name: hook.name, status: 'done', ms: Date.now() - started });
      } catch (error) {
        const timedOut = error instanceof ShutdownHookTimeoutError;
        const outcome: ShutdownOutcome = {
          name: hook.name,
          status: timedOut ? 'timed-out' : 'failed',
          ms: Date.now() - started,
          error: error instanceof Error ? error.message : String(error),
        };
        outcomes.push(outcome);
        this.log.warn('shutdown hook did not complete', { ...outcome });
      } finally {
        clearTimeout(timer);
      }
    }
    this.log.info('shutdown finished', { reason });
    return outcomes;
  }
}
