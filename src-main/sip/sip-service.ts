/**
 * The SIP usage of one ReloadNode, composed (issue 11): the local SIP interface (standard phones on
 * 127.0.0.1, UDP and TCP) and SIP over AppAttach to other peers both feed one forking SipProxy; REGISTERs
 * from local UAs go to the LocalRegistrar (bindings here + SIP-REGISTRATION records in the overlay); the
 * proxy finds other peers' UAs through the AorResolver and reaches them through SipConnections.
 *
 * Flows: every local flow is wrapped so that its REGISTER requests reach the registrar and everything else
 * the proxy; every SipConnections transport (outbound and inbound) is attached to the proxy as it appears.
 * Framing of the flows to other peers is the AppAttach flow's own (TLS stream on No-ICE overlays, DTLS
 * datagrams with ICE): see /tmp/notes/sip-integration.md for why no framing is forced here.
 */
import type { Logger } from '../common/logger';
import { toHex, type Clock, type Destination, type ReloadNode, type TrustPolicy } from '../reload/index';
import { SipConnections, type SipConnectionsOptions, type SipConnectionsStatus } from './connections/sip-connections';
import { LocalSipInterface, type LocalSipInterfaceOptions, type LocalSipStatus } from './local/local-sip-interface';
import { LocalRegistrar, type LocalBindingStatus } from './local-registrar';
import { salvageErrorResponse } from './message/error-response';
import { SipMessageError } from './message/errors';
import { parseSipMessage, IncomingRequestMessage, type SipMessage } from './message/parse';
import type { ProxyTarget, ResolveResult, TargetResolver } from './proxy/proxy-interfaces';
import { SipProxy, type SipProxyOptions, type SipProxyStatus } from './proxy/sip-proxy';
import { OverlayRegistrations, type RegistrationStatus } from './registration/overlay-registrations';
import { requiresSips } from './registration/contact-prefs';
import { AorResolver, type Resolution } from './resolution/aor-resolver';
import { overlayRegistrationSource } from './resolution/registration-source';
import type { SipTransport } from './transport/sip-transport';

export interface SipServiceOptions {
  node: ReloadNode;
  /** The overlay's instance name: the SIP domain its AORs live in. */
  overlayName: string;
  /** The overlay's trust policy: judges the certificates of fetched registrations. */
  policy: TrustPolicy;
  clock: Clock;
  log: Logger;
  /** Wall-clock ms since 1970 (storage times); default Date.now. Simulations pass epoch + virtual time. */
  now?: () => number;
  /** Start the local SIP interface on 127.0.0.1 at this port (0: any free port); undefined: none. */
  localPort?: number;
  localHost?: string;
  local?: Omit<LocalSipInterfaceOptions, 'host' | 'port'>;
  connections?: Partial<Omit<SipConnectionsOptions, 'node' | 'clock'>>;
  proxy?: Partial<Omit<SipProxyOptions, 'nodeId' | 'resolver' | 'connector' | 'localBindings' | 'clock'>>;
}

/** The local interface's port is taken by another program. */
export class SipLocalPortInUseError extends Error {
  constructor(
    readonly host: string,
    readonly port: number,
    options?: ErrorOptions,
  ) {
    super(`the SIP port ${host}:${port} is in use by another program`, options);
    this.name = 'SipLocalPortInUseError';
  }
}

export class SipServiceStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SipServiceStateError';
  }
}

export interface SipFailure {
  at: number;
  reason: string;
}

export interface SipResolutionRecord {
  at: number;
  target: string;
  status: string;
  targets: { aor: string; destinations: string[] }[];
  reason: string;
}

export interface SipServiceStatus {
  user: string | undefined;
  local: (LocalSipStatus & { uri: string }) | undefined;
  bindings: LocalBindingStatus[];
  registrations: RegistrationStatus[];
  resolutions: SipResolutionRecord[];
  resolver: AorResolver['counters'];
  connections: SipConnectionsStatus;
  proxy: SipProxyStatus;
  failures: SipFailure[];
}

/** Recent failures and resolutions kept for status. */
const HISTORY = 32;

function destinationText(d: Destination): string {
  switch (d.type) {
    case 'node':
    case 'resource':
      return `${d.type}:${toHex(d.id)}`;
    case 'compressed':
      return `compressed:${d.id}`;
    case 'unknown':
      return `unknown:${d.code}`;
    default:
      return d.type;
  }
}

function destinationKey(list: readonly Destination[]): string {
  return list.map(destinationText).join('/');
}

