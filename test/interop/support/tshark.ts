/**
 * Wireshark's RELOAD dissector as an independent oracle (../shared/design/wireshark-oracle.md): capture a
 * loopback TCP port with tshark, then dissect the capture with `-d tcp.port==P,reload-framing` and read
 * fields back as JSON.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const TSHARK = process.env.TSHARK_PATH ?? 'tshark';

export async function tsharkAvailable(): Promise<string | undefined> {
  try {
    const { stdout } = await run(TSHARK, ['--version']);
    return stdout.split('\n')[0];
  } catch {
    return undefined;
  }
}

/** Captures TCP traffic to `port` on lo while `traffic` runs; returns the pcap path. */
export function captureTcp(port: number, traffic: () => Promise<void>): Promise<string> {
  return capture('tcp', port, traffic);
}

/** Captures UDP traffic to `port` on lo while `traffic` runs; returns the pcap path. */
export function captureUdp(port: number, traffic: () => Promise<void>): Promise<string> {
  return capture('udp', port, traffic);
}

async function capture(protocol: 'tcp' | 'udp', port: number, traffic: () => Promise<void>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'reload-oracle-'));
  const file = join(dir, 'capture.pcap');
  const tshark = spawn(TSHARK, ['-i', 'lo', '-f', `${protocol} port ${port}`, '-w', file, '-P', '-l', '-q'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  tshark.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => tshark.once('exit', resolve));
  // tshark says "Capturing" before the capture is live; knock on the port until it prints a packet.
  let live = false;
  tshark.stdout.on('data', () => (live = true));
  const deadline = Date.now() + 20_000;
  while (!live) {
    if (Date.now() > deadline || tshark.exitCode !== null) {
      tshark.kill('SIGKILL');
      throw new Error(`tshark capture did not start: ${stderr.trim()}`);
    }
    if (protocol === 'tcp') {
      const probe = connect(port, '127.0.0.1');
      probe.on('error', () => undefined);
      await new Promise((resolve) => setTimeout(resolve, 100));
      probe.destroy();
    } else {
      // A one-byte datagram: not DTLS, so the endpoint ignores it.
      const probe = createSocket('udp4');
      await new Promise<void>((resolve) => probe.send(Uint8Array.of(0), port, '127.0.0.1', () => resolve()));
      probe.close();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  try {
    await traffic();
    await new Promise((resolve) => setTimeout(resolve, 300));
  } finally {
    tshark.kill('SIGINT');
    const timer = setTimeout(() => tshark.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
  return file;
}

export type Layers = Record<string, string[]>;

/** Every packet that carries RELOAD framing, with the requested fields (all occurrences, in order). */
export async function dissect(pcap: string, port: number, fields: readonly string[]): Promise<Layers[]> {
  const args = ['-r', pcap, '-d', `tcp.port==${port},reload-framing`, '-Y', 'reload-framing', '-T', 'json'];
  for (const f of fields) args.push('-e', f);
  const { stdout } = await run(TSHARK, args, { maxBuffer: 64 << 20 });
  const packets = JSON.parse(stdout) as { _source: { layers: Layers } }[];
  return packets.map((p) => p._source.layers);
}
