/**
 * The ConfigUpdate method (RFC 6940 §6.3.2.1, §6.5.4): the node's configuration document, kept current.
 *
 * Sending: a node whose configuration is older than ours (a requester we answered Error_Config_Too_Old, a
 * destination that answered Error_Config_Too_New, a ConfigUpdate that offered us an older document) gets
 * ours in a ConfigUpdate of type config, at most once a minute per Node-ID. The request carries
 * configuration_sequence 0xffff, which every destination accepts.
 *
 * Receiving: type config is accepted only when its sequence is newer (serial arithmetic modulo 65535) and it
 * verifies under the current configuration's rules (the injected verifier; by default
 * acceptConfigurationDocument: same overlay, not expired, signed by a configuration-signer of the current
 * configuration, every kind-block by one of its kind-signers). Type kind is accepted only when every
 * kind-block is signed by a current kind-signer and adds a Kind the node lacks: kind-blocks carry no
 * sequence, so one never replaces a Kind in force nor restores one a configuration removed (an older,
 * still validly signed definition could be replayed). Refusals are ConfigUpdateRefusedError (the RELOAD
 * error code and the field at fault), answered as that error.
 *
 * Applying: the transport's configuration sequence, the storage Kinds (data of Kinds gone, or whose data
 * model changed, is dropped; the decoder's data models follow the storage Kinds) and an onChanged event
 * with the document for the host to persist. What a running node cannot change (topology, Node-ID length,
 * trust anchors, link settings, timers) is listed in the event (`rejoin`, `restart`) and left to the host.
 *
 * Our own configuration older than another node's (it answered Error_Config_Too_Old, or its request
 * carried a newer sequence): an onStale event, at most once a minute, so the host can refetch the document
 * as at bootstrap — the other node normally sends us a ConfigUpdate too.
 */
import type { Logger } from '../../common/logger';
import type { Clock } from '../clock';
import {
  acceptConfigurationDocument,
  CONFIG_UPDATE_ALLOWANCE,
  CONFIG_UPDATE_ANY_SEQUENCE,
  ConfigurationError,
  ConfigurationExpiredError,
  ConfigurationSignatureError,
  ConfigurationWrappingError,
  isNewerSequence,
  OverlayNameMismatchError,
  parseConfigurationDocument,
  parseKindBlock,
  StaleConfigurationError,
  trustPolicyOf,
  UnsupportedMandatoryExtensionError,
  verifyText,
  type KindDefinition,
  type OverlayConfiguration,
} from '../config';
import type { ValidatedIdentity } from '../identity';
import type { StorageKind } from '../storage';
import { ErrorAnswer, type ConfigMismatch, type IncomingRequest, type MessageTransport } from '../transport';
import { bytesEqual, ErrorCode, toHex, type Body, type ConfigUpdateReq, type Destination } from '../wire';

/** Verifies a document offered to replace `current`; throws a ConfigurationError (naming the field) if not. */
export type ConfigurationVerifier = (text: string, current: OverlayConfiguration, now: Date) => OverlayConfiguration;

/** What the host gives a node: the configuration document it accepted and, optionally, how to verify newer ones. */
export interface NodeConfiguration {
  /** The document as accepted (the last <configuration> in it is the one in force). */
  document: string;
  /** Default: acceptConfigurationDocument with the current configuration's overlay name. */
  accept?: ConfigurationVerifier;
}

export interface ConfigurationChange {
  /** 'config': a ConfigUpdate with a document; 'kind': one with kind-blocks; 'local': the host installed one. */
  cause: 'config' | 'kind' | 'local';
  /** The sender's Node-ID (hex), for ConfigUpdates. */
  from?: string;
  previousSequence: number;
  /** The configuration in force now, and the document it came in (unchanged for 'kind'). */
  configuration: OverlayConfiguration;
  document: string;
  /** Every Kind in force now: the configuration's, replaced or extended by kind-blocks received since. */
  kinds: KindDefinition[];
  kindsAdded: number[];
  kindsChanged: number[];
  kindsRemoved: number[];
  /** Stored values dropped with Kinds removed or whose data model changed. */
  valuesDropped: number;
  /** Changed elements that need the node to leave and join again, built from `configuration`. */
  rejoin: string[];
  /** Changed elements a running node does not apply: they take effect when the host next builds the node. */
  restart: string[];
}

