/**
 * An operator's overlay on disk: the CA, the configuration/kind signer, the HTTPS server's certificate,
 * the signed configuration document and the accounts database, in one folder. Private keys are PKCS#8
 * PEM files readable by the operator only (0600); the folder itself is 0700.
 */
import { createPrivateKey, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createCertificateAuthority,
  createSelfSignedIdentity,
  createSigner,
  defaultConfiguration,
  fromPrivateKey,
  generateIdentityKeys,
  issueCertificate,
  readCertificate,
  signedConfigurationDocument,
  type CertificateAuthority,
  type KeyAlgorithm,
  type NewConfiguration,
  type Signer,
} from '../../reload';

export class OverlayDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OverlayDirError';
  }
}

export interface OverlaySettings {
  overlay: string;
  algorithm: KeyAlgorithm;
  selfSigned: boolean;
  /** Public URL of the enrollment service as clients see it. */
  enrollmentUrl: string;
  listen: { host: string; port: number };
  certificateValidDays: number;
  configSequence: number;
  bootstrapNodes: { address: string; port: number }[];
}

export interface InitOptions {
  overlay: string;
  algorithm?: KeyAlgorithm;
  selfSigned?: boolean;
  host?: string;
  port?: number;
  enrollmentUrl?: string;
  bootstrapNodes?: { address: string; port: number }[];
  certificateValidDays?: number;
}

const FILES = {
  settings: 'overlay.json',
  caKey: 'ca-key.pem',
  caCert: 'ca-cert.pem',
  signerKey: 'signer-key.pem',
  signerCert: 'signer-cert.pem',
  serverKey: 'server-key.pem',
  serverCert: 'server-cert.pem',
  config: 'reload-config.xml',
  accounts: 'accounts.sqlite',
} as const;

const pem = (label: string, der: Uint8Array) =>
  `-----BEGIN ${label}-----\n${Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '')}\n-----END ${label}-----\n`;

