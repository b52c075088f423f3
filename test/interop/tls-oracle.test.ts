/**
 * The TLS link as Wireshark sees it: one signed message of every method sent over a real TLS link on
 * loopback with the NSS key log on, the capture decrypted by tshark, the client's decrypted stream
 * re-framed as plain TCP (text2pcap) and dissected: the framing and every message decode without error.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { TlsEndpoint } from '../../src-main/reload/link/tls/tls-endpoint';
import * as W from '../../src-main/reload/wire';
import { captureLinkTraffic } from './support/link-capture';
import { sampleMessages, type Sample } from './support/sample-messages';
import { captureTcp, TSHARK, tsharkAvailable } from './support/tshark';

const run = promisify(execFile);
let samples: Sample[];
let rows: { sequence: number; code: number; malformed: boolean }[];
let acks: number;

beforeAll(async () => {
  if (!(await tsharkAvailable())) throw new Error('tshark not found: install Debian tshark (.ci/run does)');
  const dir = await mkdtemp(join(tmpdir(), 'tls-oracle-'));
  const keyLog = join(dir, 'keys.log');
  samples = await sampleMessages();
  const { pcap, port } = await captureLinkTraffic((o) => TlsEndpoint.listen(o), captureTcp, samples, keyLog);

  const { stdout: streams } = await run(TSHARK, ['-r', pcap, '-Y', 'tls', '-T', 'fields', '-e', 'tcp.stream']);
  const stream = streams.split('\n').find((l) => l.trim() !== '') ?? '0';
  const { stdout } = await run(
    TSHARK,
    [
      '-r',
      pcap,
      '-o',
      `tls.keylog_file:${keyLog}`,
      '-d',
      `tcp.port==${port},tls`,
      '-q',
      '-z',
      `follow,tls,raw,${stream.trim()}`,
    ],
    {
      maxBuffer: 64 << 20,
    },
  );
  const lines = stdout.split('\n').filter((l) => /^\t?[0-9a-f]+$/.test(l));
  // TLS may put several frames in one record or split one across records: rejoin each direction into
  // one byte stream and cut it at frame boundaries, one frame per packet for the dissector.
  const streamOf = (fromServer: boolean) =>
    W.fromHex(
      lines
        .filter((l) => l.startsWith('\t') === fromServer)
        .map((l) => l.trim())
        .join(''),
    );
  const frames = (bytes: Uint8Array) => {
    const out: Uint8Array[] = [];
    for (let at = 0; at < bytes.length;) {
      const len = W.frameLength(bytes.subarray(at));
      if (!len) throw new Error(`no frame boundary at byte ${at}`);
      out.push(bytes.subarray(at, at + len));
      at += len;
    }
    return out;
  };
  acks = frames(streamOf(true)).filter((f) => f[0] === W.FRAME_ACK).length;
  const dump = frames(streamOf(false))
    .map((frame) => {
      const bytes = W.toHex(frame).match(/../g) ?? [];
      const out: string[] = [];
      for (let off = 0; off < bytes.length; off += 16)
        out.push(`${off.toString(16).padStart(6, '0')} ${bytes.slice(off, off + 16).join(' ')}`);
      return out.join('\n');
    })
    .join('\n');
  await writeFile(join(dir, 'plain.txt'), dump + '\n');
  await run('text2pcap', ['-q', '-T', '40000,6084', join(dir, 'plain.txt'), join(dir, 'plain.pcap')]);
  const { stdout: json } = await run(
    TSHARK,
    [
      '-r',
      join(dir, 'plain.pcap'),
      '-d',
      'tcp.port==6084,reload-framing',
      '-T',
      'json',
      '-e',
      'reload_framing.sequence',
      '-e',
      'reload.message.code',
      '-e',
      '_ws.malformed',
    ],
    { maxBuffer: 64 << 20 },
  );
  rows = (JSON.parse(json) as { _source: { layers: Record<string, string[]> } }[]).flatMap(({ _source: { layers } }) =>
    (layers['reload_framing.sequence'] ?? []).map((seq, i) => ({
      sequence: Number(seq),
      code: Number(layers['reload.message.code']?.[i] ?? -1),
      malformed: layers['_ws.malformed'] !== undefined,
    })),
  );
  expect((await readFile(keyLog, 'utf8')).length).toBeGreaterThan(0);
}, 90_000);

describe('TLS link through Wireshark', () => {
  it('decrypts with the key log and dissects every framed message without error', () => {
    expect(rows.map((r) => r.sequence)).toEqual(samples.map((_, i) => i));
    expect(rows.map((r) => r.code)).toEqual(samples.map((s) => W.MessageCode[s.method]));
    expect(rows.filter((r) => r.malformed)).toEqual([]);
  });

  it('shows an ack frame for every data frame', () => {
    expect(acks).toBe(samples.length);
  });
});
