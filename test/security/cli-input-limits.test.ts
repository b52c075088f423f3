/**
 * Files and standard input the command-line tools read are bounded: `--config /dev/zero` (or a 1 GB file) is
 * refused after the limit with an error naming the flag, instead of being read whole into memory first.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { InputTooLargeError, readFileBounded, readStreamBounded } from '../../src-main/common/bounded-read';
import { openIdentityFile } from '../../src-main/app/identity/identity-file-on-disk';
import { CliUsageError, printableForTerminal } from '../../src-main/host/cli-args';
import { runPeerCli } from '../../src-main/host/peer-cli';
import { IdentityFileError } from '../../src-main/reload';

const dir = mkdtempSync(join(tmpdir(), 'cli-input-'));

async function failure(run: Promise<unknown>): Promise<Error> {
  return run.then(
    () => new Error('accepted'),
    (e: unknown) => e as Error,
  );
}

describe('bounded reads', () => {
  it('stops reading an endless file one chunk past the limit', async () => {
    const error = await failure(readFileBounded('/dev/zero', 100_000, '--config'));
    expect(error).toBeInstanceOf(InputTooLargeError);
    expect(error).toMatchObject({ field: '--config', maxBytes: 100_000 });
  });

  it('reads a file of exactly the limit, and refuses one byte more', async () => {
    const exact = join(dir, 'exact');
    writeFileSync(exact, 'é'.repeat(50)); // 100 bytes of UTF-8
    expect(await readFileBounded(exact, 100, 'f')).toBe('é'.repeat(50));
    expect(await failure(readFileBounded(exact, 99, 'f'))).toBeInstanceOf(InputTooLargeError);
  });

  it('stops reading an endless stream past the limit and destroys it', async () => {
    let pushed = 0;
    const endless = new Readable({
      read() {
        pushed++;
        this.push(Buffer.alloc(16 * 1024, 0x61));
      },
    });
    const error = await failure(readStreamBounded(endless, 4096, '--password-stdin'));
    expect(error).toBeInstanceOf(InputTooLargeError);
    expect(error.message).toContain('--password-stdin');
    expect(endless.destroyed).toBe(true);
    expect(pushed).toBeLessThan(10);
  });
});

describe('npm run peer reads no file without a bound', () => {
  it('--config /dev/zero is a usage error naming the flag', async () => {
    const error = await failure(runPeerCli(['--config', '/dev/zero', '--self-signed']));
    expect(error).toBeInstanceOf(CliUsageError);
    expect(error.message).toMatch(/--config \/dev\/zero: longer than \d+ bytes/);
  });

  it('--password-file /dev/zero is a usage error naming the flag', async () => {
    const error = await failure(
      runPeerCli(['--local', '--identity', join(dir, 'none.identity'), '--password-file', '/dev/zero']),
    );
    expect(error).toBeInstanceOf(CliUsageError);
    expect(error.message).toMatch(/--password-file \/dev\/zero: longer than 4096 bytes/);
  });

  it('an identity file that never ends is unreadable, not read into memory', async () => {
    const error = await failure(openIdentityFile('/dev/zero', 'a long enough password'));
    expect(error).toBeInstanceOf(IdentityFileError);
    expect(error).toMatchObject({ reason: 'unreadable' });
    expect(error.message).toContain('longer than');
  });
});

describe('npm run overlay -- list-users', () => {
  it('prints control, line-separator and bidi characters of stored names escaped', () => {
    expect(printableForTerminal('alice@ov.example')).toBe('alice@ov.example');
    expect(printableForTerminal('\u001b[2Jroot@ov.example')).toBe('\\u001b[2Jroot@ov.example');
    expect(printableForTerminal('eve\u202egro.elpmaxe@ov')).toBe('eve\\u202egro.elpmaxe@ov');
    expect(printableForTerminal('a\u0085b\u2028c\u0000')).toBe('a\\u0085b\\u2028c\\u0000');
  });
});
