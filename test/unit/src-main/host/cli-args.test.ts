import { describe, expect, it } from 'vitest';
import { CliUsageError, parseCli, parsePort } from '../../../../src-main/host/cli-args';

describe('cli arguments', () => {
  it('parses known flags and refuses unknown ones with a usage error', () => {
    expect(parseCli(['--port', '80'], { port: { type: 'string' } })).toEqual({ port: '80' });
    expect(() => parseCli(['--prot', '80'], { port: { type: 'string' } })).toThrow(CliUsageError);
    expect(() => parseCli(['stray'], { port: { type: 'string' } })).toThrow(CliUsageError);
  });

  it('accepts ports 0-65535 only and names the flag', () => {
    expect(parsePort(undefined, '--port')).toBe(0);
    expect(parsePort('8080', '--port')).toBe(8080);
    for (const bad of ['-1', '65536', '80a', '', '1e3']) expect(() => parsePort(bad, '--port')).toThrow(/--port/);
  });
});
