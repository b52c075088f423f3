/**
 * Finding an operator's overlay (RFC 6940 §11.2): by name (DNS SRV _reload-config._tcp.<name>, then
 * https://<host>/.well-known/reload-config) or by an https configuration URL, whose document then names the
 * overlay (its instance-name). The document is verified as a first configuration (signed by one of its own
 * configuration-signers, its trust coming from HTTPS) and kept in memory as an offer until the user accepts
 * its signer: at most MAX_OFFERS for OFFER_TTL_MS each, so a renderer cannot make main hold documents at will.
 */
import { randomBytes } from 'node:crypto';
import type { SrvRecord } from 'node:dns';
import type { OverlayOffer } from '../../../src-shared/model/overlay';
import {
  acceptConfigurationDocument,
  checkOverlayDomain,
  ConfigurationFormatError,
  fetchConfigurationText,
  parseConfigurationDocument,
  trustPolicyOf,
  verifyText,
  type OverlayConfiguration,
} from '../../reload';

export const OFFER_TTL_MS = 10 * 60_000;
export const MAX_OFFERS = 8;

/** How the configuration is fetched; the defaults are the system's resolver and trust anchors. */
export interface FetchSettings {
  resolveSrv?: (name: string) => Promise<SrvRecord[]>;
  /** Trust anchors for the HTTPS servers (configuration and enrollment), instead of the system's. */
  tlsCa?: (string | Buffer)[];
  timeoutMs?: number;
}

export interface DiscoveredOverlay {
  config: OverlayConfiguration;
  /** The document as fetched (cached in the data folder once an identity is made with it). */
  document: string;
  url: string;
  signers: OverlayOffer['signers'];
}

export interface HeldOffer extends DiscoveredOverlay {
  offer: OverlayOffer;
  expiresAt: number;
}

/** Fetches and verifies the configuration `source` (a name or an https URL) names. */
export async function discoverOverlay(source: string, settings: FetchSettings, now: Date): Promise<DiscoveredOverlay> {
  const isUrl = /^https:\/\//i.test(source);
  const overlayName = isUrl ? '' : source.toLowerCase();
  const { text, url } = await fetchConfigurationText({
    overlayName,
    ...(isUrl ? { url: source } : {}),
    ...(settings.resolveSrv ? { resolveSrv: settings.resolveSrv } : {}),
    ...(settings.tlsCa ? { tlsCa: settings.tlsCa } : {}),
    ...(settings.timeoutMs ? { timeoutMs: settings.timeoutMs } : {}),
  });
  const configurations = parseConfigurationDocument(text);
  const first = configurations[0];
  if (!first) throw new ConfigurationFormatError('holds no configuration', 'overlay');
  // A URL's document names its overlay; a name must be the overlay the document is for (accept checks it).
  const name = isUrl ? first.instanceName : overlayName;
  // The overlay's name is the domain of every user name in it and a folder name here: it must be one.
  checkOverlayDomain(first.instanceName, 'instance-name');
  const config = acceptConfigurationDocument(text, { overlayName: name, now });
  const last = configurations.length - 1;
  const signerSource = configurations[last - 1] ?? config;
  const signer = verifyText(
    config.xml,
    config.signature,
    trustPolicyOf(signerSource),
    signerSource.configurationSigners,
    `configuration[${last + 1}]/signature`,
    now,
  );
  const certificate = signer.certificate;
  return {
    config,
    document: text,
    url,
    signers: [
      {
        fingerprint: certificate.node.fingerprint256,
        subject: certificate.parsed.subject || signer.userName,
        notAfter: certificate.notAfter.toISOString(),
      },
    ],
  };
}

export class OfferStore {
  private readonly offers = new Map<string, HeldOffer>();

  constructor(private readonly now: () => number) {}

  add(found: DiscoveredOverlay): OverlayOffer {
    this.prune();
    while (this.offers.size >= MAX_OFFERS) {
      const oldest = this.offers.keys().next();
      if (oldest.done) break;
      this.offers.delete(oldest.value);
    }
    const id = randomBytes(18).toString('base64url');
    const { config } = found;
    const offer: OverlayOffer = {
      offer: id,
      overlay: config.instanceName,
      url: found.url,
      sequence: config.sequence,
      signers: found.signers,
      enrollment: config.enrollmentServers.length > 0,
      selfSignedPermitted: config.selfSignedPermitted,
      expires: config.expiration ? config.expiration.toISOString() : null,
    };
    this.offers.set(id, { ...found, offer, expiresAt: this.now() + OFFER_TTL_MS });
    return offer;
  }

  /** The offer, or undefined when it never existed or has expired. */
  get(id: string): HeldOffer | undefined {
    this.prune();
    return this.offers.get(id);
  }

  private prune(): void {
    const now = this.now();
    for (const [id, held] of this.offers) if (held.expiresAt <= now) this.offers.delete(id);
  }
}

/** Fingerprints compare without regard to case or separators ("aa:bb" is "AABB"). */
export function sameFingerprint(a: string, b: string): boolean {
  const norm = (s: string) => s.replace(/[^0-9a-f]/gi, '').toUpperCase();
  return norm(a).length > 0 && norm(a) === norm(b);
}
