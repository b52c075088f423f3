/**
 * No-ICE AppAttach flows on the in-memory network of simulations (NoIceAppAttach over MemoryAppFlows): each
 * AppAttach listens at a fresh port of the node's host on the MemoryNetwork, and the answerer connects to
 * it from an unlisted endpoint carrying its identity. The flow is a memory link used raw: each `send` one
 * message, delivered whole after the network's latency (or lost, if the network drops messages), so its
 * framing is 'datagram' unless the simulation says otherwise.
 */
import type { Clock } from '../clock';
import type { ValidatedIdentity } from '../identity';
import type { Link } from '../link/link';
import { MemoryEndpoint, type MemoryNetwork } from '../link/memory/memory-network';
import type { AppFlowInfo } from './app-attach-strategy';
import { AppConnectionBase, type AppConnection, type AppFraming } from './app-connection';
import { IncomingFlows, type AppFlowAddress, type AppFlowListener, type AppFlows } from './app-attach-no-ice';

export interface MemoryAppFlowsOptions {
  network: MemoryNetwork;
  /** Our identity on the network (the certificate our links present). */
  identity: ValidatedIdentity;
  /** Our host on the network; listeners take ports from `firstPort` (default 10000) upwards. */
  host: string;
  firstPort?: number;
  /** What the flows promise the application (default 'datagram': the network may drop messages). */
  framing?: AppFraming;
}

export class MemoryAppFlows implements AppFlows {
  readonly name = 'memory';
  private nextPort: number;
  private readonly endpoints = new Set<MemoryEndpoint>();
  private readonly connections = new Set<AppConnection>();

  constructor(private readonly o: MemoryAppFlowsOptions) {
    this.nextPort = o.firstPort ?? 10_000;
  }

  private get clock(): Clock {
    return this.o.network.clock;
  }

  async listen(): Promise<AppFlowListener> {
    let port = this.nextPort;
    while (this.o.network.lookup(`${this.o.host}:${port}`)) port++;
    this.nextPort = port + 1;
    const endpoint = this.o.network.endpoint(`${this.o.host}:${port}`, this.o.identity);
    this.endpoints.add(endpoint);
    const incoming = new IncomingFlows<Link>(
      (link) => link.peer,
      (link) => void link.close(),
      this.clock,
    );
    endpoint.onLink((link) => incoming.arrived(link));
    let accepted = false;
    return {
      address: { host: this.o.host, port },
      accept: async (flow, timeoutMs) => {
        try {
          const connection = this.adopt(await incoming.wait(flow.peerNodeId, timeoutMs), flow, endpoint);
          accepted = true;
          return connection;
        } catch (error) {
          this.drop(endpoint);
          throw error;
        } finally {
          endpoint.stopListening();
        }
      },
      close: () => {
        incoming.close();
        endpoint.stopListening();
        if (!accepted) this.drop(endpoint);
      },
    };
  }

  async connect(address: AppFlowAddress, flow: AppFlowInfo): Promise<AppConnection> {
    // An endpoint nobody can reach: it only dials. The peer's identity is checked by connect.
    const dialer = new MemoryEndpoint(this.o.network, `${this.o.host}:dial`, this.o.identity);
    this.endpoints.add(dialer);
    try {
      return this.adopt(await dialer.connect(`${address.host}:${address.port}`, flow.peerNodeId), flow, dialer);
    } catch (error) {
      this.drop(dialer);
      throw error;
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.connections].map((c) => c.close()));
    await Promise.all([...this.endpoints].map((e) => e.close()));
    this.endpoints.clear();
  }

  /** The endpoint goes when its one flow does. */
  private adopt(link: Link, flow: AppFlowInfo, endpoint: MemoryEndpoint): AppConnection {
    const connection = new MemoryAppConnection(link, flow, this.o.framing ?? 'datagram');
    this.connections.add(connection);
    connection.onClose(() => {
      this.connections.delete(connection);
      this.drop(endpoint);
    });
    return connection;
  }

  private drop(endpoint: MemoryEndpoint): void {
    if (this.endpoints.delete(endpoint)) void endpoint.close();
  }
}

/** An AppAttach flow over a memory link: the application's bytes, one message per send. */
export class MemoryAppConnection extends AppConnectionBase {
  constructor(
    private readonly link: Link,
    flow: AppFlowInfo,
    framing: AppFraming,
  ) {
    super(
      flow.applicationId,
      framing,
      flow.role,
      flow.peerNodeId,
      link.peer,
      framing === 'datagram' ? link.maxMessageSize : undefined,
    );
    link.onMessage((bytes) => this.deliver(bytes));
    link.onClose((reason, detail) =>
      this.markClosed(reason === 'local' || reason === 'remote' ? 'remote' : 'dead', detail),
    );
  }

  protected async transmit(bytes: Uint8Array): Promise<void> {
    // A stream has no message boundaries: what does not fit one memory message goes in several.
    const size = this.link.maxMessageSize;
    if (this.framing === 'stream' && bytes.length > size) {
      for (let at = 0; at < bytes.length; at += size) await this.link.send(bytes.subarray(at, at + size));
      return;
    }
    await this.link.send(bytes);
  }

  protected async shutdown(): Promise<void> {
    await this.link.close();
  }
}
