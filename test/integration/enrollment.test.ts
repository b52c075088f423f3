/**
 * Overlay creation, configuration retrieval and enrollment end to end over real HTTPS on loopback: the
 * operator's `overlay init` folder, `overlay serve`, and the client's fetch + enroll.
 */
import { execFileSync } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountStore } from '../../src-main/host/enrollment/account-store';
import { LoginRateLimiter } from '../../src-main/host/enrollment/rate-limiter';
import { runOverlayCli } from '../../src-main/host/overlay-cli';
import { OverlayDir } from '../../src-main/host/overlay/overlay-dir';
import { startOverlayServer, type RunningOverlayServer } from '../../src-main/host/overlay/overlay-server';
import {
  acceptConfigurationDocument,
  createCsr,
  enroll,
  EnrollmentRefusedError,
  fetchConfiguration,
  generateIdentityKeys,
  multipartBody,
  toHex,
  trustPolicyOf,
  type OverlayConfiguration,
} from '../../src-main/reload';
import { memoryLogger, tempDir } from '../support/fixtures';

const OVERLAY = 'overlay.example.org';
let dir: Awaited<ReturnType<typeof tempDir>>;
let overlay: OverlayDir;
let server: RunningOverlayServer;
let caPem: string;
let config: OverlayConfiguration;
const lines = memoryLogger();

beforeAll(async () => {
  dir = await tempDir('overlay-');
  const out: string[] = [];
  await runOverlayCli(['init', OVERLAY, '--dir', dir.path, '--port', '0'], (l) => out.push(l));
  expect(out[0]).toContain(`created overlay ${OVERLAY}`);
  overlay = await OverlayDir.open(dir.path);
  const accounts = new AccountStore(overlay.path('accounts'));
  await accounts.addUser(`alice@${OVERLAY}`, 'correct horse battery');
  await accounts.addUser(`bob@${OVERLAY}`, 'another long password');
  accounts.close();
  server = await startOverlayServer(overlay, lines.log, {
    port: 0,
    limiter: new LoginRateLimiter({ pairFreeAttempts: 3, pairBaseDelayMs: 60_000, maxPerAddress: 50 }),
  });
  caPem = await readFile(overlay.path('caCert'), 'utf8');
  config = await fetchConfiguration({
    overlayName: OVERLAY,
    url: `${server.url}/.well-known/reload-config`,
    tlsCa: [caPem],
  });
}, 60_000);

afterAll(async () => {
  await server?.close();
  await dir?.remove();
});

