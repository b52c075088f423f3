/**
 * Issue 10, item 10: the peer's `--control` interface read whole lines without a bound (a 700 MB line
 * crashed the peer, without a Leave). A line longer than the limit is answered with an error naming it, its
 * bytes are dropped as they arrive up to the next newline, and the peer keeps serving.
 */
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OverlayDir } from '../../src-main/host/overlay/overlay-dir';
import { ControlLineReader, ControlLineTooLongError } from '../../src-main/host/peer/peer-control';
import { tempDir } from '../support/fixtures';
import { PeerProcess } from '../support/peer-process';

const MiB = 1 << 20;
/**
 * Node allocates a fresh buffer for every pipe read and collects them only after some tens of MiB, whatever
 * reads them: a line of a few MiB could not tell holding it from dropping it. The old reader grew the peak
 * RSS by 115 MiB for a 32 MiB line.
 */
const LINE = 256 * MiB;

/** Peak resident set size of a process (Linux), in bytes. */
function peakRss(pid: number): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (!kb) throw new Error(`no VmHWM for ${pid}`);
  return Number(kb) * 1024;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createSocket('udp4').bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

describe('the peer control interface bounds its lines', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let peer: PeerProcess;

  beforeAll(async () => {
    dir = await tempDir('control-line-');
    const port = await freePort();
    const overlay = await OverlayDir.init(join(dir.path, 'overlay'), {
      overlay: 'control.example.org',
      selfSigned: true,
      bootstrapNodes: [{ address: '127.0.0.1', port }],
    });
    peer = new PeerProcess([
      '--config',
      overlay.path('config'),
      '--self-signed',
      '--first-node',
      '--listen',
      `127.0.0.1:${port}`,
      '--status-interval',
      '0',
    ]);
    await peer.event('ready');
  }, 60_000);

  afterAll(async () => {
    await peer?.kill('SIGKILL');
    await dir?.remove();
  });

  it(`answers a ${LINE / MiB} MiB line with an error naming the limit, without holding it, and keeps serving`, async () => {
    await peer.command({ cmd: 'status' });
    const pid = peer.child.pid as number;
    const before = peakRss(pid);
    const from = peer.lines.length;
    // One well-formed command (a long unknown field), written as fast as the pipe takes it.
    const chunk = Buffer.alloc(64 * 1024, 'a');
    const stdin = peer.child.stdin!;
    stdin.write('{"cmd":"status","pad":"');
    for (let sent = 0; sent < LINE; sent += chunk.length)
      if (!stdin.write(chunk)) await new Promise((resolve) => stdin.once('drain', resolve));
    stdin.write('","tag":"long"}\n');
    const answer = await peer.wait(() => true, 30_000, 'an answer to the long line', from);
    const growth = peakRss(pid) - before;
    console.log(`peak RSS grew ${(growth / MiB).toFixed(1)} MiB while reading a ${LINE / MiB} MiB line`);
    expect({ ok: answer.ok, error: answer.error }).toEqual({
      ok: false,
      error: expect.stringMatching(/^ControlLineTooLongError: .*65536 bytes/),
    });
    expect(growth).toBeLessThan(LINE / 2);
    // The next command is read from the start of its own line and answered.
    const { status } = (await peer.command({ cmd: 'status' })) as unknown as { status: { state: string } };
    expect(status.state).toBe('ready');
    expect(peer.lines.slice(from).filter((l) => l.ok === false)).toHaveLength(1);
  }, 60_000);
});

describe('ControlLineReader', () => {
  function reader(maxBytes = 16) {
    const lines: string[] = [];
    const errors: ControlLineTooLongError[] = [];
    const r = new ControlLineReader({ line: (l) => lines.push(l), tooLong: (e) => errors.push(e), maxBytes });
    return { r, lines, errors, push: (text: string | Buffer) => r.push(Buffer.from(text)) };
  }

  it('splits LF and CR LF lines across chunks, decoding UTF-8 split between chunks', () => {
    const { r, lines, errors, push } = reader();
    const euro = Buffer.from('€'); // three bytes
    push('{"a":1}\r\n{"b"');
    push(':2}\n');
    push(Buffer.concat([Buffer.from('x'), euro.subarray(0, 1)]));
    push(Buffer.concat([euro.subarray(1), Buffer.from('y\nlast')]));
    r.end();
    expect(lines).toEqual(['{"a":1}', '{"b":2}', 'x€y', 'last']);
    expect(errors).toEqual([]);
  });

  it('takes a line of exactly the limit; a longer one is reported once, never held, and the next line is whole', () => {
    const { r, lines, errors, push } = reader(16);
    push(`${'a'.repeat(16)}\n`);
    expect(lines).toEqual(['a'.repeat(16)]);
    push('b'.repeat(10));
    const held: number[] = [];
    for (let i = 0; i < 1000; i++) {
      push('c'.repeat(100));
      held.push(r.bufferedBytes);
    }
    expect(Math.max(...held)).toBeLessThanOrEqual(16);
    push('ccc\nnext\n');
    expect(lines).toEqual(['a'.repeat(16), 'next']);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ControlLineTooLongError);
    expect(errors[0]!.message).toMatch(/at most 16 bytes/);
    // The limit counts bytes, not characters: six euro signs are 18 bytes.
    push(`${'€'.repeat(6)}\n`);
    expect(errors).toHaveLength(2);
    expect(lines).toHaveLength(2);
  });
});
