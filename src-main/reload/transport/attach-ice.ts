/**
 * Attach with ICE (RFC 6940 §6.5.1.3–§6.5.1.14): the request is the offer and the answer the answer, each
 * carrying one agent's ufrag, password and DTLS-UDP-SR candidates. The requester is the controlling agent
 * and, once ICE has selected a pair, the DTLS server; the answerer is controlled and the DTLS client. Both
 * check the peer certificate against the Node-ID in the Attach exchange. An agent lives as long as its
 * link: werift keeps answering and sending STUN keepalives (RFC 7675 consent) on the selected pair.
 */
import type { KeyObject } from 'node:crypto';
import type { Clock } from '../clock';
import type { TrustPolicy } from '../identity';
import type { Link } from '../link/link';
import {
  type IceAgent,
  OVERLAY_LINK_DTLS_UDP_SR,
  type IceKeepaliveStats,
  type IceParameters,
} from '../link/ice/ice-agent';
import { connectOverIce } from '../link/ice/ice-dtls';
import { ErrorCode, type AttachReqAns } from '../wire';
import type { AttachAnswer, AttachOffer, AttachStrategy } from './attach-strategy';
import { IceAgents } from './ice-agents';
import { ErrorAnswer } from './message-transport';

export interface IceAttachOptions {
  privateKey: KeyObject;
  /** Our certificate, then any chain. */
  certificates: Uint8Array[];
  policy: TrustPolicy;
  clock: Clock;
  /** Addresses to offer besides the interfaces' own (loopback is not gathered by werift on its own). */
  hostAddresses?: string[];
  /** A STUN server (any connected RELOAD peer answers STUN) for a server-reflexive candidate. */
  stunServer?: { host: string; port: number };
  /** The configuration's max-message-size, for the link. */
  maxMessageSize?: number;
  /** ICE checks must succeed within this (default 10 s). */
  iceTimeoutMs?: number;
  /** The DTLS handshake must finish within this (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Where the phases of each Attach went, for the benchmark and the logs. */
  onTiming?: (timing: AttachTiming) => void;
}

export interface AttachTiming {
  role: 'requester' | 'answerer';
  gatherMs: number;
  iceMs: number;
  dtlsMs: number;
}

const utf8 = new TextEncoder();

/** The ICE parameters of an Attach or AppAttach body. */
export function iceParameters(p: Pick<AttachReqAns, 'ufrag' | 'password' | 'candidates'>): IceParameters {
  return { ufrag: p.ufrag, password: p.password, candidates: p.candidates };
}

export class IceDtlsAttach implements AttachStrategy {
  readonly name = 'ICE';
  private readonly agents: IceAgents;
  private readonly agentOf = new WeakMap<Link, IceAgent>();

  constructor(private readonly o: IceAttachOptions) {
    this.agents = new IceAgents(o);
  }

  async offer(sendUpdate: boolean): Promise<AttachOffer> {
    const started = this.o.clock.now();
    const agent = await this.agents.create(true);
    const gatherMs = this.o.clock.now() - started;
    const local = agent.localParameters();
    return {
      request: { ...local, role: utf8.encode('passive'), sendUpdate },
      complete: (answer, peer) => this.link(agent, 'requester', answer, peer, gatherMs),
      cancel: () => void this.agents.release(agent),
    };
  }

  async answer(request: AttachReqAns, requester: Uint8Array): Promise<AttachAnswer> {
    if (!request.candidates.some((c) => c.overlayLink === OVERLAY_LINK_DTLS_UDP_SR))
      throw new ErrorAnswer(
        ErrorCode.Incompatible_with_Overlay,
        'no DTLS-UDP-SR candidate: this overlay runs ICE (RFC 6940 §6.5.1.3)',
      );
    const started = this.o.clock.now();
    const agent = await this.agents.create(false);
    const gatherMs = this.o.clock.now() - started;
    const local = agent.localParameters();
    // The checks start now; the requester starts its own when our answer reaches it.
    const link = this.link(agent, 'answerer', request, requester, gatherMs);
    link.catch(() => undefined);
    return { answer: { ...local, role: utf8.encode('active'), sendUpdate: false }, link };
  }

  /** The STUN keepalive counters under an ICE link (undefined for other links). */
  keepalive(link: Link): IceKeepaliveStats | undefined {
    return this.agentOf.get(link)?.keepalive;
  }

  onUnsolicited(): void {
    // Every ICE link comes from an Attach exchange; nothing arrives unannounced.
  }

  async close(): Promise<void> {
    await this.agents.closeAll();
  }

  private async link(
    agent: IceAgent,
    role: 'requester' | 'answerer',
    remote: AttachReqAns,
    peer: Uint8Array,
    gatherMs: number,
  ): Promise<Link> {
    try {
      const iceStarted = this.o.clock.now();
      await agent.connect(iceParameters(remote), this.o.iceTimeoutMs ?? 10_000);
      const dtlsStarted = this.o.clock.now();
      const link = await connectOverIce({
        agent,
        attachRole: role,
        privateKey: this.o.privateKey,
        certificates: this.o.certificates,
        policy: this.o.policy,
        expectedNodeId: peer,
        clock: this.o.clock,
        ...(this.o.maxMessageSize ? { maxMessageSize: this.o.maxMessageSize } : {}),
        handshakeTimeoutMs: this.o.handshakeTimeoutMs ?? 10_000,
      });
      this.agentOf.set(link, agent);
      link.onClose(() => this.agents.forget(agent));
      this.o.onTiming?.({
        role,
        gatherMs,
        iceMs: dtlsStarted - iceStarted,
        dtlsMs: this.o.clock.now() - dtlsStarted,
      });
      return link;
    } catch (error) {
      await this.agents.release(agent);
      throw error;
    }
  }
}
