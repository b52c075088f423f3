import { describe, expect, it } from 'vitest';
import { ShutdownHooks } from '../../../../src-main/app/shutdown';
import { memoryLogger } from '../../../support/fixtures';

describe('ShutdownHooks', () => {
  it('runs hooks last-registered first, continuing past failures and timeouts', async () => {
    const { log, lines } = memoryLogger();
    const hooks = new ShutdownHooks(log, 50);
    const ran: string[] = [];
    hooks.add('storage', () => void ran.push('storage'));
    hooks.add('hangs', () => new Promise<void>(() => ran.push('hangs')));
    hooks.add('throws', () => {
      ran.push('throws');
      throw new Error('boom');
    });
    hooks.add('overlay', async () => void ran.push('overlay'), { timeoutMs: 1000 });

    const outcomes = await hooks.run('test');
    expect(ran).toEqual(['overlay', 'throws', 'hangs', 'storage']);
    expect(outcomes.map((o) => [o.name, o.status])).toEqual([
      ['overlay', 'done'],
      ['throws', 'failed'],
      ['hangs', 'timed-out'],
      ['storage', 'done'],
    ]);
    expect(outcomes[1]?.error).toBe('boom');
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(2);
  });

  it('is idempotent and refuses hooks added after it started', async () => {
    const hooks = new ShutdownHooks(memoryLogger().log);
    let count = 0;
    hooks.add('once', () => void count++);
    const a = hooks.run('a');
    expect(hooks.run('b')).toBe(a);
    await a;
    expect(count).toBe(1);
    expect(() => hooks.add('late', () => undefined)).toThrow(/already started/);
  });
});