export interface ConfigurationStale {
  /** The node (hex Node-ID) whose configuration is newer than ours. */
  from: string;
  ourSequence: number;
  theirSequence: number;
}

/** A ConfigUpdate refused: the RELOAD error code to answer and the field at fault. */
export class ConfigUpdateRefusedError extends Error {
  constructor(
    readonly errorCode: number,
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'ConfigUpdateRefusedError';
  }
}

export interface ConfigUpdateOptions {
  configuration?: NodeConfiguration;
  transport: Pick<MessageTransport, 'request' | 'configSequence'>;
  /** Where to serve config_update_req (absent in unit tests that call `receive`). */
  router?: { on(method: 'config_update_req', handler: (request: IncomingRequest) => Body): void };
  storage: { setKinds(kinds: readonly StorageKind[]): number };
  clock: Clock;
  /** Wall-clock ms since 1970 (expiry and certificate validity). */
  now: () => number;
  log: Logger;
  /** The overlay's max-message-size: a document that cannot fit a message is not sent. */
  maxMessageSize: number;
  /** Least time between two ConfigUpdates to one node, and between two onStale events (default 60 s). */
  intervalMs?: number;
}

const REJOIN: readonly [string, (c: OverlayConfiguration) => unknown][] = [
  ['instance-name', (c) => c.instanceName],
  ['topology-plugin', (c) => c.topologyPlugin],
  ['node-id-length', (c) => c.nodeIdLength],
];

const RESTART: readonly [string, (c: OverlayConfiguration) => unknown][] = [
  ['root-cert', (c) => c.rootCerts],
  ['bad-node', (c) => c.badNodes],
  ['self-signed-permitted', (c) => [c.selfSignedPermitted, c.selfSignedDigest]],
  ['enrollment-server', (c) => c.enrollmentServers],
  ['bootstrap-node', (c) => c.bootstrapNodes],
  ['turn-density', (c) => c.turnDensity],
  ['clients-permitted', (c) => c.clientsPermitted],
  ['no-ice', (c) => c.noIce],
  ['overlay-link-protocol', (c) => c.overlayLinkProtocols],
  ['max-message-size', (c) => c.maxMessageSize],
  ['initial-ttl', (c) => c.initialTtl],
  ['overlay-reliability-timer', (c) => c.overlayReliabilityTimer],
  ['chord', (c) => c.chord],
  ['self-tuning', (c) => c.selfTuning ?? null],
  ['shared-secret', (c) => c.sharedSecret ?? null],
  ['mandatory-extension', (c) => c.mandatoryExtensions],
];

const utf8 = new TextEncoder();

export class ConfigUpdateService {
  private doc: string | undefined;
  private config: OverlayConfiguration | undefined;
  /** Kind-blocks received in ConfigUpdates of type kind, by Kind-ID: Kinds no configuration defines. */
  private readonly received = new Map<number, KindDefinition>();
  /**
   * Kind-IDs defined by any configuration this node held (those of every <configuration> in its documents):
   * one missing from the configuration in force was removed, and a replayed kind-block must not restore it.
   * Grows only with configurations signed by a configuration-signer.
   */
  private readonly configuredKinds = new Set<number>();
  private readonly lastPush = new Map<string, number>();
  private lastStale = -Infinity;
  private readonly verifier: ConfigurationVerifier;
  private readonly changeListeners = new Set<(change: ConfigurationChange) => void>();
  private readonly staleListeners = new Set<(event: ConfigurationStale) => void>();
  readonly counters = {
    received: 0,
    accepted: 0,
    refused: 0,
    pushes: 0,
    pushesRateLimited: 0,
    pushesTooLarge: 0,
    pushesFailed: 0,
    staleEvents: 0,
  };

