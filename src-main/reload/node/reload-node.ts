/**
 * One RELOAD node (the API everything above the protocol uses): message transport, connection table,
 * Attach, CHORD-RELOAD and (via `services`) storage, wired together over whatever links it is given —
 * real TLS/DTLS/ICE, or the in-memory network of a simulation. Start as the first node or join through
 * bootstrap nodes; leave gracefully; one status object; events for the app.
 */
import type { Logger } from '../../common/logger';
import type { Clock } from '../clock';
import { createSigner } from '../crypto';
import type { TrustPolicy } from '../identity';
import type { Link } from '../link/link';
import { ChordOverlay, ChordRoutingTable, Ring, type ChordState, type NeighbourEvent } from '../topology';
import {
  CertificateCompletion,
  answerPing,
  AttachService,
  bootstrap,
  BootstrapFailedError,
  LinkTable,
  MessageTransport,
  RequestRouter,
  type AttachStrategy,
  type BootstrapAddress,
  type TransportStatus,
} from '../transport';
import { decodeContext, toHex, type DecodeContext, type Destination } from '../wire';
import type { StorageKind } from '../storage';
import {
  ConfigUpdateService,
  type ConfigurationChange,
  type ConfigurationStale,
  type NodeConfiguration,
} from './config-update';
import { NodeStorage } from './node-storage';
import {
  AppAttachService,
  type AppAttachHandler,
  type AppAttachOptions,
  type AppAttachStrategy,
  type AppConnection,
} from '../transport';
import { PartitionCheck } from './partition-check';
import { certificatesOfNode, KIND_CERTIFICATE_BY_NODE, KIND_CERTIFICATE_BY_USER, publishCertificate } from './usages';
import type { KeyObject } from 'node:crypto';

export interface ReloadNodeOptions {
  nodeId: Uint8Array;
  privateKey: KeyObject;
  certificate: Uint8Array;
  policy: TrustPolicy;
  /** The overlay's hash (RFC 6940 §5.3.2, `overlayHash(name)`). */
  overlay: number;
  configSequence?: number;
  nodeIdLength?: number;
  initialTtl?: number;
  reliabilityTimerMs?: number;
  maxMessageSize?: number;
  clock: Clock;
  log: Logger;
  /** How Attach builds links (ICE or No-ICE, as the overlay is configured). */
  strategy: AttachStrategy;
  /** How AppAttach builds application flows (ICE/DTLS, No-ICE TLS, memory); without it appAttach fails. */
  appAttach?: AppAttachStrategy;
  /** Opens a direct link to a bootstrap node's address (TLS or DTLS-NO-ICE connect). */
  connect: (address: BootstrapAddress) => Promise<Link>;
  /** Links that arrive at our direct endpoint (joining peers that use us as their bootstrap node). */
  onIncomingLink?: (listener: (link: Link) => void) => void;
  bootstrapNodes?: BootstrapAddress[];
  maxLinks?: number;
  linkIdleTimeoutMs?: number;
  chord?: ChordSettings;
  random?: () => number;
  /** The overlay's instance name (SIP-REGISTRATION domain checks). */
  overlayName?: string;
  /** The configuration's Kinds: what this node stores for others. */
  kinds?: readonly StorageKind[];
  /** Wall-clock ms since 1970 for storage times and certificate validity (default Date.now). */
  now?: () => number;
  /** Successor replacement hold-down before new replicas (RFC 6940: 30 s). */
  replicaHoldDownMs?: number;
  /** How often our own stored values are stored again (default 5 min). */
  refreshIntervalMs?: number;
  /**
   * Store our certificate under CERTIFICATE_BY_USER and CERTIFICATE_BY_NODE once in the overlay (RFC 6940
   * §8: every node MUST). Default: when the configuration has both Kinds.
   */
  publishCertificate?: boolean;
  /**
   * Mean time between partition checks through a bootstrap node (§10.7.4.3; default the chord update
   * interval, 10 min; 0 turns them off).
   */
  partitionCheckIntervalMs?: number;
  /** True for an address that is our own endpoint (a bootstrap entry naming us is skipped by the check). */
  isOwnAddress?: (address: BootstrapAddress) => boolean;
  /**
   * The configuration document we hold (ConfigUpdate, RFC 6940 §6.5.4: sent to nodes with an older one,
   * newer ones verified and applied). Its sequence and Kinds take precedence over configSequence and kinds.
   */
  configuration?: NodeConfiguration;
}

