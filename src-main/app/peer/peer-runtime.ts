/**
 * A RELOAD peer on real sockets, built from an accepted overlay configuration and an identity: the
 * composition root of the headless peer. No-ICE overlays get a TLS endpoint (bootstrap links and No-ICE
 * Attach); ICE overlays a DTLS-UDP-SR-NO-ICE endpoint for bootstrap links and ICE Attach for the rest.
 * Configured bootstrap-node entries name that endpoint's address in either case (docs/decisions.md).
 */
import type { KeyObject } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import type { Logger } from '../../common/logger';
import { realClock } from '../../reload/clock';
import { trustPolicyOf, type OverlayConfiguration } from '../../reload/config';
import { overlayHash } from '../../reload/crypto';
import { readCertificate } from '../../reload/identity';
import { DtlsEndpoint } from '../../reload/link/dtls/dtls-endpoint';
import { TlsEndpoint } from '../../reload/link/tls/tls-endpoint';
import type { Link, LinkEndpoint } from '../../reload/link/link';
import { ReloadNode } from '../../reload/node';
import {
  IceDtlsAppAttach,
  IceDtlsAttach,
  NoIceAppAttach,
  NoIceAttach,
  TlsAppFlows,
  type AppAttachStrategy,
  type AttachStrategy,
} from '../../reload/transport';
import { SipService } from '../../sip/index';

export interface PeerRuntimeOptions {
  config: OverlayConfiguration;
  /** The document `config` came from: the node sends it to peers with an older one (ConfigUpdate). */
  configDocument?: string;
  privateKey: KeyObject;
  /** Our certificate first, then any chain. */
  chain: Uint8Array[];
  /** Where the bootstrap/No-ICE endpoint listens (port 0: any free port). */
  listen: { host: string; port: number };
  /** The address to put in No-ICE candidates when `listen.host` is a wildcard. */
  advertiseHost?: string;
  /** Extra ICE host candidates (werift gathers the interfaces' own; loopback needs naming). */
  hostAddresses?: string[];
  log: Logger;
  /** How often the peer stores its own values again (default 5 min). */
  refreshIntervalMs?: number;
  /**
   * The local SIP interface's port on 127.0.0.1 (UDP and TCP); undefined or 0: no SIP service. A port in use
   * rejects with SipLocalPortInUseError (nothing left running).
   */
  sipPort?: number;
}

export class PeerSetupError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'PeerSetupError';
  }
}

export interface PeerRuntime {
  node: ReloadNode;
  /** Where our endpoint listens (what other peers' bootstrap entries would name). */
  address: { host: string; port: number };
  /** A direct link from our endpoint (the local overlay's reachability check uses it). */
  connect(address: { host: string; port: number }, expectedNodeId?: Uint8Array): Promise<Link>;
  /** The SIP usage (registrar, proxy, local SIP interface) when a SIP port was given. */
  sip: SipService | undefined;
  close(): Promise<void>;
}

