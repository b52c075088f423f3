/**
 * The user's RELOAD identity on this device: key pair generated here, certificate obtained by enrollment
 * (or self-signed where the overlay permits it), renewed before it expires, exported and imported as an
 * encrypted file. Private keys and the enrollment password live only in the OS keychain (CredentialStore);
 * the certificate, which is public, is kept as a PEM file in the data folder.
 */
import { createPrivateKey } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  checkUserName,
  createSelfSignedIdentity,
  enroll,
  exportIdentity,
  fromPrivateKey,
  generateIdentityKeys,
  importIdentity,
  trustPolicyOf,
  type IdentityKeys,
  type KeyAlgorithm,
  type OverlayConfiguration,
  type ValidatedIdentity,
} from '../../reload';
import { ServiceError } from '../../common/service-error';
import type { CredentialStore } from '../credentials/credential-store';

export class IdentityMissingError extends ServiceError {
  readonly reason = 'identity-missing';
}

export class IdentityModeError extends ServiceError {
  readonly reason = 'identity-mode';
}

export interface DeviceIdentity {
  overlay: string;
  userName: string;
  keys: IdentityKeys;
  certificate: Uint8Array;
  validated: ValidatedIdentity;
}

const pem = (der: Uint8Array) =>
  `-----BEGIN CERTIFICATE-----\n${Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;

export class IdentityService {
  constructor(
    private readonly credentials: CredentialStore,
    /** Folder for certificates (public data). */
    private readonly dir: string,
  ) {}

  private keyAccount(overlay: string, user: string): string {
    return `identity-key/${overlay}/${user}`;
  }

  private passwordAccount(overlay: string, user: string): string {
    return `enrollment-password/${overlay}/${user}`;
  }

  private certificatePath(overlay: string, user: string): string {
    return join(this.dir, overlay, `${encodeURIComponent(user)}.pem`);
  }

  /** Enrolls with the overlay's enrollment server; keeps the password in the keychain for renewals. */
  async enroll(params: {
    config: OverlayConfiguration;
    userName: string;
    password: string;
    algorithm?: KeyAlgorithm;
    tlsCa?: (string | Buffer)[];
  }): Promise<DeviceIdentity> {
    const { config } = params;
    const url = config.enrollmentServers[0];
    if (!url) throw new IdentityModeError(`overlay ${config.instanceName} has no enrollment-server`);
    // The enrollment server applies the same rule; refusing here spares a key generation and a round trip.
    checkUserName(params.userName, { field: 'userName', domain: config.instanceName });
    const keys = await generateIdentityKeys(params.algorithm ?? 'ecdsa');
    const { certificate, identity } = await enroll({
      url,
      username: params.userName,
      password: params.password,
      keys,
      policy: trustPolicyOf(config),
      ...(params.tlsCa ? { tlsCa: params.tlsCa } : {}),
    });
    await this.store(config.instanceName, params.userName, keys, certificate);
    await this.credentials.set(this.passwordAccount(config.instanceName, params.userName), params.password);
    return { overlay: config.instanceName, userName: params.userName, keys, certificate, validated: identity };
  }

  /** For overlays with self-signed-permitted: a key and a certificate made here, Node-ID from the key. */
  async createSelfSigned(params: {
    config: OverlayConfiguration;
    userName: string;
    algorithm?: KeyAlgorithm;
  }): Promise<DeviceIdentity> {
    const { config } = params;
    if (!config.selfSignedPermitted)
      throw new IdentityModeError(`overlay ${config.instanceName} does not permit self-signed identities`);
    const keys = await generateIdentityKeys(params.algorithm ?? 'ecdsa');
    const { der } = await createSelfSignedIdentity(
      keys,
      params.userName,
      config.instanceName,
      config.selfSignedDigest,
      config.nodeIdLength,
      365,
    );
    const validated = trustPolicyOf(config).validate(der);
    await this.store(config.instanceName, params.userName, keys, der);
    return { overlay: config.instanceName, userName: params.userName, keys, certificate: der, validated };
  }

  async load(config: OverlayConfiguration, userName: string): Promise<DeviceIdentity | undefined> {
    const overlay = config.instanceName;
    const keyPem = await this.credentials.get(this.keyAccount(overlay, userName));
    if (!keyPem) return undefined;
    let text: string;
    try {
      text = await readFile(this.certificatePath(overlay, userName), 'utf8');
    } catch {
      throw new IdentityMissingError(`the key for ${userName} is in the keychain but its certificate file is missing`);
    }
    const certificate = new Uint8Array(Buffer.from(text.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64'));
    const keys = await fromPrivateKey(createPrivateKey(keyPem));
    return { overlay, userName, keys, certificate, validated: trustPolicyOf(config).validate(certificate) };
  }

  /** Renew once two thirds of the lifetime have passed (or a week before expiry, whichever is earlier). */
  renewalDue(identity: DeviceIdentity, now: Date = new Date()): boolean {
    const { notBefore, notAfter } = identity.validated.certificate;
    const lifetime = notAfter.getTime() - notBefore.getTime();
    const renewAt = Math.min(notBefore.getTime() + (lifetime * 2) / 3, notAfter.getTime() - 7 * 86_400_000);
    return now.getTime() >= renewAt;
  }

  /** Enrolls again with a fresh key, using the password kept in the keychain. */
  async renew(
    identity: DeviceIdentity,
    config: OverlayConfiguration,
    tlsCa?: (string | Buffer)[],
  ): Promise<DeviceIdentity> {
    if (identity.validated.selfSigned)
      return this.createSelfSigned({ config, userName: identity.userName, algorithm: identity.keys.algorithm });
    const password = await this.credentials.get(this.passwordAccount(identity.overlay, identity.userName));
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
    const certificate = chain[0] as Uint8Array;
    const validated = trustPolicyOf(config).validate(certificate);
    const keys = await fromPrivateKey(privateKey);
    await this.store(config.instanceName, validated.userName, keys, certificate);
    return { overlay: config.instanceName, userName: validated.userName, keys, certificate, validated };
  }

  async forget(overlay: string, userName: string): Promise<void> {
    await this.credentials.delete(this.keyAccount(overlay, userName));
    await this.credentials.delete(this.passwordAccount(overlay, userName));
  }

  private async store(overlay: string, userName: string, keys: IdentityKeys, certificate: Uint8Array): Promise<void> {
    // The key goes to the keychain first: if that fails, no certificate without its key is left behind.
    await this.credentials.set(
      this.keyAccount(overlay, userName),
      keys.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
    );
    const path = this.certificatePath(overlay, userName);
    await mkdir(join(this.dir, overlay), { recursive: true });
    await writeFile(`${path}.tmp`, pem(certificate));
    await rename(`${path}.tmp`, path);
  }
}