/** The configuration's CHORD-RELOAD settings (chord-update-interval, chord-ping-interval, chord-reactive). */
export interface ChordSettings {
  updateIntervalMs?: number;
  successorCheckIntervalMs?: number;
  fingerIntervalMs?: number;
  reactive?: boolean;
  neighbours?: number;
  fingers?: number;
  /** RFC 7363 self-tuning (topology-plugin CHORD-SELF-TUNING, self-tuning:number-of-peers-to-probe). */
  selfTuning?: { peersToProbe: number };
}

export interface ReloadNodeStatus {
  nodeId: string;
  state: ChordState;
  predecessors: string[];
  successors: string[];
  fingers: Record<number, string>;
  transport: TransportStatus;
  chord: ChordOverlay['counters'];
  partitionChecks: PartitionCheck['counters'];
  storage: NodeStorage['counters'] & { resources: number; values: number; bytes: number };
}

export class ReloadNode {
  readonly transport: MessageTransport;
  readonly router: RequestRouter;
  readonly links: LinkTable;
  readonly attach: AttachService;
  readonly table: ChordRoutingTable;
  readonly chord: ChordOverlay;
  readonly ctx: DecodeContext;
  readonly storage: NodeStorage;
  /** AppAttach (RFC 6940 §6.5.2): application flows to other nodes; see appAttach and onAppAttach. */
  readonly apps: AppAttachService;
  readonly partitionCheck: PartitionCheck;
  /** The configuration document and the ConfigUpdate method (config-update.ts). */
  readonly configuration: ConfigUpdateService;
  private bootstrapAddresses: BootstrapAddress[] = [];
  private readonly linkListeners = new Set<(event: { link: Link; up: boolean }) => void>();
  private readonly accepted = new WeakSet<Link>();

  constructor(private readonly o: ReloadNodeOptions) {
    const nodeIdLength = o.nodeIdLength ?? 16;
    // Values decode with the data model of the Kind in force (a ConfigUpdate may change the Kinds).
    const dataModelOf = (kind: number) => this.storage.service.dataModelOf(kind);
    this.ctx = decodeContext({ maxMessageSize: o.maxMessageSize ?? 5000, nodeIdLength, dataModelOf });
    const signer = createSigner({ privateKey: o.privateKey, certificate: o.certificate });
    this.table = new ChordRoutingTable(new Ring(nodeIdLength * 8), o.nodeId, {
      ...(o.chord?.neighbours ? { neighbours: o.chord.neighbours } : {}),
      ...(o.chord?.fingers ? { fingers: o.chord.fingers } : {}),
    });
    // Signer certificates a message leaves out come from the link, memory, or CERTIFICATE_BY_NODE (§6.3.4).
    const certificates = new CertificateCompletion({
      now: () => o.clock.now(),
      fetchByNode: (id) => certificatesOfNode(this.storage, id),
    });
    this.transport = new MessageTransport({
      certificates,
      nodeId: o.nodeId,
      overlay: o.overlay,
      configSequence: o.configSequence ?? 1,
      initialTtl: o.initialTtl ?? 100,
      reliabilityTimerMs: o.reliabilityTimerMs ?? 3000,
      maxMessageSize: o.maxMessageSize ?? 5000,
      nodeIdLength,
      signer,
      policy: o.policy,
      // Before the join completes a peer is responsible for nothing (RFC 6940 §10.5: the joining peer owns
      // its range once the admitting peer's Update names it), so what reaches it for a Resource-ID moves on.
      topology: {
        isResponsible: (id) => this.chord.status === 'ready' && this.table.isResponsible(id),
        nextHop: (id) => this.table.nextHop(id),
      },
      clock: o.clock,
      log: o.log,
      dataModelOf,
      onConfigMismatch: (mismatch) => this.configuration.mismatch(mismatch),
    });
    this.router = new RequestRouter(this.transport);
    this.router.on('ping_req', () => answerPing());
    this.links = new LinkTable(this.transport, {
      maxLinks: o.maxLinks ?? 256,
      idleTimeoutMs: o.linkIdleTimeoutMs ?? 3_600_000,
      clock: o.clock,
    });
    this.attach = new AttachService({
      transport: this.transport,
      router: this.router,
      nodeId: o.nodeId,
      strategy: o.strategy,
      clock: o.clock,
      accept: (link) => this.accept(link),
      onAttached: (event) => {
        // send_update (§6.5.1.2): the answerer sends the requester an Update once the link is up.
        if (event.updateRequested) this.chord.sendUpdateTo(event.link.peer.nodeIds[0] as Uint8Array);
      },
    });
    this.chord = new ChordOverlay({
      table: this.table,
      transport: this.transport,
      router: this.router,
      attach: this.attach,
      clock: o.clock,
      log: o.log,
      ctx: this.ctx,
      ...(o.chord?.updateIntervalMs ? { updateIntervalMs: o.chord.updateIntervalMs } : {}),
      ...(o.chord?.fingerIntervalMs ? { fingerIntervalMs: o.chord.fingerIntervalMs } : {}),
      ...(o.chord?.successorCheckIntervalMs ? { successorCheckIntervalMs: o.chord.successorCheckIntervalMs } : {}),
      ...(o.chord?.reactive !== undefined ? { reactive: o.chord.reactive } : {}),
      ...(o.random ? { random: o.random } : {}),
      ...(o.chord?.selfTuning ? { selfTuning: o.chord.selfTuning } : {}),
      storedResources: () => this.storage.service.data.usage().resources,
    });
    this.storage = new NodeStorage({
      kinds: o.kinds ?? [],
      overlayName: o.overlayName ?? '',
      nodeIdLength,
      transport: this.transport,
      router: this.router,
      table: this.table,
      chord: this.chord,
      policy: o.policy,
      signer,
      certificate: o.certificate,
      clock: o.clock,
      now: o.now ?? Date.now,
      log: o.log,
      ...(o.replicaHoldDownMs !== undefined ? { replicaHoldDownMs: o.replicaHoldDownMs } : {}),
      ...(o.refreshIntervalMs !== undefined ? { refreshIntervalMs: o.refreshIntervalMs } : {}),
    });
    this.partitionCheck = new PartitionCheck({
      nodeId: o.nodeId,
      transport: this.transport,
      table: this.table,
      chord: this.chord,
      addresses: () => this.bootstrapAddresses.filter((a) => !o.isOwnAddress?.(a)),
      connect: o.connect,
      accept: (link) => this.accept(link),
      clock: o.clock,
      log: o.log,
      intervalMs: o.partitionCheckIntervalMs ?? o.chord?.updateIntervalMs ?? 600_000,
      random: o.random ?? Math.random,
    });
    this.apps = new AppAttachService({
      transport: this.transport,
      router: this.router,
      nodeId: o.nodeId,
      nodeIdLength,
      ...(o.appAttach ? { strategy: o.appAttach } : {}),
      clock: o.clock,
      log: o.log,
    });
    this.configuration = new ConfigUpdateService({
      ...(o.configuration ? { configuration: o.configuration } : {}),
      transport: this.transport,
      router: this.router,
      storage: this.storage.service,
      clock: o.clock,
      now: o.now ?? Date.now,
      log: o.log,
      maxMessageSize: o.maxMessageSize ?? 5000,
    });
    o.onIncomingLink?.((link) => this.accept(link));
  }