function derFromPem(text: string, label: string, file: string): Uint8Array {
  const match = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`).exec(text);
  if (!match) throw new OverlayDirError(`${file} holds no ${label}`);
  return new Uint8Array(Buffer.from((match[1] ?? '').replace(/\s+/g, ''), 'base64'));
}

export class OverlayDir {
  private constructor(
    readonly dir: string,
    readonly settings: OverlaySettings,
    readonly ca: CertificateAuthority,
    readonly signer: Signer,
    readonly signerNodeId: Uint8Array,
  ) {}

  path(name: keyof typeof FILES): string {
    return join(this.dir, FILES[name]);
  }

  static async init(dir: string, options: InitOptions): Promise<OverlayDir> {
    if (await stat(join(dir, FILES.settings)).catch(() => undefined)) {
      throw new OverlayDirError(`${dir} already holds an overlay (${FILES.settings}); choose another --dir`);
    }
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    const algorithm = options.algorithm ?? 'ecdsa';
    const host = options.host ?? '127.0.0.1';
    const port = options.port ?? 6084;
    const settings: OverlaySettings = {
      overlay: options.overlay.toLowerCase(),
      algorithm,
      selfSigned: options.selfSigned ?? false,
      enrollmentUrl: options.enrollmentUrl ?? `https://${options.overlay.toLowerCase()}:${port}/enroll`,
      listen: { host, port },
      certificateValidDays: options.certificateValidDays ?? 90,
      configSequence: 1,
      bootstrapNodes: options.bootstrapNodes ?? [],
    };
    const ca = await createCertificateAuthority(await generateIdentityKeys(algorithm), settings.overlay, 3650);
    const signerKeys = await generateIdentityKeys(algorithm);
    let signerCert: Uint8Array;
    let signerNodeId: Uint8Array;
    if (settings.selfSigned) {
      const self = await createSelfSignedIdentity(
        signerKeys,
        `admin@${settings.overlay}`,
        settings.overlay,
        'sha256',
        16,
        3650,
      );
      signerCert = self.der;
      signerNodeId = self.nodeIds[0] as Uint8Array;
    } else {
      signerNodeId = new Uint8Array(randomBytes(16));
      signerCert = (
        await issueCertificate({
          ca,
          publicKey: signerKeys.webcrypto.publicKey,
          userName: `admin@${settings.overlay}`,
          nodeIds: [signerNodeId],
          overlay: settings.overlay,
          validDays: 3650,
        })
      ).der;
    }
    const serverKeys = await generateIdentityKeys(algorithm);
    const serverCert = await issueCertificate({
      ca,
      publicKey: serverKeys.webcrypto.publicKey,
      userName: '',
      nodeIds: [],
      overlay: settings.overlay,
      validDays: 825,
      dnsNames: [settings.overlay, 'localhost'],
      ipAddresses: ['127.0.0.1', '::1'],
    });
    const secret = (file: string, text: string) => writeFile(join(dir, file), text, { mode: 0o600 });
    await secret(
      FILES.caKey,
      pem('PRIVATE KEY', new Uint8Array(ca.keys.privateKey.export({ format: 'der', type: 'pkcs8' }))),
    );
    await writeFile(join(dir, FILES.caCert), pem('CERTIFICATE', ca.certificate));
    await secret(
      FILES.signerKey,
      pem('PRIVATE KEY', new Uint8Array(signerKeys.privateKey.export({ format: 'der', type: 'pkcs8' }))),
    );
    await writeFile(join(dir, FILES.signerCert), pem('CERTIFICATE', signerCert));
    await secret(
      FILES.serverKey,
      pem('PRIVATE KEY', new Uint8Array(serverKeys.privateKey.export({ format: 'der', type: 'pkcs8' }))),
    );
    await writeFile(
      join(dir, FILES.serverCert),
      pem('CERTIFICATE', serverCert.der) + pem('CERTIFICATE', ca.certificate),
    );
    await writeFile(join(dir, FILES.settings), JSON.stringify(settings, null, 2) + '\n');
    const overlay = new OverlayDir(
      dir,
      settings,
      ca,
      createSigner({ privateKey: signerKeys.privateKey, certificate: signerCert }),
      signerNodeId,
    );
    await overlay.writeConfiguration();
    return overlay;
  }

  static async open(dir: string): Promise<OverlayDir> {
    const read = async (name: keyof typeof FILES) => {
      try {
        return await readFile(join(dir, FILES[name]), 'utf8');
      } catch {
        throw new OverlayDirError(`${join(dir, FILES[name])} is missing: run \`overlay init\` first or pass --dir`);
      }
    };
    const settings = JSON.parse(await read('settings')) as OverlaySettings;
    const caKey = createPrivateKey({
      key: Buffer.from(derFromPem(await read('caKey'), 'PRIVATE KEY', FILES.caKey)),
      format: 'der',
      type: 'pkcs8',
    });
    const ca: CertificateAuthority = {
      keys: await fromPrivateKey(caKey),
      certificate: derFromPem(await read('caCert'), 'CERTIFICATE', FILES.caCert),
    };
    const signerKey = createPrivateKey({
      key: Buffer.from(derFromPem(await read('signerKey'), 'PRIVATE KEY', FILES.signerKey)),
      format: 'der',
      type: 'pkcs8',
    });
    const signerCert = derFromPem(await read('signerCert'), 'CERTIFICATE', FILES.signerCert);
    const signerNodeId = readCertificate(signerCert, settings.overlay).nodeIds[0];
    if (!signerNodeId) throw new OverlayDirError(`${FILES.signerCert} carries no Node-ID for ${settings.overlay}`);
    return new OverlayDir(
      dir,
      settings,
      ca,
      createSigner({ privateKey: signerKey, certificate: signerCert }),
      signerNodeId,
    );
  }

  configurationInput(): NewConfiguration {
    const s = this.settings;
    return {
      ...defaultConfiguration(s.overlay),
      sequence: s.configSequence,
      rootCerts: s.selfSigned ? [] : [this.ca.certificate],
      enrollmentServers: s.selfSigned ? [] : [s.enrollmentUrl],
      selfSignedPermitted: s.selfSigned,
      bootstrapNodes: s.bootstrapNodes,
      kindSigners: [this.signerNodeId],
      configurationSigners: [this.signerNodeId],
    };
  }

  async writeConfiguration(): Promise<string> {
    const document = signedConfigurationDocument(this.configurationInput(), this.signer, this.signer);
    await writeFile(this.path('config'), document);
    return document;
  }
}