function post(body: Buffer, contentType: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${server.url}/enroll`,
      { method: 'POST', ca: [caPem], headers: { 'content-type': contentType, 'content-length': body.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function snapshot(): unknown {
  const accounts = new AccountStore(overlay.path('accounts'));
  try {
    return accounts.snapshot();
  } finally {
    accounts.close();
  }
}

describe('overlay init + serve', () => {
  it('serves a configuration that validates: signed, with the CA, the enrollment server and the SIP kind', () => {
    expect(config.instanceName).toBe(OVERLAY);
    expect(config.rootCerts).toHaveLength(1);
    expect(config.enrollmentServers[0]).toMatch(/^https:\/\/overlay\.example\.org:\d+\/enroll$/);
    expect(config.kinds.map((k) => k.name)).toEqual([
      'SIP-REGISTRATION',
      'CERTIFICATE_BY_NODE',
      'CERTIFICATE_BY_USER',
      'TURN-SERVICE',
    ]);
    expect(config.topologyPlugin).toBe('CHORD-RELOAD');
  });

  it('is found through DNS SRV at the well-known URL, the certificate checked against the overlay name', async () => {
    const viaSrv = await fetchConfiguration({
      overlayName: OVERLAY,
      tlsCa: [caPem],
      resolveSrv: async (name) => {
        expect(name).toBe(`_reload-config._tcp.${OVERLAY}`);
        return [{ name: '127.0.0.1', port: server.port, priority: 0, weight: 0 }];
      },
    });
    expect(viaSrv.xml).toBe(config.xml);
    // Without the overlay CA the server certificate is not trusted.
    await expect(
      fetchConfiguration({ overlayName: OVERLAY, url: `${server.url}/.well-known/reload-config` }),
    ).rejects.toThrow(/cannot fetch/);
  });
});

describe.each(['ecdsa', 'rsa'] as const)('enrollment with %s keys', (algorithm) => {
  it('issues a certificate that chains to the root, with Node-ID URIs and the user name', async () => {
    const keys = await generateIdentityKeys(algorithm);
    const { certificate, identity } = await enroll({
      url: `${server.url}/enroll`,
      username: `alice@${OVERLAY}`,
      password: 'correct horse battery',
      keys,
      policy: trustPolicyOf(config),
      tlsCa: [caPem],
    });
    expect(identity.userName).toBe(`alice@${OVERLAY}`);
    expect(identity.nodeIds).toHaveLength(1);
    const file = join(dir.path, `issued-${algorithm}.der`);
    await writeFile(file, certificate);
    const text = execFileSync('openssl', ['x509', '-inform', 'der', '-in', file, '-noout', '-text']).toString();
    expect(text).toContain(`URI:reload://0110${toHex(identity.nodeIds[0]!)}@${OVERLAY}/`);
    expect(text).toContain(`email:alice@${OVERLAY}`);
    const pemFile = file.replace('.der', '.pem');
    execFileSync('openssl', ['x509', '-inform', 'der', '-in', file, '-out', pemFile]);
    expect(execFileSync('openssl', ['verify', '-CAfile', overlay.path('caCert'), pemFile]).toString()).toContain(
      ': OK',
    );
  });
});

describe('enrollment records and refusals', () => {
  it('a returning user keeps the Node-IDs; issued certificates are recorded', async () => {
    const policy = trustPolicyOf(config);
    const first = await enroll({
      url: `${server.url}/enroll`,
      username: `bob@${OVERLAY}`,
      password: 'another long password',
      keys: await generateIdentityKeys('ecdsa'),
      policy,
      tlsCa: [caPem],
      nodeIds: 2,
    });
    const again = await enroll({
      url: `${server.url}/enroll`,
      username: `bob@${OVERLAY}`,
      password: 'another long password',
      keys: await generateIdentityKeys('ecdsa'),
      policy,
      tlsCa: [caPem],
    });
    expect(first.identity.nodeIds).toHaveLength(2);
    expect(again.identity.nodeIds[0]).toEqual(first.identity.nodeIds[0]);
    const accounts = new AccountStore(overlay.path('accounts'));
    const issued = accounts.listIssued().filter((r) => r.username === `bob@${OVERLAY}`);
    accounts.close();
    expect(issued).toHaveLength(2);
    expect(issued[0]?.nodeIds).toEqual(first.identity.nodeIds.map(toHex));
  });

  it('each bad input gets its own answer and changes nothing', async () => {
    const keys = await generateIdentityKeys('ecdsa');
    const csr = await createCsr(keys, `alice@${OVERLAY}`);
    const before = snapshot();
    const send = (fields: Record<string, string>, csrBytes: Uint8Array) => {
      const { body, contentType } = multipartBody(fields, csrBytes);
      return post(body, contentType);
    };
    const alice = { username: `alice@${OVERLAY}`, password: 'correct horse battery' };

    const badCsr = await send(alice, Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01));
    expect([badCsr.status, badCsr.text.split('\n')[0]]).toEqual([403, 'bad_CSR']);
    expect(badCsr.text).toMatch(/not a PKCS#10 request/);

    const forged = csr.slice();
    forged[forged.length - 3] = (forged[forged.length - 3] as number) ^ 0xff;
    const forgedAnswer = await send(alice, forged);
    expect([forgedAnswer.status, forgedAnswer.text.split('\n')[0]]).toEqual([403, 'bad_CSR']);

    const otherName = await send(alice, await createCsr(keys, `mallory@${OVERLAY}`));
    expect([otherName.status, otherName.text.split('\n')[0]]).toEqual([403, 'username_not_available']);

    const tooMany = await send({ ...alice, nodeids: '99' }, csr);
    expect([tooMany.status, tooMany.text.split('\n')[0]]).toEqual([403, 'Node-IDs_not_available']);

    const huge = await post(Buffer.alloc(100 * 1024, 0x41), 'multipart/form-data; boundary=x');
    expect([huge.status, huge.text.split('\n')[0]]).toEqual([413, 'request_too_large']);

    const notMultipart = await post(Buffer.from('username=a'), 'application/x-www-form-urlencoded');
    expect(notMultipart.status).toBe(400);

    const wrong = await send({ ...alice, password: 'wrong password!' }, csr);
    const unknown = await send({ username: `nobody@${OVERLAY}`, password: 'whatever password' }, csr);
    expect([wrong.status, wrong.text.split('\n')[0]]).toEqual([403, 'failed_authentication']);
    expect(unknown.text).toBe(wrong.text); // no user enumeration
    expect(snapshot()).toEqual(before);
    // The server's log tells the two apart for the operator.
    expect(lines.lines.some((l) => l.reason === 'wrong-password')).toBe(true);
    expect(lines.lines.some((l) => l.reason === 'unknown-user')).toBe(true);
  });

  it('rate-limits failed logins per user and address, then refuses even the right password from there for a while', async () => {
    const keys = await generateIdentityKeys('ecdsa');
    const policy = trustPolicyOf(config);
    const attempt = (password: string) =>
      enroll({ url: `${server.url}/enroll`, username: `bob@${OVERLAY}`, password, keys, policy, tlsCa: [caPem] });
    for (let i = 0; i < 3; i++)
      await expect(attempt('not the password')).rejects.toMatchObject({ token: 'failed_authentication' });
    await expect(attempt('another long password')).rejects.toMatchObject({ status: 429, token: 'rate_limited' });
    await expect(attempt('x')).rejects.toBeInstanceOf(EnrollmentRefusedError);
  });
});

