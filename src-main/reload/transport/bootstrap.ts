/**
 * Contacting the overlay (RFC 6940 §11.4): a direct (D)TLS link to a bootstrap node (No-ICE: its address
 * is in the configuration), then an Attach over that link to Resource-ID = our Node-ID + 1, which reaches
 * the peer that is responsible for our place in the overlay: the admitting peer the join goes to.
 */
import type { Link } from '../link/link';
import { toHex } from '../wire';
import type { AttachService } from './attach-service';
import { BootstrapFailedError } from './errors';

export interface BootstrapAddress {
  host: string;
  port: number;
}

export interface BootstrapOptions {
  /** Tried in order: cached former neighbours first (if any), then the configuration's bootstrap nodes. */
  addresses: BootstrapAddress[];
  /** Opens a direct link to an address (a TLS or DTLS-NO-ICE endpoint's connect). */
  connect: (address: BootstrapAddress) => Promise<Link>;
  /** Puts a link into the connection table. */
  accept: (link: Link) => void;
  attach: AttachService;
  nodeId: Uint8Array;
  /** Ask the admitting peer for an Update once attached (a joining peer does). */
  sendUpdate?: boolean;
}

export interface BootstrapResult {
  address: BootstrapAddress;
  /** The direct link to the bootstrap node. */
  bootstrapLink: Link;
  /** The link to the peer responsible for Node-ID + 1 (it may be the bootstrap node itself). */
  admittingLink: Link;
}

/** The Node-ID plus one, modulo 2^(8·length): the first Resource-ID after ours. */
export function nextId(id: Uint8Array): Uint8Array {
  const out = id.slice();
  for (let i = out.length - 1; i >= 0; i--) {
    out[i] = ((out[i] as number) + 1) & 0xff;
    if (out[i] !== 0) break;
  }
  return out;
}

export async function bootstrap(o: BootstrapOptions): Promise<BootstrapResult> {
  const causes: Error[] = [];
  for (const address of o.addresses) {
    let bootstrapLink: Link | undefined;
    try {
      bootstrapLink = await o.connect(address);
      o.accept(bootstrapLink);
      const admittingLink = await o.attach.attach(
        { type: 'resource', id: nextId(o.nodeId) },
        { via: bootstrapLink, sendUpdate: o.sendUpdate ?? false },
      );
      return { address, bootstrapLink, admittingLink };
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      causes.push(new Error(`${address.host}:${address.port}: ${e.message}`, { cause: e }));
      if (bootstrapLink) await bootstrapLink.close();
    }
  }
  throw new BootstrapFailedError(
    o.addresses.length === 0
      ? `no bootstrap node configured for node ${toHex(o.nodeId)}`
      : `no bootstrap node answered (${causes.map((c) => c.message).join('; ')})`,
    causes,
  );
}
