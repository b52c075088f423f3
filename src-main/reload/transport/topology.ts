/**
 * What message transport asks the overlay algorithm (CHORD-RELOAD implements it in the overlay issue; a
 * static table serves the transport's own tests).
 */
export interface Topology {
  /** Is this node responsible for the Resource-ID (or a Node-ID in its range)? */
  isResponsible(id: Uint8Array): boolean;
  /** The Node-ID of the routing-table peer to forward towards `id`, if any. */
  nextHop(id: Uint8Array): Uint8Array | undefined;
}

/** A fixed routing table: responsibility for listed IDs, and the next hop for everything else. */
export class StaticTopology implements Topology {
  constructor(
    private readonly responsible: (id: Uint8Array) => boolean,
    private readonly route: (id: Uint8Array) => Uint8Array | undefined,
  ) {}

  isResponsible(id: Uint8Array): boolean {
    return this.responsible(id);
  }

  nextHop(id: Uint8Array): Uint8Array | undefined {
    return this.route(id);
  }
}
