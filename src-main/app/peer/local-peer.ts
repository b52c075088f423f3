/**
 * `npm run peer -- --local`: a headless peer in the zero-configuration local overlay (the app's embedded
 * default). No configuration and no bootstrap nodes: LocalDiscovery (mDNS/DNS-SD) finds the other peers on the
 * LAN and LocalOverlay joins, forms and merges (reload/discovery/local-overlay.ts). Each (re)join gets a fresh
 * peer runtime (endpoint + ReloadNode, same identity); the control interface follows the current one.
 */
import type { KeyObject } from 'node:crypto';
import type { Logger } from '../../common/logger';
import { LOCAL_OVERLAY_NAME, localOverlayConfiguration } from '../../reload/config';
import {
  LocalOverlay,
  openLocalDiscovery,
  reloadNodeMember,
  type LocalOverlayMember,
  type LocalOverlayTiming,
} from '../../reload/discovery';
import type { ReloadNode } from '../../reload/node';
import type { SipService } from '../../sip/index';
import { startPeerRuntime, type PeerRuntime } from './peer-runtime';

export interface LocalPeerOptions {
  privateKey: KeyObject;
  chain: Uint8Array[];
  /** Where the DTLS endpoint listens (default 0.0.0.0:0: every interface, any free port). */
  listen: { host: string; port: number };
  /** The IPv4 address of the LAN interface for mDNS (default: every interface). */
  interface?: string;
  hostAddresses?: string[];
  refreshIntervalMs?: number;
  /**
   * The local SIP interface's port (0 or absent: no SIP). Each (re)join's runtime has its own SIP service on
   * it; the previous member is stopped (its port freed) before the next starts.
   */
  sipPort?: number;
  timing?: Partial<LocalOverlayTiming>;
  log: Logger;
  /** JSON lines on stdout. */
  line: (value: unknown) => void;
}

export interface LocalPeerHandle {
  overlay: LocalOverlay;
  /** The node in the overlay now (undefined while rejoining). */
  node(): ReloadNode | undefined;
  /** The SIP service of the current node (undefined while rejoining or without --sip-port). */
  sip(): SipService | undefined;
  close(): Promise<void>;
}

const WILDCARDS = new Set(['0.0.0.0', '::']);

export async function startLocalPeer(o: LocalPeerOptions): Promise<LocalPeerHandle> {
  const config = localOverlayConfiguration();
  const discovery = await openLocalDiscovery({
    ...(o.interface ? { interface: o.interface } : {}),
    log: o.log.child({ component: 'mdns' }),
  });
  const runtimes = new Map<LocalOverlayMember, PeerRuntime>();
  const createMember = async (): Promise<LocalOverlayMember> => {
    const runtime = await startPeerRuntime({
      config,
      privateKey: o.privateKey,
      chain: o.chain,
      listen: o.listen,
      ...(o.hostAddresses ? { hostAddresses: o.hostAddresses } : {}),
      ...(o.refreshIntervalMs ? { refreshIntervalMs: o.refreshIntervalMs } : {}),
      ...(o.sipPort ? { sipPort: o.sipPort } : {}),
      log: o.log,
    });
    // Phones registered with the previous member register again (their refresh): bindings are per runtime.
    if (runtime.sip) o.line({ event: 'sip', uri: runtime.sip.localUri, user: runtime.sip.status().user });
    runtime.node.onStateChanged((state) => o.log.info('overlay state', { state }));
    const member: LocalOverlayMember = {
      ...reloadNodeMember({ node: runtime.node, port: runtime.address.port, connect: runtime.connect }),
      stop: async () => {
        runtimes.delete(member);
        await runtime.close();
      },
    };
    runtimes.set(member, runtime);
    o.line({ event: 'listening', nodeId: member.nodeId, ...runtime.address, overlay: LOCAL_OVERLAY_NAME });
    return member;
  };
  // Announce the listening address itself when it names one; a wildcard: the interface's (or every) address.
  const host = WILDCARDS.has(o.listen.host) ? o.interface : o.listen.host;
  const overlay = new LocalOverlay({
    discovery,
    overlay: config.instanceName,
    transport: config.noIce ? 'tls' : 'dtls',
    createMember,
    ...(host ? { host } : {}),
    ...(o.timing ? { timing: o.timing } : {}),
    log: o.log.child({ component: 'local-overlay' }),
  });
  overlay.on((event) => {
    if (event.type === 'rejoining') o.line({ event: 'rejoining', reason: event.reason, through: event.through });
    else
      o.line({
        event: event.type,
        nodeId: event.member.nodeId,
        ...(event.type === 'joined' ? { through: event.through } : {}),
      });
  });
  try {
    await overlay.start();
  } catch (error) {
    await overlay.stop().catch(() => undefined);
    await discovery.close();
    throw error;
  }
  return {
    overlay,
    node: () => {
      const member = overlay.member;
      return member ? runtimes.get(member)?.node : undefined;
    },
    sip: () => {
      const member = overlay.member;
      return member ? runtimes.get(member)?.sip : undefined;
    },
    close: async () => {
      await overlay.stop();
      await discovery.close();
    },
  };
}
