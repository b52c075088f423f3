/**
 * The client side of enrollment (RFC 6940 §11.3): POST the CSR with the account's credentials, receive
 * one DER certificate, and check it before use: it chains to the overlay's root-cert, carries our key and
 * our user name. The private key never leaves the caller.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'node:https';
import { bytesEqual } from '../wire';
import type { IdentityKeys } from './keys';
import { createCsr } from './certificate-authority';
import { CertificateRejectedError } from './errors';
import type { TrustPolicy, ValidatedIdentity } from './trust-policy';

/** The server refused; `token` is the RFC's (failed_authentication, bad_CSR, …) or an HTTP reason. */
export class EnrollmentRefusedError extends Error {
  constructor(
    readonly status: number,
    readonly token: string,
    explanation: string,
  ) {
    super(`enrollment refused (${status} ${token})${explanation ? `: ${explanation}` : ''}`);
    this.name = 'EnrollmentRefusedError';
  }
}

/** The server could not be reached or spoke something else than the protocol. */
export class EnrollmentTransportError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'EnrollmentTransportError';
  }
}

export interface EnrollOptions {
  url: string;
  username: string;
  password: string;
  keys: IdentityKeys;
  nodeIds?: number;
  /** Trust anchors for the HTTPS server certificate (defaults to the system's). */
  tlsCa?: (string | Buffer)[];
  /** The certificate's checks: chains to the configuration's root-cert. */
  policy: TrustPolicy;
  timeoutMs?: number;
}

export function multipartBody(fields: Record<string, string>, csr: Uint8Array): { body: Buffer; contentType: string } {
  const boundary = `----reload-${randomBytes(12).toString('hex')}`;
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    parts.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`, 'utf8'),
    );
  }
  parts.push(
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="csr"; filename="request.csr"\r\nContent-Type: application/pkcs10\r\n\r\n`,
    ),
    Buffer.from(csr),
    Buffer.from(`\r\n--${boundary}--\r\n`),
  );
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}

export async function enroll(
  options: EnrollOptions,
): Promise<{ certificate: Uint8Array; identity: ValidatedIdentity }> {
  const csr = await createCsr(options.keys, options.username);
  const fields: Record<string, string> = { username: options.username, password: options.password };
  if (options.nodeIds && options.nodeIds > 1) fields.nodeids = String(options.nodeIds);
  const { body, contentType } = multipartBody(fields, csr);
  const url = new URL(options.url);
  if (url.protocol !== 'https:')
    throw new EnrollmentTransportError(`enrollment-server must be https, not ${url.protocol}`);
  const response = await new Promise<{ status: number; type: string; body: Buffer }>((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': contentType, 'content-length': body.length, accept: 'application/pkix-cert' },
        ...(options.tlsCa ? { ca: options.tlsCa } : {}),
        minVersion: 'TLSv1.2',
        timeout: options.timeoutMs ?? 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > 256 * 1024) req.destroy(new EnrollmentTransportError('answer larger than 256 KiB'));
          chunks.push(c);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            type: String(res.headers['content-type'] ?? ''),
            body: Buffer.concat(chunks),
          }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new EnrollmentTransportError('enrollment server did not answer in time')));
    req.on('error', (error) =>
      reject(
        error instanceof EnrollmentTransportError
          ? error
          : new EnrollmentTransportError(`cannot reach ${url.origin}: ${error.message}`, { cause: error }),
      ),
    );
    req.end(body);
  });
  if (response.status !== 200) {
    const [token = '', ...rest] = response.body.toString('utf8').split('\n');
    throw new EnrollmentRefusedError(response.status, token.trim() || `http_${response.status}`, rest.join(' ').trim());
  }
  if (!response.type.startsWith('application/pkix-cert')) {
    throw new EnrollmentTransportError(`expected application/pkix-cert, got ${response.type || 'no content type'}`);
  }
  const certificate = new Uint8Array(response.body);
  const identity = options.policy.validate(certificate);
  const ours = new Uint8Array(options.keys.publicKey.export({ format: 'der', type: 'spki' }));
  if (!bytesEqual(identity.certificate.spki, ours)) {
    throw new CertificateRejectedError('bad-signature', 'the issued certificate does not carry our public key');
  }
  if (identity.userName !== options.username) {
    throw new CertificateRejectedError(
      'user-name',
      `the issued certificate names ${identity.userName}, not ${options.username}`,
    );
  }
  return { certificate, identity };
}
