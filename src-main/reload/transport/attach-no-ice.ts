/**
 * Attach without ICE (RFC 6940 §6.5.1.11) over TLS-TCP-FH-NO-ICE: the requester offers its TLS listening
 * address as a passive candidate and waits; the answerer answers and then connects to it, so the requester
 * is the TLS server as §6.5.1 requires. The TLS handshake is the connectivity check; the certificate on the
 * new link must carry the Node-ID that signed the Attach. Any LinkEndpoint serves (the in-memory network of
 * simulations too): `dial` turns the candidate's host and port into what the endpoint connects to.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock';
import type { Link, LinkEndpoint } from '../link/link';
import { hostOf, toIpAddressPort } from '../link/ip-address';
import { ErrorCode, OverlayLinkType, toHex, type AttachReqAns, type IceCandidate } from '../wire';
import type { AttachAnswer, AttachOffer, AttachStrategy } from './attach-strategy';
import { AttachTimeoutError } from './errors';
import { ErrorAnswer } from './message-transport';

export interface NoIceAttachOptions {
  /** The endpoint we listen on. */
  endpoint: LinkEndpoint;
  /** Our passive candidate: where the endpoint listens (or the address to advertise for it). */
  address: { host: string; port: number };
  /** The endpoint's address for a candidate (default: `{ host, port }`, as TLS takes it). */
  dial?: (host: string, port: number) => unknown;
  clock: Clock;
  /** How long the requester waits for the answerer's connection after the answer (default 10 s). */
  connectTimeoutMs?: number;
}

const utf8 = new TextEncoder();
/** Incoming links nobody claimed yet stay claimable this long (the connection can beat the answer). */
const ARRIVAL_HOLD_MS = 30_000;

export class NoIceAttach implements AttachStrategy {
  readonly name = 'No-ICE TLS';
  private readonly arrived = new Map<string, Link>();
  private readonly waiting = new Map<string, (link: Link) => void>();
  private readonly unsolicited = new Set<(link: Link) => void>();

  constructor(private readonly o: NoIceAttachOptions) {
    o.endpoint.onLink((link) => this.incoming(link));
  }

  async offer(sendUpdate: boolean): Promise<AttachOffer> {
    const request = this.parameters('passive', [this.candidate()], sendUpdate);
    return {
      request,
      complete: (_answer, peer) => this.awaitLink(peer),
      cancel: () => undefined,
    };
  }

  async answer(request: AttachReqAns, requester: Uint8Array): Promise<AttachAnswer> {
    const tls = request.candidates.find((c) => c.overlayLink === OverlayLinkType['TLS-TCP-FH-NO-ICE']);
    if (!tls)
      throw new ErrorAnswer(
        ErrorCode.Incompatible_with_Overlay,
        'no TLS-TCP-FH-NO-ICE candidate: this overlay runs without ICE',
      );
    // Connect on the next turn, once the answer is on its way: the requester is the TLS server.
    const link = new Promise<Link>((resolve, reject) => {
      this.o.clock.setTimeout(() => {
        const host = hostOf(tls.addrPort);
        const port = tls.addrPort.port;
        this.o.endpoint
          .connect(this.o.dial ? this.o.dial(host, port) : { host, port }, requester)
          .then(resolve, reject);
      }, 0);
    });
    return { answer: this.parameters('active', [], false), link };
  }

  onUnsolicited(listener: (link: Link) => void): void {
    this.unsolicited.add(listener);
  }

  async close(): Promise<void> {
    this.arrived.clear();
  }

  private candidate(): IceCandidate {
    return passiveTlsCandidate(this.o.address.host, this.o.address.port);
  }

  private parameters(role: 'passive' | 'active', candidates: IceCandidate[], sendUpdate: boolean): AttachReqAns {
    return {
      // No ICE runs, but the fields are mandatory; random values keep them meaningless.
      ufrag: utf8.encode(randomBytes(6).toString('hex')),
      password: utf8.encode(randomBytes(16).toString('hex')),
      role: utf8.encode(role),
      candidates,
      sendUpdate,
    };
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
    for (const id of link.peer.nodeIds) {
      const key = toHex(id);
      const waiter = this.waiting.get(key);
      if (waiter) {
        this.waiting.delete(key);
        waiter(link);
        return;
      }
    }
    // Not (yet) claimed: usable at once, and claimable by an answer that is still on its way.
    for (const listener of [...this.unsolicited]) listener(link);
    for (const id of link.peer.nodeIds) {
      const key = toHex(id);
      this.arrived.set(key, link);
      this.o.clock.setTimeout(() => this.arrived.get(key) === link && this.arrived.delete(key), ARRIVAL_HOLD_MS);
    }
  }
}

/** The one No-ICE candidate (§6.5.1.11): a host candidate of TLS-TCP-FH-NO-ICE at the address we listen on. */
export function passiveTlsCandidate(host: string, port: number): IceCandidate {
  return {
    addrPort: toIpAddressPort(host, port),
    overlayLink: OverlayLinkType['TLS-TCP-FH-NO-ICE'],
    foundation: utf8.encode('1'),
    priority: 1,
    type: 'host',
    extensions: [],
  };
}
