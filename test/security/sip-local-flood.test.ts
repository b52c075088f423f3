/**
 * Floods the local SIP interface on 127.0.0.1: 5,000 REGISTER-shaped and garbage datagrams from many source
 * ports, then TCP connections beyond the cap. The flow table stays at its cap, the heap grows by a bounded
 * amount, and the interface still answers afterwards.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { constructOutgoingResponse } from 'sip.js/lib/core/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IncomingRequestMessage } from '../../src-main/sip/message/parse';
import { LocalSipInterface } from '../../src-main/sip/local/local-sip-interface';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const MAX_UDP_FLOWS = 64;
const MAX_TCP = 16;
const SOURCES = 200;
const DATAGRAMS = 5_000;
/** Heap growth allowed across the flood (after GC when exposed): the table is capped, nothing else grows. */
const HEAP_BOUND_BYTES = 16 * 1024 * 1024;

const register = (i: number) =>
  `REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${5000 + i};rport;branch=z9hG4bK-f${i}\r\n` +
  `Max-Forwards: 70\r\nFrom: <sip:u${i}@example.com>;tag=t${i}\r\nTo: <sip:u${i}@example.com>\r\n` +
  `Call-ID: flood-${i}\r\nCSeq: ${i + 1} REGISTER\r\nContact: <sip:u${i}@127.0.0.1:${5000 + i}>\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n`;
const OPTIONS =
  'OPTIONS sip:probe@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK-probe\r\nMax-Forwards: 70\r\n' +
  'From: <sip:p@example.com>;tag=p\r\nTo: <sip:probe@example.com>\r\nCall-ID: probe\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n';

let sip: LocalSipInterface;
let answered = 0;

beforeAll(async () => {
  sip = await LocalSipInterface.start({ port: 0, maxUdpFlows: MAX_UDP_FLOWS, maxTcpConnections: MAX_TCP });
  sip.onMessage((message, transport) => {
    if (message instanceof IncomingRequestMessage) {
      answered++;
      void transport.send(constructOutgoingResponse(message, { statusCode: 200 }).message);
    }
  });
});
afterAll(() => sip.close());

// A real collection before each heap reading: without one the growth counts garbage not yet collected, and the
// bound failed now and then on noise (Vitest's workers do not run with --expose-gc).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function bindUdp(): Promise<UdpSocket> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.on('message', () => {});
    s.bind(0, '127.0.0.1', () => resolve(s));
  });
}

function optionsOverUdp(): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => finish(undefined), 3000);
    const finish = (v: string | undefined) => {
      clearTimeout(timer);
      s.close();
      resolve(v);
    };
    s.on('message', (d) => finish(d.toString()));
    s.bind(0, '127.0.0.1', () => s.send(OPTIONS, sip.port, '127.0.0.1'));
  });
}

describe('local SIP interface under flood', () => {
  it('keeps the UDP flow table at its cap and the heap bounded through 5,000 datagrams', async () => {
    const sockets = await Promise.all(Array.from({ length: SOURCES }, bindUdp));
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    let maxFlows = 0;
    for (let i = 0; i < DATAGRAMS; i++) {
      const s = sockets[i % SOURCES]!;
      const payload =
        i % 2 === 0 ? register(i) : Buffer.from(Array.from({ length: 200 + (i % 300) }, (_, j) => (i * 31 + j) & 0xff));
      await new Promise<void>((r) => s.send(payload, sip.port, '127.0.0.1', () => r()));
      if (i % 50 === 0) {
        await new Promise((r) => setImmediate(r));
        maxFlows = Math.max(maxFlows, sip.status().udpFlows);
      }
    }
    await new Promise((r) => setTimeout(r, 300));
    gc();
    const growth = process.memoryUsage().heapUsed - heapBefore;
    const status = sip.status();
    console.log(
      `flood: answered ${answered}, flows ${status.udpFlows} (max seen ${maxFlows}), heap +${(growth / 1024).toFixed(0)} KiB, drops ${JSON.stringify(status.drops)}`,
    );
    expect(maxFlows).toBeLessThanOrEqual(MAX_UDP_FLOWS);
    expect(status.udpFlows).toBeLessThanOrEqual(MAX_UDP_FLOWS);
    expect(status.drops['udp-flow-evicted']).toBeGreaterThan(0);
    expect(answered).toBeGreaterThan(DATAGRAMS / 4);
    expect(growth).toBeLessThan(HEAP_BOUND_BYTES);
    for (const s of sockets) s.close();
    expect(await optionsOverUdp()).toMatch(/^SIP\/2\.0 200 /);
  }, 60_000);

  it('refuses TCP connections beyond the cap and still serves the ones it kept', async () => {
    const open = (): Promise<Socket> =>
      new Promise((resolve) => {
        const s = connect({ host: '127.0.0.1', port: sip.port }, () => resolve(s));
        s.on('error', () => {});
      });
    const sockets: Socket[] = [];
    for (let i = 0; i < MAX_TCP * 3; i++) sockets.push(await open());
    await new Promise((r) => setTimeout(r, 300));
    const closed = sockets.filter((s) => s.destroyed || s.readyState !== 'open').length;
    expect(sip.status().tcpConnections).toBe(MAX_TCP);
    expect(closed).toBe(MAX_TCP * 2);
    expect(sip.status().drops['tcp-connection-cap']).toBe(MAX_TCP * 2);
    const kept = sockets.find((s) => !s.destroyed)!;
    const reply = await new Promise<string>((resolve) => {
      kept.once('data', (d) => resolve(d.toString()));
      kept.write(OPTIONS.replace('SIP/2.0/UDP', 'SIP/2.0/TCP'));
    });
    expect(reply).toMatch(/^SIP\/2\.0 200 /);
    for (const s of sockets) s.destroy();
    await new Promise((r) => setTimeout(r, 200));
    expect(sip.status().tcpConnections).toBe(0);
  });
});
