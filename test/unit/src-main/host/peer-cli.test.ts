/** The headless peer refuses bad command lines with a CliUsageError naming the flag, before it starts anything. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CliUsageError } from '../../../../src-main/host/cli-args';
import { runPeerCli } from '../../../../src-main/host/peer-cli';
import { ConfigurationFormatError } from '../../../../src-main/reload/config';

const dir = mkdtempSync(join(tmpdir(), 'peer-cli-'));

async function refusal(argv: string[]): Promise<Error> {
  const error = await runPeerCli(argv).then(
    () => new Error('accepted'),
    (e: unknown) => e as Error,
  );
  expect(error).toBeInstanceOf(CliUsageError);
  return error;
}

describe('npm run peer: bad input', () => {
  it('needs --config, and exactly one of --identity and --self-signed', async () => {
    expect((await refusal(['--self-signed'])).message).toContain('--config');
    expect((await refusal(['--config', 'x.xml'])).message).toContain('--identity');
    expect((await refusal(['--config', 'x.xml', '--self-signed', '--identity', 'i'])).message).toContain('--identity');
  });

  it('refuses unknown flags and bad numbers or addresses, naming the flag', async () => {
    expect((await refusal(['--config', 'x.xml', '--self-signed', '--bogus'])).message).toContain('bogus');
    expect((await refusal(['--config', 'x.xml', '--self-signed', '--status-interval', '-1'])).message).toContain(
      '--status-interval',
    );
    expect((await refusal(['--config', 'x.xml', '--self-signed', '--refresh-interval', '0'])).message).toContain(
      '--refresh-interval',
    );
    expect((await refusal(['--config', 'x.xml', '--self-signed', '--listen', 'localhost:1'])).message).toContain(
      '--listen',
    );
  });

  it('--local takes no configuration, bootstrap or advertise flags, and checks its own', async () => {
    expect((await refusal(['--local', '--config', 'x.xml'])).message).toContain('--config');
    expect((await refusal(['--local', '--first-node'])).message).toContain('--first-node');
    expect((await refusal(['--local', '--advertise', '10.0.0.1'])).message).toContain('--advertise');
    expect((await refusal(['--local', '--self-signed', '--identity', 'i'])).message).toContain('--identity');
    expect((await refusal(['--local', '--interface', 'eth0'])).message).toContain('--interface');
    expect((await refusal(['--local', '--user', 'not a user'])).message).toContain('--user');
    expect((await refusal(['--local', '--join-window', '-1'])).message).toContain('--join-window');
    // and the local-only flags are refused without it
    expect((await refusal(['--config', 'x.xml', '--self-signed', '--user', 'a@b.c'])).message).toContain('--user');
    expect((await refusal(['--config', 'x.xml', '--self-signed', '--join-window', '1'])).message).toContain(
      '--join-window',
    );
  });

  it("names an unreadable configuration file; a configuration without <configuration> gets the parser's error", async () => {
    expect((await refusal(['--config', join(dir, 'missing.xml'), '--self-signed'])).message).toMatch(
      /--config .*missing\.xml: ENOENT/,
    );
    const empty = join(dir, 'empty.xml');
    writeFileSync(empty, '<?xml version="1.0"?><overlay xmlns="urn:ietf:params:xml:ns:p2p:config-base"/>');
    // The configuration parser's own typed error, naming the element.
    const error = await runPeerCli(['--config', empty, '--self-signed']).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(ConfigurationFormatError);
    expect((error as ConfigurationFormatError).message).toContain('overlay');
  });
});
