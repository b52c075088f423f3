/**
 * The enrollment protocol of RFC 6940 §11.3 over HTTPS: a multipart/form-data POST with username,
 * password, optional nodeids and a PKCS#10 `csr` part (application/pkcs10); the answer is one DER
 * certificate (application/pkix-cert), or 403 with a text/plain token (failed_authentication,
 * username_not_available — also for a name the user-name rule refuses —, Node-IDs_not_available, bad_CSR), or
 * 429 rate_limited with Retry-After (rate-limiter.ts). Every refusal is decided before anything is written;
 * the second line of an error body explains it to a person.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import busboy from 'busboy';
import type { Logger } from '../../common/logger';
import {
  checkUserName,
  CsrRejectedError,
  issueCertificate,
  readCsr,
  toHex,
  UserNameError,
  type CertificateAuthority,
} from '../../reload';
import type { AccountStore } from './account-store';
import { clientAddressKey } from './client-address';
import type { LoginRateLimiter } from './rate-limiter';

export const MAX_ENROLLMENT_BODY = 64 * 1024;
export const MAX_NODE_IDS = 8;

export interface EnrollmentSettings {
  overlay: string;
  ca: CertificateAuthority;
  accounts: AccountStore;
  limiter: LoginRateLimiter;
  validDays: number;
  nodeIdLength: number;
  log: Logger;
}

/** Waits out the login throttle's slow-down for a user (bounded: rate-limiter.ts). */
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Form {
  fields: Map<string, string>;
  csr?: Buffer;
  csrType?: string;
}

class BodyTooLargeError extends Error {}
class MalformedFormError extends Error {}

function readForm(req: IncomingMessage): Promise<Form> {
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({
        headers: req.headers,
        limits: { fields: 8, files: 1, fileSize: MAX_ENROLLMENT_BODY, fieldSize: 4096, parts: 10 },
      });
    } catch (error) {
      reject(new MalformedFormError((error as Error).message));
      return;
    }
    const form: Form = { fields: new Map() };
    let total = 0;
    req.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > MAX_ENROLLMENT_BODY) {
        req.unpipe(bb);
        req.resume();
        reject(new BodyTooLargeError());
      }
    });
    bb.on('field', (name, value, info) => {
      if (info.valueTruncated) reject(new BodyTooLargeError());
      if (name === 'csr') {
        form.csr = Buffer.from(value, 'binary');
        form.csrType = info.mimeType;
      } else form.fields.set(name, value);
    });
    bb.on('file', (name, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('limit', () => reject(new BodyTooLargeError()));
      stream.on('end', () => {
        if (name === 'csr') {
          form.csr = Buffer.concat(chunks);
          form.csrType = info.mimeType;
        }
      });
    });
    bb.on('partsLimit', () => reject(new MalformedFormError('too many parts')));
    bb.on('error', (error) => reject(new MalformedFormError((error as Error).message)));
    bb.on('close', () => resolve(form));
    req.pipe(bb);
  });
}

function answer(
  res: ServerResponse,
  status: number,
  token: string,
  explanation: string,
  headers: Record<string, string> = {},
): void {
  const body = `${token}\n${explanation}\n`;
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(body);
}

