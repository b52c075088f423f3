/**
 * Completing security blocks (RFC 6940 §6.3.4 and §8). A message need not carry its signer's certificate
 * when the receiver can get it otherwise. We look, in order: in the message's own certificates; at the
 * certificate of the link the message came over, when it came straight from its signer (the (D)TLS
 * handshake showed it); among certificates of recent verified messages, by the originator's Node-ID; and
 * last in the overlay's certificate usage, CERTIFICATE_BY_NODE at H(Node-ID) (`fetchByNode`, supplied by
 * the node, since storage sits above the transport). The originator's Node-ID comes from the via list (its
 * first entry) or, for a message from a direct peer, from the link. Every certificate found this way is
 * still judged by the trust policy and must hash to the signature's SignerIdentity.
 */
import { identityNames } from '../crypto';
import { toHex, type SignerIdentity } from '../wire';

export interface CertificateCompletionOptions {
  /** Stored certificates of a Node-ID (CERTIFICATE_BY_NODE); absent: the overlay is not asked. */
  fetchByNode?: (nodeId: Uint8Array) => Promise<Uint8Array[]>;
  /** Node-IDs remembered with their certificates (least recently used go first). */
  maxNodes?: number;
  /** After a fetch found nothing, how long that Node-ID is not asked again (ms). */
  negativeMs?: number;
  /** Fetches running at once; more are refused (the message is dropped, its sender retransmits). */
  maxInFlight?: number;
  now: () => number;
}

export class CertificateCompletion {
  private readonly known = new Map<string, Uint8Array[]>();
  private readonly missing = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<Uint8Array[]>>();
  readonly counters = { fromLink: 0, fromMemory: 0, fetched: 0, notFound: 0 };

  constructor(private readonly o: CertificateCompletionOptions) {}

  /** Whether the overlay can be asked (a certificate source is set). */
  get canFetch(): boolean {
    return this.o.fetchByNode !== undefined;
  }

  /** Remembers a certificate that signed a verified message (or a link's), under the signer's Node-ID. */
  remember(nodeId: Uint8Array, certificate: Uint8Array): void {
    const key = toHex(nodeId);
    const list = this.known.get(key) ?? [];
    if (!list.some((c) => sameBytes(c, certificate))) list.unshift(certificate);
    list.length = Math.min(list.length, 2); // old and new may coexist during renewal (§8)
    this.known.delete(key);
    this.known.set(key, list);
    while (this.known.size > (this.o.maxNodes ?? 1024)) this.known.delete(this.known.keys().next().value as string);
  }

  /** Drops what we remember of a Node-ID (its certificate was replaced; tests). */
  forget(nodeId: Uint8Array): void {
    this.known.delete(toHex(nodeId));
  }

  /** A certificate we hold for `identity` of the originator `nodeId`, without asking the overlay. */
  find(identity: SignerIdentity, nodeId: Uint8Array, linkCertificate?: Uint8Array): Uint8Array | undefined {
    if (linkCertificate && identityNames(identity, linkCertificate, nodeId)) {
      this.counters.fromLink++;
      return linkCertificate;
    }
    const found = this.known.get(toHex(nodeId))?.find((c) => identityNames(identity, c, nodeId));
    if (found) this.counters.fromMemory++;
    return found;
  }

  /** Asks the overlay for the originator's certificates; undefined when none names `identity`. */
  async fetch(identity: SignerIdentity, nodeId: Uint8Array): Promise<Uint8Array | undefined> {
    const fetchByNode = this.o.fetchByNode;
    if (!fetchByNode) return undefined;
    const key = toHex(nodeId);
    const until = this.missing.get(key);
    if (until !== undefined && until > this.o.now()) return undefined;
    let pending = this.inFlight.get(key);
    if (!pending) {
      if (this.inFlight.size >= (this.o.maxInFlight ?? 16)) return undefined;
      pending = fetchByNode(nodeId).catch(() => []);
      this.inFlight.set(key, pending);
      void pending.finally(() => this.inFlight.delete(key));
    }
    const certificates = await pending;
    const found = certificates.find((c) => identityNames(identity, c, nodeId));
    if (!found) {
      this.counters.notFound++;
      this.missing.set(key, this.o.now() + (this.o.negativeMs ?? 30_000));
      if (this.missing.size > (this.o.maxNodes ?? 1024))
        this.missing.delete(this.missing.keys().next().value as string);
      return undefined;
    }
    this.counters.fetched++;
    this.missing.delete(key);
    this.remember(nodeId, found);
    return found;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