  constructor(private readonly o: ConfigUpdateOptions) {
    this.verifier =
      o.configuration?.accept ??
      ((text, current, now) => acceptConfigurationDocument(text, { overlayName: current.instanceName, current, now }));
    if (o.configuration) {
      const configurations = parseConfigurationDocument(o.configuration.document);
      this.doc = o.configuration.document;
      this.config = configurations.at(-1) as OverlayConfiguration;
      for (const c of configurations) for (const k of c.kinds) this.configuredKinds.add(k.id);
      // The document is the source of truth for the sequence and the Kinds.
      o.transport.configSequence = this.config.sequence;
      o.storage.setKinds(this.config.kinds);
    }
    o.router?.on('config_update_req', (request) => this.answer(request));
  }

  /** The document we hold (undefined when the node was given none). */
  get document(): string | undefined {
    return this.doc;
  }

  get current(): OverlayConfiguration | undefined {
    return this.config;
  }

  /** Every Kind in force: the configuration's, extended by kind-blocks received since. */
  get kinds(): KindDefinition[] {
    const out = new Map((this.config?.kinds ?? []).map((k) => [k.id, k]));
    for (const [id, kind] of this.received) out.set(id, kind);
    return [...out.values()];
  }

  onChanged(listener: (change: ConfigurationChange) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  onStale(listener: (event: ConfigurationStale) => void): () => void {
    this.staleListeners.add(listener);
    return () => this.staleListeners.delete(listener);
  }

  /**
   * A newer document the host obtained (refetched after onStale, or from its operator): verified against
   * the current configuration, then applied. Undefined when it holds the configuration we have; throws a
   * ConfigurationError (StaleConfigurationError, ConfigurationSignatureError, …) when refused.
   */
  install(text: string): ConfigurationChange | undefined {
    const current = this.config;
    if (!current)
      throw new ConfigurationSignatureError('no configuration to verify a new one against', 'configuration');
    const next = this.verifier(text, current, new Date(this.o.now()));
    if (isCurrent(next, current)) return undefined;
    return this.apply(next, text, 'local');
  }

  /**
   * A ConfigUpdate request from `from` (its verified signer). Returns the change, or undefined when it holds
   * nothing new; throws ConfigUpdateRefusedError when it must be refused. `route` leads back to the sender.
   */
  receive(req: ConfigUpdateReq, from: Uint8Array, route?: Destination[]): ConfigurationChange | undefined {
    this.counters.received++;
    try {
      const current = this.config;
      if (!current)
        throw new ConfigUpdateRefusedError(
          ErrorCode.Forbidden,
          'configuration',
          'we hold no configuration to verify it',
        );
      const change =
        req.type === 'config'
          ? this.receiveConfig(req.configData, current, from, route)
          : this.receiveKinds(req.kinds, from);
      if (change) this.counters.accepted++;
      return change;
    } catch (error) {
      this.counters.refused++;
      throw error;
    }
  }

  /** The transport saw another configuration sequence (RFC 6940 §6.3.2.1). */
  mismatch(m: ConfigMismatch): void {
    if (m.sequence === CONFIG_UPDATE_ANY_SEQUENCE) return; // only a ConfigUpdate may carry it: says nothing
    if (m.stale === 'peer') {
      // Sent before our error answer leaves: a stale peer that is joining closes its bootstrap link on that
      // answer, and would never receive the document (a later push waits out the rate limit).
      void this.pushTo(m.nodeId, m.route);
      return;
    }
    const ours = this.o.transport.configSequence;
    if (!isNewerSequence(m.sequence, ours)) return; // caught up since
    const now = this.o.clock.now();
    if (now - this.lastStale < this.interval) return;
    this.lastStale = now;
    this.counters.staleEvents++;
    const event: ConfigurationStale = { from: toHex(m.nodeId), ourSequence: ours, theirSequence: m.sequence };
    this.o.log.info('our configuration is older than a peer’s', { ...event });
    for (const listener of [...this.staleListeners]) listener(event);
  }

  /**
   * Sends our document to a node with an older one (along `route`, by default its Node-ID), unless we sent it
   * one within the interval. Resolves true when the node accepted it.
   */
  async pushTo(nodeId: Uint8Array, route?: Destination[]): Promise<boolean> {
    if (this.doc === undefined) return false;
    const key = toHex(nodeId);
    const now = this.o.clock.now();
    const last = this.lastPush.get(key);
    if (last !== undefined && now - last < this.interval) {
      this.counters.pushesRateLimited++;
      return false;
    }
    this.lastPush.set(key, now);
    if (this.lastPush.size > 1024)
      for (const [id, at] of this.lastPush) if (now - at >= this.interval) this.lastPush.delete(id);
    const configData = utf8.encode(this.doc);
    if (configData.length + CONFIG_UPDATE_ALLOWANCE > this.o.maxMessageSize) {
      this.counters.pushesTooLarge++;
      this.o.log.warn('configuration document too large for a ConfigUpdate; the stale node must refetch it', {
        node: key,
        bytes: configData.length,
        maxMessageSize: this.o.maxMessageSize,
      });
      return false;
    }
    this.counters.pushes++;
    try {
      await this.o.transport.request(
        route && route.length > 0 ? route : [{ type: 'node', id: nodeId }],
        { method: 'config_update_req', value: { type: 'config', configData } },
        { configurationSequence: CONFIG_UPDATE_ANY_SEQUENCE },
      );
      return true;
    } catch (error) {
      this.counters.pushesFailed++;
      this.o.log.debug('ConfigUpdate not accepted', { node: key, error: (error as Error).message });
      return false;
    }
  }

  // ------------------------------------------------------------------------------------------ receiving

  private get interval(): number {
    return this.o.intervalMs ?? 60_000;
  }

  private answer(request: IncomingRequest): Body {
    if (request.body.method !== 'config_update_req')
      throw new ErrorAnswer(ErrorCode.Invalid_Message, 'not a ConfigUpdate');
    const from = request.from.nodeIds[0] as Uint8Array;
    const h = request.message.header;
    const route: Destination[] = [
      { type: 'node', id: request.link.peer.nodeIds[0] as Uint8Array },
      ...[...h.viaList].reverse(),
    ];
    try {
      const change = this.receive(request.body.value, from, route);
      if (change)
        this.o.log.info('configuration updated', { from: change.from, sequence: change.configuration.sequence });
    } catch (error) {
      if (!(error instanceof ConfigUpdateRefusedError)) throw error;
      this.o.log.info('ConfigUpdate refused', { from: toHex(from), error: error.message });
      throw new ErrorAnswer(error.errorCode, error.message);
    }
    return { method: 'config_update_ans', value: {} };
  }

  private receiveConfig(
    data: Uint8Array,
    current: OverlayConfiguration,
    from: Uint8Array,
    route: Destination[] | undefined,
  ): ConfigurationChange | undefined {
    const text = decodeUtf8(data, 'config_data');
    if (text === this.doc) return undefined;
    let offered: OverlayConfiguration;
    let all: OverlayConfiguration[];
    try {
      all = parseConfigurationDocument(text);
      offered = all.at(-1) as OverlayConfiguration;
      if (!isNewerSequence(offered.sequence, current.sequence) && isCurrent(offered, current)) return undefined;
    } catch (error) {
      throw refusal(error, 'config_data');
    }
    if (!isNewerSequence(offered.sequence, current.sequence)) {
      // The sender holds an older configuration: it gets ours.
      if (isNewerSequence(current.sequence, offered.sequence)) queueMicrotask(() => void this.pushTo(from, route));
      throw new ConfigUpdateRefusedError(
        ErrorCode.Config_Too_Old,
        'configuration/@sequence',
        `sequence ${offered.sequence} is not newer than ours, ${current.sequence}`,
      );
    }
    let next: OverlayConfiguration;
    try {
      next = this.verifier(text, current, new Date(this.o.now()));
    } catch (error) {
      throw refusal(error, 'config_data');
    }
    try {
      if (isCurrent(next, current)) return undefined;
    } catch (error) {
      throw refusal(error, 'config_data');
    }
    const change = this.apply(next, text, 'config', from);
    for (const c of all) for (const k of c.kinds) this.configuredKinds.add(k.id);
    return change;
  }

  /**
   * Kind-blocks carry no sequence: every <kind> a kind-signer ever signed stays valid, so one may be an older
   * definition. A kind ConfigUpdate delivers a Kind to a node that lacks it (RFC 6940 §7.4.1.1,
   * Error_Unknown_Kind); it never changes a Kind in force — the configuration's, or one received before — nor
   * brings back a Kind a configuration we held defined and a later one removed. Only a newer configuration,
   * which is sequenced, changes Kinds. The definition in force itself is a no-op.
   */
  private receiveKinds(fragments: Uint8Array[], from: Uint8Array): ConfigurationChange | undefined {
    const current = this.config as OverlayConfiguration;
    const policy = trustPolicyOf(current);
    const now = new Date(this.o.now());
    const defined = new Map(current.kinds.map((k) => [k.id, k]));
    const taken = new Map<number, KindDefinition>();
    fragments.forEach((bytes, i) => {
      const field = `kinds[${i}]`;
      let kind: KindDefinition;
      try {
        kind = parseKindBlock(decodeUtf8(bytes, field), field);
      } catch (error) {
        throw refusal(error, field);
      }
      if (taken.has(kind.id))
        throw new ConfigUpdateRefusedError(ErrorCode.Invalid_Message, field, `Kind ${kind.id} appears twice`);
      let signer: ValidatedIdentity;
      try {
        signer = verifyText(kind.xml, kind.signature, policy, current.kindSigners, `${field}/kind-signature`, now);
      } catch (error) {
        throw refusal(error, `${field}/kind-signature`);
      }
      const existing = defined.get(kind.id) ?? this.received.get(kind.id);
      if (existing?.xml === kind.xml) return; // the definition we have
      const previousSigner = existing ? this.signerOf(existing, current, now) : undefined;
      if (previousSigner && !previousSigner.nodeIds.some((id) => signer.nodeIds.some((s) => bytesEqual(s, id)))) {
        throw new ConfigUpdateRefusedError(
          ErrorCode.Forbidden,
          `${field}/kind-signature`,
          `Kind ${kind.id} is defined by another kind-signer (${toHex(previousSigner.nodeIds[0] as Uint8Array)})`,
        );
      }
      if (defined.has(kind.id))
        throw new ConfigUpdateRefusedError(
          ErrorCode.Forbidden,
          `${field}/kind`,
          `Kind ${kind.id} is defined by the configuration in force (sequence ${current.sequence}); ` +
            'a kind-block has no sequence and does not override it',
        );
      if (existing)
        throw new ConfigUpdateRefusedError(
          ErrorCode.Forbidden,
          `${field}/kind`,
          `Kind ${kind.id} was received before with another definition; a kind-block has no sequence and ` +
            'does not override it (a newer configuration does)',
        );
      if (this.configuredKinds.has(kind.id))
        throw new ConfigUpdateRefusedError(
          ErrorCode.Forbidden,
          `${field}/kind`,
          `Kind ${kind.id} was removed by a configuration we accepted; a kind-block does not bring it back`,
        );
      taken.set(kind.id, kind);
    });
    if (taken.size === 0) return undefined;
    return this.apply(current, this.doc as string, 'kind', from, taken);
  }

  /** Who signed a Kind in force, if a current kind-signer did (else another may replace it). */
  private signerOf(kind: KindDefinition, c: OverlayConfiguration, now: Date): ValidatedIdentity | undefined {
    try {
      return verifyText(kind.xml, kind.signature, trustPolicyOf(c), c.kindSigners, 'kind-signature', now);
    } catch {
      return undefined;
    }
  }

  // ------------------------------------------------------------------------------------------- applying

  private apply(
    next: OverlayConfiguration,
    document: string,
    cause: ConfigurationChange['cause'],
    from?: Uint8Array,
    kindBlocks: ReadonlyMap<number, KindDefinition> = new Map(),
  ): ConfigurationChange {
    const previous = this.config as OverlayConfiguration;
    const before = new Map(this.kinds.map((k) => [k.id, k]));
    for (const [id, kind] of kindBlocks) this.received.set(id, kind);
    if (cause !== 'kind') {
      // A new configuration: its Kinds override received ones; those whose signer is no longer a
      // kind-signer go, with their data (RFC 6940 §11.1).
      const now = new Date(this.o.now());
      for (const [id, kind] of this.received)
        if (next.kinds.some((k) => k.id === id) || !this.signerOf(kind, next, now)) this.received.delete(id);
    }
    for (const k of next.kinds) this.configuredKinds.add(k.id);
    this.config = next;
    this.doc = document;
    const kinds = this.kinds;
    const after = new Map(kinds.map((k) => [k.id, k]));
    const valuesDropped = this.o.storage.setKinds(kinds);
    this.o.transport.configSequence = next.sequence;
    const differs = ([, of]: readonly [string, (c: OverlayConfiguration) => unknown]) =>
      canonical(of(previous)) !== canonical(of(next));
    const change: ConfigurationChange = {
      cause,
      ...(from ? { from: toHex(from) } : {}),
      previousSequence: previous.sequence,
      configuration: next,
      document,
      kinds,
      kindsAdded: [...after.keys()].filter((id) => !before.has(id)),
      kindsChanged: [...after].filter(([id, k]) => before.has(id) && before.get(id)?.xml !== k.xml).map(([id]) => id),
      kindsRemoved: [...before.keys()].filter((id) => !after.has(id)),
      valuesDropped,
      rejoin: REJOIN.filter(differs).map(([name]) => name),
      restart: RESTART.filter(differs).map(([name]) => name),
    };
    for (const listener of [...this.changeListeners]) listener(change);
    return change;
  }
}

function decodeUtf8(bytes: Uint8Array, field: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ConfigUpdateRefusedError(ErrorCode.Invalid_Message, field, 'is not UTF-8');
  }
}

