import { readFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SipLocalHostError, SipLocalOptionError } from '../../../../../src-main/sip/local/errors';
import { LocalSipInterface } from '../../../../../src-main/sip/local/local-sip-interface';
import { isLoopbackAddress } from '../../../../../src-main/sip/local/loopback';
import type { SipMessage } from '../../../../../src-main/sip/message/parse';
import type { SipTransport } from '../../../../../src-main/sip/transport/sip-transport';

const OPTIONS = (transport = 'UDP', rport = ';rport') =>
  `OPTIONS sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/${transport} phone.invalid:5070${rport};branch=z9hG4bK-1\r\n` +
  'Max-Forwards: 70\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n';

let sip: LocalSipInterface | undefined;
afterEach(async () => {
  await sip?.close();
  sip = undefined;
});

const tcpOpen = (port: number): Promise<Socket> =>
  new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.on('error', () => {});
  });
const closedSoon = (s: Socket) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r())));

describe('LocalSipInterface', () => {
  it('listens on loopback only and checks its options', async () => {
    await expect(LocalSipInterface.start({ host: '0.0.0.0', port: 0 })).rejects.toThrow(SipLocalHostError);
    await expect(LocalSipInterface.start({ host: '192.168.1.5', port: 0 })).rejects.toThrow(SipLocalHostError);
    await expect(LocalSipInterface.start({ host: 'localhost', port: 0 })).rejects.toThrow(SipLocalHostError);
    await expect(LocalSipInterface.start({ port: 70000 })).rejects.toThrow(SipLocalOptionError);
    await expect(LocalSipInterface.start({ port: 0, maxUdpFlows: 0 })).rejects.toThrow(SipLocalOptionError);
    expect(isLoopbackAddress('127.0.0.2')).toBe(true);
    expect(isLoopbackAddress('::1')).toBe(true);
    expect(isLoopbackAddress('10.0.0.1')).toBe(false);
    sip = await LocalSipInterface.start({ port: 0 });
    await expect(sip.flowTo('UDP', '8.8.8.8', 5060)).rejects.toThrow(SipLocalHostError);
    // It asks for 2 MiB of receive buffer; Linux grants twice what was asked, capped at net.core.rmem_max.
    const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
    expect(sip.status().udpReceiveBufferBytes).toBe(2 * Math.min(2 * 1024 * 1024, rmemMax));
  });

  it('presents a UDP source as one flow, stamps received/rport, and expires it when idle', async () => {
    sip = await LocalSipInterface.start({ port: 0, udpFlowIdleMs: 200 });
    const transports: SipTransport[] = [];
    const messages: SipMessage[] = [];
    sip.onTransport((t) => transports.push(t));
    sip.onMessage((m) => messages.push(m));
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    const port = s.address().port;
    s.send(OPTIONS(), sip.port, '127.0.0.1');
    s.send(OPTIONS(), sip.port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 100));
    expect(transports).toHaveLength(1);
    expect(transports[0]!.party).toEqual({ kind: 'local', address: '127.0.0.1', port });
    expect(messages).toHaveLength(2);
    expect(messages[0]!.getHeaders('via')[0]).toBe(
      `SIP/2.0/UDP phone.invalid:5070;branch=z9hG4bK-1;received=127.0.0.1;rport=${port}`,
    );
    const closed = new Promise<string>((r) => transports[0]!.onClose(r));
    expect(await closed).toBe('idle');
    expect(sip.status().udpFlows).toBe(0);
    // The proxy can reach the phone again: a new flow to the same address.
    const back = await sip.flowTo('UDP', '127.0.0.1', port);
    const got = new Promise<string>((r) => s.once('message', (d) => r(d.toString())));
    await back.send('SIP/2.0 200 OK\r\n\r\n');
    expect(await got).toBe('SIP/2.0 200 OK\r\n\r\n');
    s.close();
  });

  it('answers a TCP ping with a pong, frames requests, and closes on a framing error', async () => {
    sip = await LocalSipInterface.start({ port: 0 });
    const messages: SipMessage[] = [];
    sip.onMessage((m) => messages.push(m));
    const s = await tcpOpen(sip.port);
    const pong = new Promise<string>((r) => s.once('data', (d) => r(d.toString())));
    s.write('\r\n\r\n');
    expect(await pong).toBe('\r\n');
    s.write(OPTIONS('TCP', ''));
    await new Promise((r) => setTimeout(r, 100));
    expect(messages).toHaveLength(1);
    expect(messages[0]!.getHeaders('via')[0]).toBe(
      'SIP/2.0/TCP phone.invalid:5070;branch=z9hG4bK-1;received=127.0.0.1',
    );
    s.write('OPTIONS sip:b@x SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK2\r\n\r\n'); // no Content-Length
    await closedSoon(s);
    expect(sip.status().drops['tcp-framing']).toBe(1);
  });

  it('caps TCP connections per source and closes idle ones', async () => {
    sip = await LocalSipInterface.start({ port: 0, maxTcpConnectionsPerSource: 2, tcpIdleMs: 300 });
    const a = await tcpOpen(sip.port);
    const b = await tcpOpen(sip.port);
    const c = await tcpOpen(sip.port);
    await closedSoon(c);
    expect(sip.status().drops['tcp-per-source-cap']).toBe(1);
    expect(sip.status().tcpConnections).toBe(2);
    await Promise.all([closedSoon(a), closedSoon(b)]);
    expect(sip.status().tcpConnections).toBe(0);
  });

  it('makes no flow for garbage, so garbage from new sources cannot evict a phone', async () => {
    sip = await LocalSipInterface.start({ port: 0, maxUdpFlows: 2 });
    const transports: SipTransport[] = [];
    sip.onTransport((t) => transports.push(t));
    const phone = createSocket('udp4');
    await new Promise<void>((r) => phone.bind(0, '127.0.0.1', () => r()));
    phone.send(OPTIONS(), sip.port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 100));
    const junk = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const s = createSocket('udp4');
        await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
        s.send('garbage\r\n\r\n', sip!.port, '127.0.0.1');
        return s;
      }),
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(transports).toHaveLength(1);
    expect(transports[0]!.closed).toBe(false);
    expect(sip.status().udpFlows).toBe(1);
    expect(sip.status().drops['request-unanswerable']).toBe(10);
    for (const s of [phone, ...junk]) s.close();
  });

  it('drops an unparseable response and counts it', async () => {
    sip = await LocalSipInterface.start({ port: 0 });
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    s.send('SIP/2.0 999999 Nope\r\nVia: x\r\n\r\n', sip.port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 100));
    expect(sip.status().drops['response-unparseable']).toBe(1);
    s.close();
  });
});
