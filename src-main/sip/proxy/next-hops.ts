/**
 * Where a request goes next (RFC 3261 §16.5): the top Route if one is left after our own entry was
 * stripped, otherwise the Request-URI — to UAs registered at this peer (LocalBindings) and/or to the
 * targets the resolver finds (forking). A Route naming another peer (`<node-id-hex>.reload.invalid`, the
 * token every peer puts in its Via and Record-Route) becomes a target with that Node-ID as destination.
 */
import { Grammar, type URI } from 'sip.js/lib/core/index.js';
import type { Destination } from '../../reload/index';
import type { LocalBinding, LocalBindings, ProxyTarget, ResolveFailure, TargetResolver } from './proxy-interfaces';
import { aorOf, normaliseAor } from './sip-text';

export const PEER_HOST_SUFFIX = '.reload.invalid';

export function peerHost(nodeId: Uint8Array): string {
  return `${Buffer.from(nodeId).toString('hex')}${PEER_HOST_SUFFIX}`;
}

/** The Node-ID a peer host token names, or undefined when `host` is not one. */
export function nodeIdOfHost(host: string): Uint8Array | undefined {
  const h = host.toLowerCase();
  if (!h.endsWith(PEER_HOST_SUFFIX)) return undefined;
  const hex = h.slice(0, -PEER_HOST_SUFFIX.length);
  if (!/^(?:[0-9a-f]{2}){1,32}$/.test(hex)) return undefined;
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

export type NextHop =
  | { readonly kind: 'local'; readonly key: string; readonly binding: LocalBinding; readonly ruri: URI }
  | { readonly kind: 'remote'; readonly key: string; readonly target: ProxyTarget; readonly ruri: URI };

export type HopsResult =
  | { readonly hops: readonly NextHop[] }
  | { readonly status: number; readonly failure: string; readonly reason: string };

const FAILURE_STATUS: Record<ResolveFailure, number> = {
  'not-found': 404,
  unavailable: 480,
  loop: 482,
  error: 500,
};

export interface HopContext {
  readonly nodeId: Uint8Array;
  readonly resolver: TargetResolver;
  readonly localBindings: LocalBindings;
  readonly maxBranches: number;
}

function parseUri(text: string): URI | undefined {
  const u = Grammar.URIParse(text);
  return u ?? undefined;
}

function localHops(bindings: readonly LocalBinding[], ruri: URI, into: Map<string, NextHop>): void {
  for (const b of bindings) {
    const key = `local:${b.transport.id}`;
    if (into.has(key) || b.transport.closed) continue;
    const contact = b.contact !== undefined ? parseUri(b.contact) : undefined;
    into.set(key, { kind: 'local', key, binding: b, ruri: contact ?? ruri });
  }
}

function isSelf(target: ProxyTarget, nodeId: Uint8Array): boolean {
  const last = target.destinations[target.destinations.length - 1];
  return last !== undefined && last.type === 'node' && Buffer.from(last.id).equals(Buffer.from(nodeId));
}

/** `route` is the top Route left after our own entries were removed, if any. */
export async function findNextHops(
  ctx: HopContext,
  ruri: URI,
  route: URI | undefined,
  inDialog: boolean,
): Promise<HopsResult> {
  const hops = new Map<string, NextHop>();
  if (route !== undefined) {
    const node = nodeIdOfHost(route.host);
    if (node !== undefined) {
      const destinations: Destination[] = [{ type: 'node', id: node }];
      const key = `node:${Buffer.from(node).toString('hex')}`;
      return { hops: [{ kind: 'remote', key, target: { key, aor: '', destinations }, ruri }] };
    }
    localHops(ctx.localBindings.lookup(route.toString()), ruri, hops);
    if (hops.size > 0) return { hops: [...hops.values()].slice(0, 1) };
    return { status: 404, failure: 'no-route', reason: `Route ${route.toString()} leads nowhere known` };
  }
  const ruriText = ruri.toString();
  localHops(ctx.localBindings.lookup(ruriText), ruri, hops);
  if (hops.size > 0 && (inDialog || ruri.hasParam('gr'))) return { hops: [...hops.values()].slice(0, ctx.maxBranches) };
  const resolved = await ctx.resolver.resolve(ruriText);
  if ('failure' in resolved) {
    if (hops.size > 0) return { hops: [...hops.values()].slice(0, ctx.maxBranches) };
    return { status: FAILURE_STATUS[resolved.failure], failure: resolved.failure, reason: resolved.reason };
  }
  const ruriAor = aorOf(ruri);
  for (const target of resolved.targets) {
    if (hops.size >= ctx.maxBranches) break;
    const targetUri = target.gruu !== undefined ? parseUri(target.gruu) : undefined;
    const retargeted =
      targetUri ??
      (target.aor !== '' && normaliseAor(target.aor) !== ruriAor
        ? parseUri(`${ruri.scheme}:${target.aor}`)
        : undefined);
    const next = retargeted ?? ruri;
    if (isSelf(target, ctx.nodeId)) {
      localHops(ctx.localBindings.lookup(next.toString()), next, hops);
      continue;
    }
    const key = `remote:${target.key}`;
    if (!hops.has(key)) hops.set(key, { kind: 'remote', key, target, ruri: next });
  }
  if (hops.size === 0) return { status: 480, failure: 'unavailable', reason: `no reachable target for ${ruriText}` };
  return { hops: [...hops.values()].slice(0, ctx.maxBranches) };
}
