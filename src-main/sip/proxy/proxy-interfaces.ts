/**
 * What the proxy core needs from the rest of the SIP layer, as small injected interfaces: where an AOR or
 * GRUU leads (resolution), how to reach a target (the connection pool), and which UAs are registered at
 * this peer (the registrar). The proxy never looks into the overlay itself.
 */
import type { Destination } from '../../reload/index';
import type { SipTransport } from '../transport/sip-transport';

/** One place a request can be forked to. */
export interface ProxyTarget {
  /** De-duplication key: two targets with the same key are one branch (e.g. the destination list as hex). */
  readonly key: string;
  /** The scheme-less AOR the target was registered under; differs from the Request-URI after retargeting. */
  readonly aor: string;
  /** The RELOAD destination list that reaches the device (a GRUU's list, or a registration's). */
  readonly destinations: readonly Destination[];
  /** Set when the target is a GRUU: the full SIP URI to put in the Request-URI. */
  readonly gruu?: string;
  /** Connect with SIPS (Application-ID 5061): a sips: Request-URI, or the callee's contact_prefs require it. */
  readonly sips?: boolean;
}

export type ResolveFailure = 'not-found' | 'unavailable' | 'loop' | 'error';

export type ResolveResult =
  { readonly targets: readonly ProxyTarget[] } | { readonly failure: ResolveFailure; readonly reason: string };

export interface TargetResolver {
  /** Where a Request-URI (an AOR with scheme, or a GRUU) leads. Must not throw for an unknown AOR. */
  resolve(requestUri: string): Promise<ResolveResult>;
}

export interface TargetConnector {
  /** An open SIP flow to the device behind `target`; rejects when it cannot be reached. */
  connect(target: ProxyTarget): Promise<SipTransport>;
}

/** A UA registered at this peer (local SIP interface or the app's UA). */
export interface LocalBinding {
  readonly transport: SipTransport;
  /** The Contact the UA registered; when set, it becomes the Request-URI (RFC 3261 §16.5/16.6 step 2). */
  readonly contact?: string;
}

export interface LocalBindings {
  /** UAs at this peer reachable by `uri`: an AOR, a GRUU or a Contact URI they registered (with scheme). */
  lookup(uri: string): readonly LocalBinding[];
}

/** The other AORs (scheme-less) a certified user registered and may therefore send as. */
export type AliasesOf = (user: string) => readonly string[] | Promise<readonly string[]>;