  get nodeId(): Uint8Array {
    return this.o.nodeId;
  }

  private publication: Promise<'published' | 'failed' | 'not-configured'> | undefined;

  /** Our certificate (DER), as the links and the signatures present it. */
  get certificate(): Uint8Array {
    return this.o.certificate;
  }

  get ready(): boolean {
    return this.chord.status === 'ready';
  }

  /**
   * Joins the overlay through the bootstrap nodes, or forms it (`firstNode`, or when the only bootstrap
   * address configured is our own and nobody answers).
   */
  async start(options: { firstNode?: boolean; bootstrapNodes?: BootstrapAddress[] } = {}): Promise<void> {
    this.bootstrapAddresses = [...(options.bootstrapNodes ?? this.o.bootstrapNodes ?? [])];
    await this.join(options);
    if (this.o.partitionCheckIntervalMs !== 0) this.partitionCheck.start();
    const kinds = new Set((this.o.kinds ?? []).map((k) => k.id));
    const publish =
      this.o.publishCertificate ?? (kinds.has(KIND_CERTIFICATE_BY_NODE) && kinds.has(KIND_CERTIFICATE_BY_USER));
    this.publication = publish
      ? publishCertificate(this.storage, this.o.certificate, this.o.overlayName ?? '', this.ctx.nodeIdLength).then(
          () => 'published' as const,
          (error: Error) => {
            this.o.log.warn('publishing our certificate failed', { error: error.message });
            return 'failed' as const;
          },
        )
      : Promise.resolve('not-configured' as const);
  }

  /**
   * How storing our certificate in the overlay (CERTIFICATE_BY_USER/NODE, after start) ended: 'published',
   * 'failed' (logged), or 'not-configured' (the configuration lacks those Kinds). Undefined before start.
   */
  get certificatePublication(): Promise<'published' | 'failed' | 'not-configured'> | undefined {
    return this.publication;
  }

