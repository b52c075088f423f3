/**
 * `npm run start:web` refuses bad peer flags before it starts anything: exit status 2, the flag named, the
 * usage printed, and no data folder created.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = mkdtempSync(join(tmpdir(), 'web-flags-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('start:web peer flags', () => {
  it.each([
    [['--peer-host', 'example.org'], /--peer-host must be an IP address/],
    [['--lan-interface', '::1'], /--lan-interface must be an IPv4 address/],
    [['--sip-port', '70000'], /--sip-port must be a port number/],
    [['--sip-port', '5060x'], /--sip-port must be a port number/],
  ])('%j is refused naming the flag', (args, message) => {
    const dataDir = join(root, args.join('_').replace(/\W/g, '-'));
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src-main/host/web.ts', '--data-dir', dataDir, ...args], {
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/usage: npm run start:web/);
    expect(existsSync(dataDir)).toBe(false);
  });
});
