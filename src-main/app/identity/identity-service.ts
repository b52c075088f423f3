/**
 * The user's RELOAD identity on this device: key pair generated here, certificate obtained by enrollment
 * (or self-signed where the overlay permits it), renewed before it expires, exported and imported as an
 * encrypted file. Private keys and the enrollment password live only in the OS keychain (CredentialStore);
 * the certificate, which is public, is kept as a PEM file in the data folder.
 */
import { createHash, createPrivateKey, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CertificateRejectedError,
  checkUserName,
  createSelfSignedIdentity,
  enroll,
  exportIdentity,
  fromPrivateKey,
  generateIdentityKeys,
  importIdentity,
  TrustPolicy,
  trustPolicyOf,
  type IdentityKeys,
  type KeyAlgorithm,
  type OverlayConfiguration,
  type ValidatedIdentity,
} from '../../reload';
import { readFileBounded } from '../../common/bounded-read';
import { ServiceError } from '../../common/service-error';
import type { CredentialStore } from '../credentials/credential-store';

export class IdentityMissingError extends ServiceError {
  readonly reason = 'identity-missing';
}

export class IdentityModeError extends ServiceError {
  readonly reason = 'identity-mode';
}

/**
 * A freshly issued certificate does not fit our clock: not yet valid, already expired, or issued more than
 * CLOCK_SKEW_LIMIT_MS (beyond the issuer's backdating) before our "now".
 */
export class ClockSkewError extends ServiceError {
  readonly reason = 'clock-skew';
  constructor(
    message: string,
    /** Our clock minus the issuer's, roughly (ms), when known; positive: ours is ahead. */
    readonly skewMs?: number,
  ) {
    super(message);
  }
}

/** How far our clock may be from the certificate issuer's before enrollment is refused as clock skew. */
export const CLOCK_SKEW_LIMIT_MS = 5 * 60_000;
/** Our CA (certificate-authority.ts) backdates notBefore by this much; other CAs may not backdate at all. */
const ISSUER_BACKDATE_MS = 5 * 60_000;

/** A self-signed certificate is valid this long; renewed (same key, same Node-ID) by the usual rule. */
export const SELF_SIGNED_VALID_DAYS = 365;

export interface DeviceIdentity {
  overlay: string;
  userName: string;
  keys: IdentityKeys;
  certificate: Uint8Array;
  validated: ValidatedIdentity;
}

export type EnrollmentStep = 'key-pair' | 'certificate';

/** Where the certificate of `user` in `overlay` is kept under `dir`. */
export function certificateFile(dir: string, overlay: string, user: string): string {
  return join(dir, overlay, `${encodeURIComponent(user)}.pem`);
}