export async function startPeerRuntime(o: PeerRuntimeOptions): Promise<PeerRuntime> {
  const { config } = o;
  const certificate = o.chain[0];
  if (!certificate) throw new PeerSetupError('the identity holds no certificate', 'identity');
  const info = readCertificate(certificate, config.instanceName, config.nodeIdLength);
  const nodeId = info.nodeIds[0];
  if (!nodeId) throw new PeerSetupError('the certificate carries no Node-ID for this overlay', 'identity');
  const policy = trustPolicyOf(config);
  policy.validate(certificate); // our own certificate must pass the overlay's rules, or nobody will talk to us
  const credentials = {
    privateKey: o.privateKey,
    certificates: o.chain,
    policy,
    maxMessageSize: config.maxMessageSize,
  };
  let endpoint: LinkEndpoint & { address: { host: string; port: number } };
  let strategy: AttachStrategy;
  let appAttach: AppAttachStrategy;
  let incoming: ((listener: (link: Link) => void) => void) | undefined;
  if (config.noIce) {
    const tls = await TlsEndpoint.listen({ ...credentials, host: o.listen.host, port: o.listen.port });
    const advertised = o.advertiseHost ?? tls.address.host;
    if (advertised === '0.0.0.0' || advertised === '::')
      throw new PeerSetupError('a wildcard listen address needs --advertise with the address peers reach', 'advertise');
    endpoint = tls;
    strategy = new NoIceAttach({
      endpoint: tls,
      address: { host: advertised, port: tls.address.port },
      clock: realClock,
    });
    // AppAttach flows (SIP): a TLS listener per flow on the same host, named in the candidates as advertised.
    const flows = new TlsAppFlows({
      privateKey: o.privateKey,
      certificates: o.chain,
      policy,
      host: o.listen.host,
      advertiseHost: advertised,
      clock: realClock,
    });
    appAttach = new NoIceAppAttach({ flows, clock: realClock });
  } else {
    const dtls = await DtlsEndpoint.listen({ ...credentials, host: o.listen.host, port: o.listen.port });
    endpoint = dtls;
    strategy = new IceDtlsAttach({
      ...credentials,
      clock: realClock,
      ...(o.hostAddresses ? { hostAddresses: o.hostAddresses } : {}),
    });
    incoming = (listener) => void dtls.onLink(listener);
    // AppAttach flows (SIP): their own ICE agent and DTLS association each, as RFC 6940 §6.5.2 asks.
    appAttach = new IceDtlsAppAttach({
      privateKey: o.privateKey,
      certificates: o.chain,
      policy,
      clock: realClock,
      ...(o.hostAddresses ? { hostAddresses: o.hostAddresses } : {}),
    });
  }
  const node = new ReloadNode({
    nodeId,
    privateKey: o.privateKey,
    certificate,
    policy,
    overlay: overlayHash(config.instanceName),
    configSequence: config.sequence,
    nodeIdLength: config.nodeIdLength,
    initialTtl: config.initialTtl,
    reliabilityTimerMs: config.overlayReliabilityTimer,
    maxMessageSize: config.maxMessageSize,
    clock: realClock,
    log: o.log,
    strategy,
    appAttach,
    connect: (address) => endpoint.connect(address),
    isOwnAddress: (address) =>
      address.port === endpoint.address.port && ownHosts(endpoint.address.host, o.advertiseHost).has(address.host),
    ...(incoming ? { onIncomingLink: incoming } : {}),
    bootstrapNodes: config.bootstrapNodes.map((b) => ({ host: b.address, port: b.port })),
    overlayName: config.instanceName,
    ...(o.configDocument ? { configuration: { document: o.configDocument } } : {}),
    ...(o.refreshIntervalMs ? { refreshIntervalMs: o.refreshIntervalMs } : {}),
    kinds: config.kinds,
    chord: {
      updateIntervalMs: config.chord.updateInterval * 1000,
      fingerIntervalMs: config.chord.pingInterval * 1000,
      reactive: config.chord.reactive,
      ...(config.selfTuning ? { selfTuning: { peersToProbe: config.selfTuning.peersToProbe } } : {}),
    },
  });
  let sip: SipService | undefined;
  if (o.sipPort !== undefined && o.sipPort !== 0) {
    sip = new SipService({
      node,
      overlayName: config.instanceName,
      policy,
      clock: realClock,
      log: o.log,
      localPort: o.sipPort,
    });
    try {
      await sip.start();
    } catch (error) {
      await sip.stop().catch(() => undefined);
      await endpoint.close();
      throw error;
    }
  }
  return {
    node,
    address: endpoint.address,
    connect: (address, expectedNodeId) => endpoint.connect(address, expectedNodeId),
    sip,
    close: async () => {
      // SIP first: its registrations are removed from the overlay while we are still in it.
      await sip?.stop().catch((error: Error) => o.log.warn('sip stop', { error: error.message }));
      await node.stop();
      await endpoint.close();
    },
  };
}

/** The host names and addresses that reach this machine's endpoint (a wildcard listen: every interface's). */
function ownHosts(listenHost: string, advertised: string | undefined): Set<string> {
  const hosts = new Set([listenHost, 'localhost', ...(advertised ? [advertised] : [])]);
  if (listenHost === '0.0.0.0' || listenHost === '::')
    for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) hosts.add(i.address);
  return hosts;
}
