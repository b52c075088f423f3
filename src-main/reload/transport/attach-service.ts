/**
 * Attach without ICE (RFC 6940 §6.5.1, the No-ICE case for TLS-TCP-FH-NO-ICE): the requester offers its
 * TLS listening address as a passive candidate and waits; the answerer replies and connects to it, so the
 * requester is the TLS server as the RFC requires. Both sides check that the certificate on the new link
 * carries the Node-ID of the node that signed the Attach. Glare (both attaching to each other) is settled
 * by Node-ID: the larger answers Error_In_Progress, the smaller gives up its own attempt.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock';
import type { Link, LinkEndpoint } from '../link/link';
import {
  bytesEqual,
  ErrorCode,
  OverlayLinkType,
  toHex,
  type AttachReqAns,
  type Destination,
  type IceCandidate,
  type IpAddressPort,
} from '../wire';
import { ErrorAnswer, type IncomingRequest, type MessageTransport } from './message-transport';
import type { RequestRouter } from './request-router';

export interface AttachServiceOptions {
  transport: MessageTransport;
  router: RequestRouter;
  /** The TLS endpoint we listen on; its address is our passive candidate. */
  endpoint: LinkEndpoint & { address: { host: string; port: number } };
  nodeId: Uint8Array;
  clock: Clock;
  /** How long to wait for the answerer's connection after its answer. */
  connectTimeoutMs?: number;
}

export class AttachTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AttachTimeoutError';
  }
}

const utf8 = new TextEncoder();

function ipBytes(host: string): IpAddressPort['address'] {
  if (host.includes(':')) {
    const parts = host.split(':');
    const full = host === '::1' ? ['0', '0', '0', '0', '0', '0', '0', '1'] : parts;
    const out = new Uint8Array(16);
    full.forEach((g, i) => {
      const v = parseInt(g || '0', 16);
      out[i * 2] = v >> 8;
      out[i * 2 + 1] = v & 0xff;
    });
    return out;
  }
  return Uint8Array.from(host.split('.').map(Number));
}

function hostOf(a: IpAddressPort): string {
  if (a.family === 4) return Array.from(a.address).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2)
    groups.push((((a.address[i] as number) << 8) | (a.address[i + 1] as number)).toString(16));
  return groups.join(':').replace(/^0:0:0:0:0:0:0:1$/, '::1');
}

export class AttachService {
  /** Links that arrived before we knew whose they were, by Node-ID. */
  private readonly arrived = new Map<string, Link>();
  private readonly waiting = new Map<string, (link: Link) => void>();
  /** Our own Attach requests still without an answer, by the target Node-ID (for glare). */
  private readonly unanswered = new Set<string>();

  constructor(private readonly o: AttachServiceOptions) {
    o.endpoint.onLink((link) => this.incoming(link));
    o.router.on('attach_req', (request) => this.answer(request));
  }

  private candidate(): IceCandidate {
    const { host, port } = this.o.endpoint.address;
    return {
      addrPort: host.includes(':')
        ? { family: 6, address: ipBytes(host), port }
        : { family: 4, address: ipBytes(host), port },
      overlayLink: OverlayLinkType['TLS-TCP-FH-NO-ICE'],
      foundation: utf8.encode('1'),
      priority: 1,
      type: 'host',
      extensions: [],
    };
  }

  private offer(role: 'passive' | 'active', sendUpdate = false): AttachReqAns {
    return {
      ufrag: utf8.encode(randomBytes(6).toString('hex')),
      password: utf8.encode(randomBytes(16).toString('hex')),
      role: utf8.encode(role),
      candidates: role === 'passive' ? [this.candidate()] : [],
      sendUpdate,
    };
  }

  /** Attaches to a Node-ID (or the node responsible for a Resource-ID) and returns the new link. */
  async attach(destination: Destination, sendUpdate = false): Promise<Link> {
    if (destination.type === 'node') {
      const existing = this.o.transport.linkTo(destination.id);
      if (existing) return existing;
      this.unanswered.add(toHex(destination.id));
    }
    let answer;
    try {
      answer = await this.o.transport.request([destination], {
        method: 'attach_req',
        value: this.offer('passive', sendUpdate),
      });
    } finally {
      if (destination.type === 'node') this.unanswered.delete(toHex(destination.id));
    }
    if (answer.body.method !== 'attach_ans')
      throw new AttachTimeoutError(`expected an attach_ans, got ${answer.body.method}`);
    const peerId = answer.from.nodeIds[0] as Uint8Array;
    if (destination.type === 'node' && !answer.from.nodeIds.some((id) => bytesEqual(id, destination.id))) {
      throw new AttachTimeoutError('the Attach answer was signed by another node than the one attached to');
    }
    return this.awaitLink(peerId);
  }

  private awaitLink(nodeId: Uint8Array): Promise<Link> {
    const key = toHex(nodeId);
    const ready = this.arrived.get(key);
    if (ready && !ready.closed) {
      this.arrived.delete(key);
      return Promise.resolve(ready);
    }
    return new Promise((resolve, reject) => {
      const timer = this.o.clock.setTimeout(() => {
        this.waiting.delete(key);
        reject(new AttachTimeoutError(`no TLS connection from ${key} after its Attach answer`));
      }, this.o.connectTimeoutMs ?? 10_000);
      this.waiting.set(key, (link) => {
        timer.cancel();
        resolve(link);
      });
    });
  }

  private incoming(link: Link): void {
    this.o.transport.addLink(link);
    for (const id of link.peer.nodeIds) {
      const key = toHex(id);
      const waiter = this.waiting.get(key);
      if (waiter) {
        this.waiting.delete(key);
        waiter(link);
        return;
      }
      this.arrived.set(key, link);
      this.o.clock.setTimeout(() => this.arrived.get(key) === link && this.arrived.delete(key), 30_000);
    }
  }

  private answer(request: IncomingRequest): { method: 'attach_ans'; value: AttachReqAns } {
    const requester = request.from.nodeIds[0] as Uint8Array;
    const key = toHex(requester);
    if (this.unanswered.has(key)) {
      // Glare: the larger Node-ID keeps its own attempt.
      if (Buffer.compare(Buffer.from(this.o.nodeId), Buffer.from(requester)) > 0) {
        throw new ErrorAnswer(ErrorCode.In_Progress, 'an Attach to you is in progress');
      }
    }
    if (request.body.method !== 'attach_req') throw new ErrorAnswer(ErrorCode.Invalid_Message, 'not an Attach');
    const tls = request.body.value.candidates.find((c) => c.overlayLink === OverlayLinkType['TLS-TCP-FH-NO-ICE']);
    if (!tls)
      throw new ErrorAnswer(
        ErrorCode.Incompatible_with_Overlay,
        'no TLS-TCP-FH-NO-ICE candidate (ICE is not available on this node)',
      );
    // Answer first; then connect as TLS client to the requester (the requester is the TLS server).
    this.o.clock.setTimeout(() => {
      this.o.endpoint
        .connect({ host: hostOf(tls.addrPort), port: tls.addrPort.port }, requester)
        .then((link) => this.o.transport.addLink(link))
        .catch(() => undefined);
    }, 0);
    return { method: 'attach_ans', value: this.offer('active', false) };
  }
}