describe('overlay CLI', () => {
  it('init --self-signed --rsa: a configuration that permits self-signed identities, signed by a self-signed signer', async () => {
    const selfDir = await tempDir('overlay-self-');
    await runOverlayCli(['init', 'lan.example', '--self-signed', '--rsa', '--dir', selfDir.path], () => undefined);
    const opened = await OverlayDir.open(selfDir.path);
    const accepted = acceptConfigurationDocument(await readFile(opened.path('config'), 'utf8'), {
      overlayName: 'lan.example',
    });
    expect(accepted).toMatchObject({
      selfSignedPermitted: true,
      selfSignedDigest: 'sha256',
      rootCerts: [],
      enrollmentServers: [],
    });
    expect(opened.ca.keys.algorithm).toBe('rsa');
    await selfDir.remove();
  });

  it('manages users and refuses bad input clearly', async () => {
    const out: string[] = [];
    const cli = (...args: string[]) => runOverlayCli([...args, '--dir', dir.path], (l) => out.push(l));
    await cli('list-users');
    expect(out.join('\n')).toContain(`alice@${OVERLAY}`);
    await expect(cli('add-user', 'carol@' + OVERLAY)).rejects.toThrow(/--password-stdin/);
    await expect(cli('remove-user', `nobody@${OVERLAY}`)).rejects.toThrow(/does not exist/);
    await expect(cli('frobnicate')).rejects.toThrow(/unknown command/);
    await expect(runOverlayCli(['init', OVERLAY, '--dir', dir.path])).rejects.toThrow(/already holds an overlay/);
    await cli('remove-user', `bob@${OVERLAY}`);
    const accounts = new AccountStore(overlay.path('accounts'));
    expect(accounts.hasUser(`bob@${OVERLAY}`)).toBe(false);
    await expect(accounts.addUser('not-an-email', 'long enough password')).rejects.toThrow(/username/);
    await expect(accounts.addUser(`dave@${OVERLAY}`, 'short')).rejects.toThrow(/password: must be 8/);
    accounts.close();
    await rm(join(dir.path, 'nothing'), { force: true });
  });
});
