/**
 * The DTLS link as Wireshark sees it: every method sent over a real DTLS-UDP-SR-NO-ICE link on loopback
 * with the key log on; tshark decrypts the DTLS records with the CLIENT_RANDOM lines and its RELOAD
 * dissector decodes the framing (data and ack frames) and every message without error.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { DtlsEndpoint } from '../../src-main/reload/link/dtls/dtls-endpoint';
import * as W from '../../src-main/reload/wire';
import { captureLinkTraffic } from './support/link-capture';
import { sampleMessages, type Sample } from './support/sample-messages';
import { captureUdp, TSHARK, tsharkAvailable } from './support/tshark';

const run = promisify(execFile);
let samples: Sample[];
let data: { sequence: number; code: number }[];
let ackFrames: number;
let malformed: number;

beforeAll(async () => {
  if (!(await tsharkAvailable())) throw new Error('tshark not found: install Debian tshark (.ci/run does)');
  const dir = await mkdtemp(join(tmpdir(), 'dtls-oracle-'));
  const keyLog = join(dir, 'keys.log');
  samples = (await sampleMessages()).filter((s) => s.bytes.length <= 1200); // one datagram each
  const { pcap, port } = await captureLinkTraffic((o) => DtlsEndpoint.listen(o), captureUdp, samples, keyLog);
  const { stdout } = await run(
    TSHARK,
    [
      '-r',
      pcap,
      '-o',
      `tls.keylog_file:${keyLog}`,
      '-d',
      `udp.port==${port},dtls`,
      '-T',
      'json',
      '-e',
      'reload_framing.type',
      '-e',
      'reload_framing.sequence',
      '-e',
      'reload.message.code',
      '-e',
      '_ws.malformed',
    ],
    { maxBuffer: 64 << 20 },
  );
  const packets = (JSON.parse(stdout) as { _source: { layers: Record<string, string[]> } }[]).map(
    (p) => p._source.layers,
  );
  malformed = packets.filter((l) => l['_ws.malformed'] !== undefined).length;
  ackFrames = packets.flatMap((l) => l['reload_framing.type'] ?? []).filter((t) => Number(t) === W.FRAME_ACK).length;
  data = packets
    .filter((l) => l['reload.message.code'])
    .map((l) => ({ sequence: Number(l['reload_framing.sequence']?.[0]), code: Number(l['reload.message.code']?.[0]) }));
  expect((await readFile(keyLog, 'utf8')).startsWith('CLIENT_RANDOM ')).toBe(true);
}, 90_000);

describe('DTLS link through Wireshark', () => {
  it('decrypts with the key log and dissects every message without error', () => {
    expect(malformed).toBe(0);
    // Every message, in order; a retransmission (not expected on loopback) would repeat a code.
    expect(samples.length).toBeGreaterThan(20);
    expect(data.map((d) => d.code)).toEqual(samples.map((s) => W.MessageCode[s.method]));
  });

  it('shows ack frames for the data frames', () => {
    expect(ackFrames).toBeGreaterThanOrEqual(samples.length);
  });
});