/** A certificate PEM file as DER, or undefined when there is no file. */
export async function readCertificateFile(path: string): Promise<Uint8Array | undefined> {
  let text: string;
  try {
    text = await readFileBounded(path, 64 * 1024, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return new Uint8Array(Buffer.from(text.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64'));
}

const pem = (der: Uint8Array) =>
  `-----BEGIN CERTIFICATE-----\n${Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;

/** Keychain accounts longer than this use a digest of overlay and user instead (keychains cap names at 256). */
const MAX_READABLE_ACCOUNT = 200;

/** A TrustPolicy that judges time by our clock (injectable), also inside the enrollment client. */
class ClockedPolicy extends TrustPolicy {
  constructor(
    base: TrustPolicy,
    private readonly clock: () => Date,
  ) {
    super(base.settings);
  }
  override validate(der: Uint8Array, now: Date = this.clock()): ValidatedIdentity {
    return super.validate(der, now);
  }
}

/** The overlay's trust policy, judging time by `now`. */
export function clockedPolicy(config: OverlayConfiguration, now: () => Date): TrustPolicy {
  return new ClockedPolicy(trustPolicyOf(config), now);
}

/** Renew once two thirds of the lifetime have passed, or a week before expiry, whichever is earlier. */
export function renewalDueAt(certificate: { notBefore: Date; notAfter: Date }): Date {
  const { notBefore, notAfter } = certificate;
  const lifetime = notAfter.getTime() - notBefore.getTime();
  return new Date(Math.min(notBefore.getTime() + (lifetime * 2) / 3, notAfter.getTime() - 7 * 86_400_000));
}

export interface IdentityServiceOptions {
  /** Our clock: certificate validity and renewal are judged by it. */
  now?: () => Date;
}

export class IdentityService {
  private readonly now: () => Date;

  constructor(
    private readonly credentials: CredentialStore,
    /** Folder for certificates (public data). */
    private readonly dir: string,
    options: IdentityServiceOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
  }

  private account(kind: 'identity-key' | 'enrollment-password', overlay: string, user: string): string {
    const readable = `${kind}/${overlay}/${user}`;
    if (readable.length <= MAX_READABLE_ACCOUNT) return readable;
    return `${kind}/sha256:${createHash('sha256').update(`${overlay}\n${user}`).digest('hex')}`;
  }

  certificatePath(overlay: string, user: string): string {
    return certificateFile(this.dir, overlay, user);
  }

  policy(config: OverlayConfiguration): TrustPolicy {
    return clockedPolicy(config, this.now);
  }

  /**
   * Enrolls with the overlay's enrollment server; keeps the password in the keychain for renewals. Nothing is
   * stored unless the server issued a certificate we accept.
   */
  async enroll(params: {
    config: OverlayConfiguration;
    userName: string;
    password: string;
    algorithm?: KeyAlgorithm;
    tlsCa?: (string | Buffer)[];
    onStep?: (step: EnrollmentStep) => void;
  }): Promise<DeviceIdentity> {
    const { config } = params;
    const url = config.enrollmentServers[0];
    if (!url) throw new IdentityModeError(`overlay ${config.instanceName} has no enrollment-server`);
    // The enrollment server applies the same rule; refusing here spares a key generation and a round trip.
    checkUserName(params.userName, { field: 'userName', domain: config.instanceName });
    params.onStep?.('key-pair');
    const keys = await generateIdentityKeys(params.algorithm ?? 'ecdsa');
    params.onStep?.('certificate');
    let issued: { certificate: Uint8Array; identity: ValidatedIdentity };
    try {
      issued = await enroll({
        url,
        username: params.userName,
        password: params.password,
        keys,
        policy: this.policy(config),
        ...(params.tlsCa ? { tlsCa: params.tlsCa } : {}),
      });
    } catch (error) {
      // A certificate issued a moment ago that our clock calls not yet valid or expired: our clock is wrong.
      if (error instanceof CertificateRejectedError && (error.reason === 'not-yet-valid' || error.reason === 'expired'))
        throw new ClockSkewError(`the certificate just issued is ${error.message}; this computer's clock is off`);
      throw error;
    }
    this.checkClock(issued.identity);
    await this.store(config.instanceName, params.userName, keys, issued.certificate);
    await this.credentials.set(
      this.account('enrollment-password', config.instanceName, params.userName),
      params.password,
    );
    return {
      overlay: config.instanceName,
      userName: params.userName,
      keys,
      certificate: issued.certificate,
      validated: issued.identity,
    };
  }

  /** The issuer's time is within [notBefore, notBefore + backdate]; ours must be within the limit of it. */
  private checkClock(identity: ValidatedIdentity): void {
    const notBefore = identity.certificate.notBefore.getTime();
    const ahead = this.now().getTime() - (notBefore + ISSUER_BACKDATE_MS);
    if (ahead > CLOCK_SKEW_LIMIT_MS) {
      throw new ClockSkewError(
        `this computer's clock is about ${Math.round(ahead / 60_000)} minutes ahead of the enrollment server's`,
        ahead,
      );
    }
  }

  /**
   * For overlays with self-signed-permitted: a certificate made here, Node-ID from the key. `keys` renews an
   * existing identity (same key, so the same Node-ID); otherwise a new key is generated.
   */
  async createSelfSigned(params: {
    config: OverlayConfiguration;
    userName: string;
    algorithm?: KeyAlgorithm;
    keys?: IdentityKeys;
    onStep?: (step: EnrollmentStep) => void;
  }): Promise<DeviceIdentity> {
    const { config } = params;
    if (!config.selfSignedPermitted)
      throw new IdentityModeError(`overlay ${config.instanceName} does not permit self-signed identities`);
    checkUserName(params.userName, { field: 'userName', domain: config.instanceName });
    params.onStep?.('key-pair');
    const keys = params.keys ?? (await generateIdentityKeys(params.algorithm ?? 'ecdsa'));
    params.onStep?.('certificate');
    const { der } = await createSelfSignedIdentity(
      keys,
      params.userName,
      config.instanceName,
      config.selfSignedDigest,
      config.nodeIdLength,
      SELF_SIGNED_VALID_DAYS,
    );
    const validated = this.policy(config).validate(der);
    await this.store(config.instanceName, params.userName, keys, der);
    return { overlay: config.instanceName, userName: params.userName, keys, certificate: der, validated };
  }

  /** The stored certificate (public; no keychain needed), or undefined when there is no file. */
  certificate(overlay: string, userName: string): Promise<Uint8Array | undefined> {
    return readCertificateFile(this.certificatePath(overlay, userName));
  }

  /**
   * The identity from the keychain and the certificate file, or undefined when the keychain has no key for it.
   * `allowExpired` (renewal, export) accepts a certificate that passed the overlay's policy until it expired.
   */
  async load(
    config: OverlayConfiguration,
    userName: string,
    options: { allowExpired?: boolean } = {},
  ): Promise<DeviceIdentity | undefined> {
    const overlay = config.instanceName;
    const keyPem = await this.credentials.get(this.account('identity-key', overlay, userName));
    if (!keyPem) return undefined;
    const certificate = await this.certificate(overlay, userName);
    if (!certificate)
      throw new IdentityMissingError(`the key for ${userName} is in the keychain but its certificate file is missing`);
    const keys = await fromPrivateKey(createPrivateKey(keyPem));
    const policy = this.policy(config);
    let validated: ValidatedIdentity;
    try {
      validated = policy.validate(certificate);
    } catch (error) {
      if (!(options.allowExpired && error instanceof CertificateRejectedError && error.reason === 'expired'))
        throw error;
      // Judged at its last valid instant: everything but the time must still hold.
      validated = policy.validate(certificate, new Date(new X509Certificate(certificate).validTo));
    }
    return { overlay, userName, keys, certificate, validated };
  }

  renewalDue(identity: DeviceIdentity, now: Date = this.now()): boolean {
    return now.getTime() >= renewalDueAt(identity.validated.certificate).getTime();
  }

  /**
   * A new certificate: enrolled again with a fresh key and the password kept in the keychain, or, for a
   * self-signed identity, signed again with the same key (its Node-ID is the key's digest and must not change).
   */
  async renew(
    identity: DeviceIdentity,
    config: OverlayConfiguration,
    tlsCa?: (string | Buffer)[],
  ): Promise<DeviceIdentity> {
    if (identity.validated.selfSigned)
      return this.createSelfSigned({ config, userName: identity.userName, keys: identity.keys });
    const password = await this.credentials.get(
      this.account('enrollment-password', identity.overlay, identity.userName),
    );
    if (!password)
      throw new IdentityMissingError(`no enrollment password for ${identity.userName} in the keychain; enroll again`);
    return this.enroll({
      config,
      userName: identity.userName,
      password,
      algorithm: identity.keys.algorithm,
      ...(tlsCa ? { tlsCa } : {}),
    });
  }

  async exportFile(identity: DeviceIdentity, passphrase: string): Promise<string> {
    return exportIdentity(identity.keys.privateKey, [identity.certificate], passphrase);
  }

  /** Imports an exported identity: it must pass this overlay's trust policy before anything is stored. */
  async importFile(config: OverlayConfiguration, text: string, passphrase: string): Promise<DeviceIdentity> {
    const { privateKey, chain } = importIdentity(text, passphrase);
    return this.adopt(config, privateKey, chain[0] as Uint8Array);
  }

  /** Stores a key and its certificate once the certificate passes the overlay's trust policy. */
  async adopt(config: OverlayConfiguration, privateKey: KeyObject, certificate: Uint8Array): Promise<DeviceIdentity> {
    const validated = this.policy(config).validate(certificate);
    const keys = await fromPrivateKey(privateKey);
    await this.store(config.instanceName, validated.userName, keys, certificate);
    return { overlay: config.instanceName, userName: validated.userName, keys, certificate, validated };
  }

  /** Deletes the key and the enrollment password from the keychain, then the certificate file. */
  async forget(overlay: string, userName: string): Promise<void> {
    await this.credentials.delete(this.account('identity-key', overlay, userName));
    await this.credentials.delete(this.account('enrollment-password', overlay, userName));
    await rm(this.certificatePath(overlay, userName), { force: true });
  }

  private async store(overlay: string, userName: string, keys: IdentityKeys, certificate: Uint8Array): Promise<void> {
    // The key goes to the keychain first: if that fails, no certificate without its key is left behind.
    await this.credentials.set(
      this.account('identity-key', overlay, userName),
      keys.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
    );
    const path = this.certificatePath(overlay, userName);
    await mkdir(join(this.dir, overlay), { recursive: true });
    const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(temporary, pem(certificate));
    await rename(temporary, path);
  }
}
