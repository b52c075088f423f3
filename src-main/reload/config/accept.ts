/**
 * Accepting a configuration (RFC 6940 §11.1–11.2): the document names the overlay we asked for, has not
 * expired, is newer than what we have (serial arithmetic modulo 65535: sequence.ts), is signed by a
 * configuration-signer of the configuration it replaces (the first one by one of its own, its trust coming
 * from HTTPS), and every kind-block is signed by one of its kind-signers.
 */
import { TrustPolicy } from '../identity';
import { ConfigurationExpiredError, OverlayNameMismatchError, StaleConfigurationError } from './errors';
import type { OverlayConfiguration } from './model';
import { parseConfigurationDocument } from './parse';
import { isNewerSequence } from './sequence';
import { verifyText } from './signature';

export function trustPolicyOf(c: OverlayConfiguration): TrustPolicy {
  return new TrustPolicy({
    overlay: c.instanceName,
    nodeIdLength: c.nodeIdLength,
    rootCerts: c.rootCerts,
    ...(c.selfSignedPermitted ? { selfSigned: { digest: c.selfSignedDigest } } : {}),
    badNodes: c.badNodes,
  });
}

export interface AcceptOptions {
  overlayName: string;
  /** The configuration we hold now, if any. */
  current?: OverlayConfiguration;
  now?: Date;
}

export function acceptConfigurationDocument(source: string, options: AcceptOptions): OverlayConfiguration {
  const now = options.now ?? new Date();
  const configurations = parseConfigurationDocument(source);
  let previous = options.current;
  for (const [i, candidate] of configurations.entries()) {
    const field = `configuration[${i + 1}]`;
    if (candidate.instanceName !== options.overlayName.toLowerCase()) {
      throw new OverlayNameMismatchError(
        `instance-name "${candidate.instanceName}" is not the overlay "${options.overlayName}"`,
        `${field}/@instance-name`,
      );
    }
    if (candidate.expiration && candidate.expiration <= now) {
      throw new ConfigurationExpiredError(`expired at ${candidate.expiration.toISOString()}`, `${field}/@expiration`);
    }
    if (previous && !isNewerSequence(candidate.sequence, previous.sequence)) {
      // A document may repeat the configuration we already hold before the newer ones.
      if (options.current && candidate.xml === options.current.xml) continue;
      throw new StaleConfigurationError(
        `sequence ${candidate.sequence} is not newer than ${previous.sequence}`,
        `${field}/@sequence`,
      );
    }
    const signerSource = previous ?? candidate;
    verifyText(
      candidate.xml,
      candidate.signature,
      trustPolicyOf(signerSource),
      signerSource.configurationSigners,
      `${field}/signature`,
      now,
    );
    const policy = trustPolicyOf(candidate);
    candidate.kinds.forEach((kind, k) =>
      verifyText(
        kind.xml,
        kind.signature,
        policy,
        candidate.kindSigners,
        `${field}/required-kinds/kind-block[${k + 1}]/kind-signature`,
        now,
      ),
    );
    previous = candidate;
  }
  return previous as OverlayConfiguration;
}