/** A local flow as the proxy sees it: the same flow minus its REGISTER requests, which go to the registrar. */
class RegistrarFilteredFlow implements SipTransport {
  constructor(
    readonly inner: SipTransport,
    onRegister: (text: string, flow: SipTransport, parsed?: SipMessage) => void,
  ) {
    inner.onMessage((m, parsed) => {
      if (isRegister(m, parsed)) onRegister(m, this, parsed);
    });
  }
  get id(): string {
    return this.inner.id;
  }
  get protocol(): string {
    return this.inner.protocol;
  }
  get framing(): 'datagram' | 'stream' {
    return this.inner.framing;
  }
  get party(): SipTransport['party'] {
    return this.inner.party;
  }
  get closed(): boolean {
    return this.inner.closed;
  }
  send(message: string): Promise<void> {
    return this.inner.send(message);
  }
  onMessage(listener: (message: string, parsed?: SipMessage) => void): () => void {
    return this.inner.onMessage((m, parsed) => {
      if (!isRegister(m, parsed)) listener(m, parsed);
    });
  }
  onClose(listener: (reason: string) => void): () => void {
    return this.inner.onClose(listener);
  }
  close(reason?: string): void {
    this.inner.close(reason);
  }
}

function isRegister(text: string, parsed: SipMessage | undefined): boolean {
  if (parsed) return parsed instanceof IncomingRequestMessage && parsed.method === 'REGISTER';
  return /^\s*REGISTER\s/.test(text);
}

export class SipService {
  readonly registrations: OverlayRegistrations;
  readonly resolver: AorResolver;
  readonly connections: SipConnections;
  readonly registrar: LocalRegistrar;
  private proxyInstance: SipProxy | undefined;
  private local: LocalSipInterface | undefined;
  private readonly flows = new Map<string, RegistrarFilteredFlow>();
  private readonly failures: SipFailure[] = [];
  private readonly resolutions: SipResolutionRecord[] = [];
  private readonly now: () => number;
  private state: 'new' | 'running' | 'stopped' = 'new';

  constructor(private readonly o: SipServiceOptions) {
    this.now = o.now ?? Date.now;
    this.registrations = new OverlayRegistrations({
      node: o.node,
      overlayName: o.overlayName,
      clock: o.clock,
      log: o.log,
      now: this.now,
    });
    this.resolver = new AorResolver({
      source: overlayRegistrationSource({ node: o.node, policy: o.policy, now: this.now }),
      clock: o.clock,
      domains: [o.overlayName.toLowerCase()],
      ctx: o.node.ctx,
    });
    this.connections = new SipConnections({ node: o.node, clock: o.clock, ...o.connections });
    this.registrar = new LocalRegistrar({
      registrations: this.registrations,
      nodeId: o.node.nodeId,
      ctx: o.node.ctx,
      clock: o.clock,
      changed: (aor) => this.resolver.invalidate(aor),
      failed: (reason) => this.fail(reason),
    });
  }

  get proxy(): SipProxy {
    if (!this.proxyInstance) throw new SipServiceStateError('the SIP service is not started');
    return this.proxyInstance;
  }

  /** The local interface's URI, e.g. `sip:127.0.0.1:5060` (undefined without a local interface). */
  get localUri(): string | undefined {
    return this.local ? `sip:${this.local.host}:${this.local.port}` : undefined;
  }

