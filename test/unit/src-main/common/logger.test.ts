import { describe, expect, it } from 'vitest';
import { createLogger, parseLogLevel } from '../../../../src-main/common/logger';

describe('logger', () => {
  it('writes one JSON object per line with bound fields, above the minimum level', () => {
    const out: string[] = [];
    const log = createLogger({ level: 'info', write: (l) => out.push(l), now: () => new Date(0) }).child({ c: 'x' });
    log.debug('hidden');
    log.warn('shown', { error: new Error('bad') });
    expect(out).toHaveLength(1);
    expect(JSON.parse(out[0] as string)).toMatchObject({
      time: '1970-01-01T00:00:00.000Z',
      level: 'warn',
      msg: 'shown',
      c: 'x',
      error: { name: 'Error', message: 'bad' },
    });
  });

  it('parses log levels and names the accepted ones on error', () => {
    expect(parseLogLevel(undefined)).toBe('info');
    expect(parseLogLevel('debug')).toBe('debug');
    expect(() => parseLogLevel('loud')).toThrow(/debug, info, warn, error.*loud/);
  });
});