  private async join(options: { firstNode?: boolean; bootstrapNodes?: BootstrapAddress[] }): Promise<void> {
    if (options.firstNode) {
      this.chord.startAlone();
      return;
    }
    const addresses = options.bootstrapNodes ?? this.o.bootstrapNodes ?? [];
    const result = await bootstrap({
      addresses,
      connect: this.o.connect,
      accept: (link) => this.accept(link),
      attach: this.attach,
      nodeId: this.o.nodeId,
      sendUpdate: true,
    }).catch((error: unknown) => {
      throw error instanceof BootstrapFailedError ? error : new BootstrapFailedError(String(error), []);
    });
    await this.chord.join(result.admittingLink);
  }

  /** Graceful shutdown: our range handed to the successor, Leave to the neighbours, then every link closed. */
  async stop(): Promise<void> {
    await this.storage.handOverBeforeLeaving();
    this.storage.stop();
    this.partitionCheck.stop();
    await this.chord.leave();
    this.chord.stop();
    await this.links.close();
    await this.o.strategy.close();
    await this.apps.close();
  }

  onNeighboursChanged(listener: (event: NeighbourEvent) => void): () => void {
    return this.chord.onNeighboursChanged(listener);
  }

  onStateChanged(listener: (state: ChordState) => void): () => void {
    return this.chord.onStateChanged(listener);
  }

  /**
   * A newer configuration was applied (ConfigUpdate, or `configuration.install`): persist `change.document`;
   * a non-empty `change.rejoin` (topology, Node-ID length) means leave and join again with a node built from
   * it, `change.restart` lists what applies only to the next node built (trust anchors, link settings).
   */
  onConfigurationChanged(listener: (change: ConfigurationChange) => void): () => void {
    return this.configuration.onChanged(listener);
  }

  /** Another node holds a newer configuration than ours: refetch it (then `configuration.install`). */
  onConfigurationStale(listener: (event: ConfigurationStale) => void): () => void {
    return this.configuration.onStale(listener);
  }

  /**
   * Opens a dedicated, mutually authenticated DTLS or TLS flow (an AppConnection) to the node with this
   * Node-ID, or to the node responsible for `{ resource }`, or along a destination list `{ route }` (its last
   * entry answers; e.g. [peer, client] reaches a client through its peer), for an Application-ID (5060 SIP,
   * 5061 SIPS). The flow's certificate carries the Node-ID that answered. Keepalive and closing are the caller's. Errors:
   * see AppAttachService.appAttach (AppAttachNotSupportedError when the peer has no handler for it).
   */
  appAttach(
    destination: Uint8Array | { resource: Uint8Array } | { route: readonly Destination[] },
    applicationId: number,
    options?: AppAttachOptions,
  ): Promise<AppConnection> {
    if (destination !== null && typeof destination === 'object' && 'route' in destination)
      return this.apps.appAttach(Array.isArray(destination.route) ? destination.route : [], applicationId, options);
    const target =
      destination instanceof Uint8Array
        ? ({ type: 'node', id: destination } as const)
        : ({ type: 'resource', id: (destination as { resource?: unknown } | null)?.resource } as {
            type: 'resource';
            id: Uint8Array;
          });
    return this.apps.appAttach(target, applicationId, options);
  }

  /**
   * Supports an Application-ID: every flow another node opens to us with AppAttach for it goes to
   * `handler`; AppAttaches for Application-IDs without a handler are answered Error_Not_Found. Returns the
   * function that withdraws the support.
   */
  onAppAttach(applicationId: number, handler: AppAttachHandler): () => void {
    return this.apps.onAppAttach(applicationId, handler);
  }

  onLink(listener: (event: { link: Link; up: boolean }) => void): () => void {
    this.linkListeners.add(listener);
    return () => this.linkListeners.delete(listener);
  }

  status(): ReloadNodeStatus {
    const { predecessors, successors } = this.table.neighbours;
    return {
      nodeId: toHex(this.o.nodeId),
      state: this.chord.status,
      predecessors: predecessors.map(toHex),
      successors: successors.map(toHex),
      fingers: Object.fromEntries([...this.table.fingerTable].map(([i, id]) => [i, toHex(id)])),
      transport: this.links.transportStatus(),
      chord: { ...this.chord.counters },
      partitionChecks: { ...this.partitionCheck.counters },
      storage: {
        ...this.storage.counters,
        resources: this.storage.service.data.usage().resources,
        values: this.storage.service.data.usage().entries,
        bytes: this.storage.service.data.usage().bytes,
      },
    };
  }

  private accept(link: Link): void {
    if (link.closed || this.accepted.has(link)) return;
    this.accepted.add(link);
    this.links.add(link);
    for (const listener of [...this.linkListeners]) listener({ link, up: true });
    link.onClose(() => {
      this.chord.linkClosed(link);
      for (const listener of [...this.linkListeners]) listener({ link, up: false });
    });
  }
}
