/**
 * Where a received message goes (RFC 6940 §6.1): delivered here, forwarded to one linked peer, or dropped.
 * Decided from the destination list, the topology and the connection table alone, so the rule can be walked
 * over whole rings without links or signatures (test/security/routing-loops.test.ts).
 *
 * - Our Node-ID first: delivered when it is the last entry, else removed and the next entry examined.
 * - The wildcard Node-ID (all ones) first: delivered here, never forwarded (§6.1.1: every peer is
 *   responsible for it). Forwarding it let one Ping circle the ring until its TTL ran out.
 * - Another Node-ID: straight to it when it is in the connection table; else, when it falls in our range,
 *   nobody but us could be there, so the message is dropped silently (§6.1.1) instead of bouncing between us
 *   and a neighbour until its TTL runs out; else on towards it (§6.1.2).
 * - A Resource-ID: it must be the last entry; delivered when we are responsible, else forwarded.
 * - Opaque IDs: we never compress the via list, so none is ours to expand (§6.1.3).
 *
 * Loops: when the topology's next hop is a node the message has already been at (its via list, the hop it
 * came from), the message is in a loop and is dropped. Routing is deterministic, so a message that comes back
 * to a node would only go round the same cycle again until its TTL ran out (up to 100 times): with routing
 * tables that disagree (joins, failures, a lying peer) that happens. The originator is the exception: it
 * may choose the first hop itself (a partition check sends through a bootstrap node, whose route to our
 * successor runs through us), so a message may pass its originator once more; a second return is caught
 * there, since the originator's own next hop is then in the via list. A direct link to the entry itself is
 * always used: that is the destination, or a source-routed hop the sender chose.
 */
import { bytesEqual, type Destination } from '../wire';
import type { Topology } from './topology';

export interface RoutingView {
  self: Uint8Array;
  topology: Topology;
  /** Is this Node-ID in the connection table (an open link)? */
  linked(id: Uint8Array): boolean;
}

export type RoutingDropReason =
  'no-destination' | 'resource-not-last' | 'opaque-destination' | 'node-in-our-range' | 'routing-loop' | 'no-route';

export type RoutingDecision =
  | { action: 'deliver' }
  /** `destinations`: the list as it leaves us (entries naming us removed). */
  | { action: 'forward'; to: Uint8Array; destinations: Destination[] }
  | { action: 'drop'; reason: RoutingDropReason };

/** The wildcard Node-ID: all ones (§6.1.1). */
export function isWildcardNodeId(id: Uint8Array): boolean {
  return id.length > 0 && id.every((b) => b === 0xff);
}

/**
 * The decision for a received message. `visited`: the nodes it has been at other than its originator — its
 * via list's Node-IDs after the first, and the Node-IDs of the peer it came from unless that peer is the
 * originator (an empty via list).
 */
export function routeReceived(
  destinations: readonly Destination[],
  visited: readonly Uint8Array[],
  view: RoutingView,
): RoutingDecision {
  const rest = [...destinations];
  while (rest.length > 0) {
    const first = rest[0] as Destination;
    if (first.type === 'node') {
      if (bytesEqual(first.id, view.self)) {
        if (rest.length === 1) return { action: 'deliver' };
        rest.shift();
        continue;
      }
      if (isWildcardNodeId(first.id)) return { action: 'deliver' };
      if (view.linked(first.id)) return { action: 'forward', to: first.id, destinations: rest };
      if (view.topology.isResponsible(first.id)) return { action: 'drop', reason: 'node-in-our-range' };
      return onwards(first.id, rest, visited, view);
    }
    if (first.type === 'resource') {
      if (rest.length !== 1) return { action: 'drop', reason: 'resource-not-last' };
      if (view.topology.isResponsible(first.id)) return { action: 'deliver' };
      return onwards(first.id, rest, visited, view);
    }
    return { action: 'drop', reason: 'opaque-destination' };
  }
  return { action: 'drop', reason: 'no-destination' };
}

/** The topology's next hop towards `id`: a linked peer, 'loop' when the message has been there already. */
export function nextHop(
  id: Uint8Array,
  visited: readonly Uint8Array[],
  view: RoutingView,
): Uint8Array | 'loop' | undefined {
  const hop = view.topology.nextHop(id);
  if (!hop || !view.linked(hop)) return undefined;
  if (bytesEqual(hop, view.self) || visited.some((v) => bytesEqual(v, hop))) return 'loop';
  return hop;
}

function onwards(
  id: Uint8Array,
  rest: Destination[],
  visited: readonly Uint8Array[],
  view: RoutingView,
): RoutingDecision {
  const hop = nextHop(id, visited, view);
  if (hop === 'loop') return { action: 'drop', reason: 'routing-loop' };
  return hop ? { action: 'forward', to: hop, destinations: rest } : { action: 'drop', reason: 'no-route' };
}