/** The RELOAD error for a refused document or kind-block (each ConfigurationError names its element). */
function refusal(error: unknown, field: string): ConfigUpdateRefusedError {
  if (error instanceof ConfigUpdateRefusedError) return error;
  if (!(error instanceof ConfigurationError)) {
    return new ConfigUpdateRefusedError(ErrorCode.Invalid_Message, field, (error as Error).message);
  }
  const code =
    error instanceof ConfigurationSignatureError
      ? ErrorCode.Forbidden
      : error instanceof StaleConfigurationError || error instanceof ConfigurationExpiredError
        ? ErrorCode.Config_Too_Old
        : error instanceof OverlayNameMismatchError || error instanceof UnsupportedMandatoryExtensionError
          ? ErrorCode.Incompatible_with_Overlay
          : ErrorCode.Invalid_Message;
  return new ConfigUpdateRefusedError(code, error.field, error.message.slice(error.field.length + 2));
}

/**
 * Whether `next`, read from an offered document, is the configuration in force (ours, in other document
 * text). The signed text alone decides what a configuration means (parse.ts refuses text whose meaning
 * depends on anything else), so equal text must give equal values; if a verifier ever read it otherwise, the
 * document is refused: keeping ours would ignore it, applying it would store values ours does not give.
 */
function isCurrent(next: OverlayConfiguration, current: OverlayConfiguration): boolean {
  if (next === current) return true;
  if (next.xml !== current.xml) return false;
  const values = (c: OverlayConfiguration) =>
    canonical({ ...c, signature: undefined, kinds: c.kinds.map((k) => ({ ...k, signature: undefined })) });
  if (values(next) === values(current)) return true;
  throw new ConfigurationWrappingError(
    'holds the signed text of the configuration in force, read with other values',
    'configuration',
  );
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v instanceof Uint8Array ? toHex(v) : v));
}