/** Handles POST requests to the enrollment URL. */
export function createEnrollmentHandler(settings: EnrollmentSettings) {
  const { accounts, limiter, log } = settings;
  return async function enroll(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const address = req.socket.remoteAddress ?? 'unknown';
    const refuse = (
      status: number,
      token: string,
      explanation: string,
      reason: string,
      extra: Record<string, unknown> = {},
      headers: Record<string, string> = {},
    ) => {
      log.warn('enrollment refused', { reason, address, ...extra });
      answer(res, status, token, explanation, headers);
    };
    if (req.method !== 'POST') return refuse(405, 'method_not_allowed', 'enrollment takes a POST', 'method');
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_ENROLLMENT_BODY) {
      req.resume();
      return refuse(413, 'request_too_large', `the request exceeds ${MAX_ENROLLMENT_BODY} bytes`, 'too-large', {
        bytes: declared,
      });
    }
    const accept = req.headers.accept;
    if (accept && !/application\/pkix-cert|\*\/\*|application\/\*/.test(accept)) {
      return refuse(406, 'not_acceptable', 'the answer is application/pkix-cert', 'accept');
    }
    if (!/^multipart\/form-data\s*;/i.test(req.headers['content-type'] ?? '')) {
      req.resume();
      return refuse(400, 'bad_request', 'the request must be multipart/form-data', 'content-type');
    }
    let form: Form;
    try {
      form = await readForm(req);
    } catch (error) {
      if (error instanceof BodyTooLargeError)
        return refuse(413, 'request_too_large', `the request exceeds ${MAX_ENROLLMENT_BODY} bytes`, 'too-large');
      return refuse(
        400,
        'bad_request',
        `not a multipart/form-data enrollment request: ${(error as Error).message}`,
        'malformed',
      );
    }
    const username = form.fields.get('username') ?? '';
    const password = form.fields.get('password') ?? '';
    try {
      checkUserName(username, { domain: settings.overlay });
    } catch (error) {
      if (!(error instanceof UserNameError)) throw error;
      // The rule is public, so saying which names it refuses reveals nothing about the accounts.
      return refuse(403, 'username_not_available', error.detail, 'user-name-rule');
    }
    // Counted before the check, in one step: concurrent guesses cannot all pass the limit (rate-limiter.ts).
    const admission = limiter.begin(username, clientAddressKey(address));
    if (admission.refused) {
      const seconds = Math.max(1, Math.ceil(admission.retryAfterMs / 1000));
      return refuse(
        429,
        'rate_limited',
        `too many attempts; try again in ${seconds} s`,
        `rate-limited-${admission.refused}`,
        { username, retryAfter: seconds },
        { 'retry-after': String(seconds) },
      );
    }
    let verdict: Awaited<ReturnType<AccountStore['verify']>>;
    try {
      if (admission.delayMs > 0) await sleep(admission.delayMs);
      // A client that gave up during the slow-down costs no password check.
      if (req.socket.destroyed) {
        admission.failed();
        return;
      }
      verdict = await accounts.verify(username, password);
    } catch (error) {
      admission.failed();
      throw error;
    }
    if (verdict !== 'ok') {
      admission.failed();
      // The same answer for both, so the server does not reveal which user names exist.
      return refuse(403, 'failed_authentication', 'the user name or the password is wrong', verdict, { username });
    }
    admission.succeeded();

    const nodeIdsField = form.fields.get('nodeids');
    const count = nodeIdsField === undefined ? 1 : /^\d{1,3}$/.test(nodeIdsField) ? Number(nodeIdsField) : NaN;
    if (!Number.isInteger(count) || count < 1 || count > MAX_NODE_IDS) {
      return refuse(403, 'Node-IDs_not_available', `nodeids must be 1..${MAX_NODE_IDS}`, 'node-ids', {
        requested: nodeIdsField,
      });
    }
    if (!form.csr || form.csr.length === 0)
      return refuse(403, 'bad_CSR', 'the request has no csr part', 'no-csr', { username });
    if (form.csrType && form.csrType !== 'application/pkcs10' && form.csrType !== 'application/octet-stream') {
      return refuse(403, 'bad_CSR', `the csr part must be application/pkcs10, not ${form.csrType}`, 'csr-type', {
        username,
      });
    }
    let csr;
    try {
      csr = await readCsr(new Uint8Array(form.csr));
    } catch (error) {
      if (error instanceof CsrRejectedError)
        return refuse(403, 'bad_CSR', error.message, `csr-${error.reason}`, { username });
      throw error;
    }
    if (csr.userNames.some((name) => name !== username)) {
      return refuse(
        403,
        'username_not_available',
        `the CSR asks for ${csr.userNames.join(', ')}, but the account is ${username}`,
        'csr-user-name',
        { username },
      );
    }

    const { nodeIds, commit } = accounts.reserveNodeIds(username, count, () =>
      toHex(randomBytes(settings.nodeIdLength)),
    );
    const issued = await issueCertificate({
      ca: settings.ca,
      publicKey: csr.publicKey,
      userName: username,
      nodeIds: nodeIds.map((hex) => new Uint8Array(Buffer.from(hex, 'hex'))),
      overlay: settings.overlay,
      validDays: settings.validDays,
    });
    commit({ serial: issued.serial, notAfter: issued.notAfter.toISOString(), issuedAt: new Date().toISOString() });
    log.info('certificate issued', {
      username,
      serial: issued.serial,
      nodeIds,
      notAfter: issued.notAfter.toISOString(),
      address,
    });
    res.writeHead(200, {
      'content-type': 'application/pkix-cert',
      'content-length': issued.der.length,
      'cache-control': 'no-store',
    });
    res.end(issued.der);
  };
}