  /**
   * Starts the local interface (when a port is given), the connection pool and the proxy. Rejects with
   * SipLocalPortInUseError when the port is taken; nothing stays running then.
   */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new SipServiceStateError(`cannot start a ${this.state} SIP service`);
    const host = this.o.localHost ?? '127.0.0.1';
    if (this.o.localPort !== undefined) {
      try {
        this.local = await LocalSipInterface.start({ ...this.o.local, host, port: this.o.localPort });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE')
          throw new SipLocalPortInUseError(host, this.o.localPort, { cause: error });
        throw error;
      }
    }
    const user = this.registrations.aor;
    this.proxyInstance = new SipProxy({
      ...this.o.proxy,
      nodeId: this.o.node.nodeId,
      clock: this.o.clock,
      resolver: this.targetResolver(),
      connector: {
        // RFC 7904 §5.3: SIPS (Application-ID 5061) where the Request-URI or the callee's contact_prefs ask for
        // it, SIP (5060) otherwise; the flow is (D)TLS either way.
        connect: (target: ProxyTarget) =>
          this.connections.connect(target.destinations, { sips: target.sips === true }).catch((error: Error) => {
            this.fail(`connect ${target.aor || target.key}: ${error.message}`);
            throw error;
          }),
      },
      localBindings: this.registrar,
      // Aliases would come from forwarding records pointing at our user; only the user itself for now.
      aliasesOf: () => [],
      ...(user !== undefined ? { ownUser: user } : {}),
      ...(this.local ? { localRouteUri: `sip:${this.local.host}:${this.local.port}` } : {}),
    });
    this.connections.onTransport((e) => this.proxy.attach(e.transport));
    this.connections.start();
    this.local?.onTransport((flow) => this.attachLocal(flow));
    this.state = 'running';
  }

  /**
   * A flow from a UA on this machine (the local interface's flows come here by themselves; tests and the
   * app's UA hand theirs in): REGISTERs go to the registrar, the rest to the proxy.
   */
  attachLocal(flow: SipTransport): SipTransport {
    if (this.state !== 'running') throw new SipServiceStateError('the SIP service is not running');
    const known = this.flows.get(flow.id);
    if (known?.inner === flow) return known;
    const filtered = new RegistrarFilteredFlow(flow, (text, f, parsed) => this.register(text, f, parsed));
    this.flows.set(flow.id, filtered);
    flow.onClose(() => this.localFlowClosed(filtered));
    this.proxy.attach(filtered);
    return filtered;
  }

  /** Removes our registrations from the overlay, closes every flow and stops every timer. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    const wasRunning = this.state === 'running';
    this.state = 'stopped';
    this.registrar.stop();
    await this.registrations.stop().catch((error: Error) => this.fail(`unregister on stop: ${error.message}`));
    if (!wasRunning) return;
    this.proxyInstance?.close();
    this.connections.stop();
    for (const flow of [...this.flows.values()]) flow.close('SIP service stopped');
    this.flows.clear();
    await this.local?.close();
  }

  status(): SipServiceStatus {
    return {
      user: this.registrations.aor,
      local: this.local ? { ...this.local.status(), uri: this.localUri ?? '' } : undefined,
      bindings: this.registrar.status(),
      registrations: this.registrations.status(),
      resolutions: [...this.resolutions],
      resolver: { ...this.resolver.counters },
      connections: this.connections.status(),
      proxy: this.proxyInstance?.status() ?? {
        requestsReceived: 0,
        responsesReceived: 0,
        requestsForwarded: 0,
        responsesForwarded: 0,
        retransmissions: 0,
        transactions: 0,
        attachedTransports: 0,
        failures: {},
      },
      failures: [...this.failures],
    };
  }

  private register(text: string, flow: SipTransport, parsed?: SipMessage): void {
    let request;
    try {
      request = parsed ?? parseSipMessage(text);
    } catch (error) {
      // Only flows handed in by attachLocal get here with a bad message (the interface's own answer those).
      const answer =
        error instanceof SipMessageError ? salvageErrorResponse(text, error.status, error.message) : undefined;
      if (answer !== undefined) flow.send(answer).catch(() => this.fail('register: reply not sent'));
      return;
    }
    if (!(request instanceof IncomingRequestMessage)) return;
    void this.registrar.handle(request, flow).catch((error: Error) => this.fail(`register: ${error.message}`));
  }

  private localFlowClosed(flow: RegistrarFilteredFlow): void {
    if (this.flows.get(flow.id) === flow) this.flows.delete(flow.id);
    if (this.state !== 'running' || !this.registrar.uses(flow)) return;
    const party = flow.party;
    // A UDP "flow" is only an address: the interface closes idle ones, but the phone is still there.
    if (flow.protocol === 'UDP' && this.local && party.kind === 'local') {
      this.local.flowTo('UDP', party.address, party.port).then(
        (next) => this.registrar.rebind(flow, this.attachLocal(next)),
        (error: Error) => {
          this.fail(`udp flow to ${party.address}:${party.port}: ${error.message}`);
          this.registrar.dropFlow(flow);
        },
      );
      return;
    }
    // A closed connection cannot reach the UA; it registers again over a new one (RFC 5626 style).
    this.registrar.dropFlow(flow);
  }

  private targetResolver(): TargetResolver {
    return {
      resolve: async (requestUri: string): Promise<ResolveResult> => {
        let resolution: Resolution;
        let gruu = false;
        try {
          gruu = this.resolver.parse(requestUri).kind === 'gruu';
          resolution = await this.resolver.resolve(requestUri);
        } catch (error) {
          const reason = `${requestUri}: ${(error as Error).message}`;
          this.record(requestUri, 'bad-target', [], reason);
          return { failure: 'not-found', reason };
        }
        this.record(requestUri, resolution.status, resolution.targets, resolution.reason);
        const sipsUri = /^\s*sips:/i.test(requestUri);
        switch (resolution.status) {
          case 'found':
            return {
              targets: resolution.targets.map((t) => {
                const sips = sipsUri || requiresSips(t.contactPrefs);
                return {
                  // SIP and SIPS flows to one device are two branches on two connections.
                  key: `${destinationKey(t.destinations)}${sips ? '/sips' : ''}`,
                  aor: t.aor,
                  destinations: t.destinations,
                  ...(gruu ? { gruu: requestUri } : {}),
                  ...(sips ? { sips } : {}),
                };
              }),
            };
          case 'not-found':
          case 'not-served':
            return { failure: 'not-found', reason: resolution.reason };
          case 'loop':
          case 'depth-exceeded':
          case 'too-many-forks':
            return { failure: 'loop', reason: resolution.reason };
          case 'fetch-failed':
            this.fail(`resolve ${requestUri}: ${resolution.reason}`);
            return { failure: 'unavailable', reason: resolution.reason };
        }
      },
    };
  }

  private record(target: string, status: string, targets: Resolution['targets'], reason: string): void {
    this.resolutions.push({
      at: this.now(),
      target,
      status,
      targets: targets.map((t) => ({ aor: t.aor, destinations: t.destinations.map(destinationText) })),
      reason,
    });
    if (this.resolutions.length > HISTORY) this.resolutions.shift();
  }

  private fail(reason: string): void {
    this.o.log.debug('sip failure', { reason });
    this.failures.push({ at: this.now(), reason });
    if (this.failures.length > HISTORY) this.failures.shift();
  }
}
