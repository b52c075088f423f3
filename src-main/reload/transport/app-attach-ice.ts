/**
 * AppAttach with ICE (RFC 6940 §6.5.2 over the §6.5.1.3–14 ICE profile): each AppAttach runs its own ICE
 * agent, exactly as an Attach does (attach-ice.ts), and then a DTLS association over the selected pair
 * (`handshakeOverIce`, shared with DTLS-UDP-SR links). What comes out is not a link: the application's
 * bytes go into DTLS application data records, one datagram per `send`, with no framing and no Simple
 * Reliability. The requester is the controlling agent and the DTLS server; both sides check that the peer's
 * certificate carries the Node-ID of the AppAttach exchange. The agent lives as long as the flow: werift
 * keeps its STUN consent checks running on the selected pair (RFC 7675), and their failure closes the flow
 * as 'dead'. Any other keepalive is the application's.
 */
import { type IceAgent, IceTimeoutError, OVERLAY_LINK_DTLS_UDP_SR } from '../link/ice/ice-agent';
import { handshakeOverIce, type IceDtlsAssociation } from '../link/ice/ice-dtls';
import { ALERT_CLOSE_NOTIFY, DtlsHandshakeTimeoutError, MAX_RECORD_PLAINTEXT } from '../link/dtls/dtls-session';
import { ErrorCode, type AppAttachReqAns } from '../wire';
import { AppAttachTimeoutError } from './app-attach-errors';
import {
  APP_ROLE_ANSWERER,
  APP_ROLE_REQUESTER,
  type AppAttachAnswer,
  type AppAttachOffer,
  type AppAttachStrategy,
  type AppFlowInfo,
} from './app-attach-strategy';
import { AppConnectionBase, type AppConnection } from './app-connection';
import { iceParameters, type IceAttachOptions } from './attach-ice';
import { IceAgents } from './ice-agents';
import { ErrorAnswer } from './message-transport';

/** The same settings as the overlay's IceDtlsAttach (credentials, policy, host addresses, STUN, timeouts). */
export type IceAppAttachOptions = Pick<
  IceAttachOptions,
  | 'privateKey'
  | 'certificates'
  | 'policy'
  | 'clock'
  | 'hostAddresses'
  | 'stunServer'
  | 'iceTimeoutMs'
  | 'handshakeTimeoutMs'
>;

const utf8 = new TextEncoder();

export class IceDtlsAppAttach implements AppAttachStrategy {
  readonly name = 'ICE DTLS';
  private readonly agents: IceAgents;
  private readonly connections = new Set<AppConnection>();
  private closing = false;

  constructor(private readonly o: IceAppAttachOptions) {
    this.agents = new IceAgents(o);
  }

  async offer(applicationId: number): Promise<AppAttachOffer> {
    const agent = await this.agents.create(true);
    return {
      request: { ...agent.localParameters(), application: applicationId, role: utf8.encode(APP_ROLE_REQUESTER) },
      complete: (answer, peer) => this.connect(agent, answer, { applicationId, role: 'requester', peerNodeId: peer }),
      cancel: () => void this.agents.release(agent),
    };
  }

  async answer(request: AppAttachReqAns, requester: Uint8Array): Promise<AppAttachAnswer> {
    if (!request.candidates.some((c) => c.overlayLink === OVERLAY_LINK_DTLS_UDP_SR))
      throw new ErrorAnswer(
        ErrorCode.Incompatible_with_Overlay,
        'candidates: no DTLS-UDP-SR candidate: this overlay runs ICE (RFC 6940 §6.5.2)',
      );
    const agent = await this.agents.create(false);
    const applicationId = request.application;
    // The checks start now; the requester starts its own when our answer reaches it.
    const connection = this.connect(agent, request, { applicationId, role: 'answerer', peerNodeId: requester });
    connection.catch(() => undefined);
    return {
      answer: { ...agent.localParameters(), application: applicationId, role: utf8.encode(APP_ROLE_ANSWERER) },
      connection,
    };
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.connections].map((c) => c.close()));
    await this.agents.closeAll();
  }

  private async connect(agent: IceAgent, remote: AppAttachReqAns, flow: AppFlowInfo): Promise<AppConnection> {
    let association: IceDtlsAssociation;
    try {
      await agent.connect(iceParameters(remote), this.o.iceTimeoutMs ?? 10_000);
      association = await handshakeOverIce({
        agent,
        attachRole: flow.role,
        privateKey: this.o.privateKey,
        certificates: this.o.certificates,
        policy: this.o.policy,
        expectedNodeId: flow.peerNodeId,
        clock: this.o.clock,
        handshakeTimeoutMs: this.o.handshakeTimeoutMs ?? 10_000,
      });
    } catch (error) {
      // Both steps close the agent when they fail.
      this.agents.forget(agent);
      if (error instanceof IceTimeoutError) throw new AppAttachTimeoutError('ice', error.message, error);
      if (error instanceof DtlsHandshakeTimeoutError)
        throw new AppAttachTimeoutError('handshake', error.message, error);
      throw error;
    }
    const connection = new DtlsAppConnection(association, agent, flow, () => {
      this.agents.forget(agent);
      this.connections.delete(connection);
    });
    this.connections.add(connection);
    if (this.closing) await connection.close();
    return connection;
  }
}

/** One AppAttach flow over DTLS on an ICE pair: each send is one DTLS record in one datagram. */
export class DtlsAppConnection extends AppConnectionBase {
  private released = false;

  constructor(
    private readonly association: IceDtlsAssociation,
    private readonly agent: IceAgent,
    flow: AppFlowInfo,
    private readonly onReleased: () => void = () => undefined,
  ) {
    super(flow.applicationId, 'datagram', flow.role, flow.peerNodeId, association.peer, MAX_RECORD_PLAINTEXT);
    const { session } = association;
    session.onData = (data) => this.deliver(data.slice());
    session.onPeerClose = ({ alert, fatal }) =>
      this.end('remote', fatal ? `fatal alert ${alert}` : 'close_notify', false);
    agent.onFailed((reason) => this.end('dead', reason, false));
    for (const data of association.early) this.deliver(data);
  }

  protected async transmit(bytes: Uint8Array): Promise<void> {
    await this.association.session.send(bytes);
  }

  protected async shutdown(): Promise<void> {
    await this.release(true);
  }

  private end(reason: 'remote' | 'dead', detail: string, tellPeer: boolean): void {
    if (this.markClosed(reason, detail)) void this.release(tellPeer);
  }

  private async release(tellPeer: boolean): Promise<void> {
    if (this.released) return;
    this.released = true;
    const { session, detach } = this.association;
    if (tellPeer) await session.sendAlert(1, ALERT_CLOSE_NOTIFY);
    session.dispose();
    detach();
    await this.agent.close();
    this.onReleased();
  }
}
