/**
 * Issue 10, item 3: weak keys were certified and accepted. The overlay CA issued certificates for RSA-512,
 * RSA-1024 and RSA with e = 3, and an RSA-512 certificate was accepted on a TLS link. Now the CA refuses
 * such CSRs (and SHA-1 or MD5 CSR signatures), and the trust policy refuses such certificates (and
 * certificates signed with SHA-1) on every path: TLS and DTLS links, message signatures, stored data.
 * Weak keys and certificates are made here with node:crypto, OpenSSL and @peculiar/x509, as an attacker would.
 */
import { execFileSync } from 'node:child_process';
import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  sign as cryptoSign,
  type KeyObject,
  type RSAKeyPairOptions,
  webcrypto,
} from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src-main/reload/clock';
import { ConfigurationSignatureError, signText, verifyText } from '../../src-main/reload/config';
import {
  createSigner,
  signStoredData,
  UnsupportedAlgorithmError,
  verifySignature,
  type Signer,
} from '../../src-main/reload/crypto';
import {
  createCertificateAuthority,
  generateIdentityKeys,
  issueCertificate,
  readCertificate,
  readCsr,
  TrustPolicy,
  WeakCertificateError,
  WeakCsrError,
  type ValidatedIdentity,
} from '../../src-main/reload/identity';
import { x509 } from '../../src-main/reload/identity/x509';
import { PeerRejectedError, type Link, type LinkEndpoint } from '../../src-main/reload/link/link';
import { MemoryNetwork } from '../../src-main/reload/link/memory/memory-network';
import { TlsEndpoint } from '../../src-main/reload/link/tls/tls-endpoint';
import { certificateSigners, StorageService, UnknownSignerError } from '../../src-main/reload/storage';
import { StaticTopology } from '../../src-main/reload/transport';
import { bytesEqual, CertificateType, HashAlgorithm, nodeIdUri, SignatureAlgorithm } from '../../src-main/reload/wire';
import { resourceIdFor } from '../../src-main/reload/crypto';
import { dtlsEndpoint, until } from '../support/dtls-peers';
import { memoryLogger } from '../support/fixtures';
import { makeNodes, TEST_OVERLAY, type TestNode, type TestNodes } from '../support/node-identities';
import { testTransport } from '../support/test-transport';

type Field = WeakCertificateError['field'];

/** Keys an attacker might bring, and the field the refusal must name. */
const WEAK_KEYS: { name: string; field: Field; make: () => KeyObject }[] = [
  { name: 'RSA-512', field: 'rsa-modulus-bits', make: () => rsa({ modulusLength: 512 }) },
  { name: 'RSA-1024', field: 'rsa-modulus-bits', make: () => rsa({ modulusLength: 1024 }) },
  {
    name: 'RSA-2048 with e = 3',
    field: 'rsa-public-exponent',
    make: () => rsa({ modulusLength: 2048, publicExponent: 3 }),
  },
  { name: 'ECDSA P-192', field: 'ec-curve', make: () => ec('prime192v1') },
  { name: 'ECDSA secp256k1', field: 'ec-curve', make: () => ec('secp256k1') },
  { name: 'ECDSA P-384 (not a RELOAD curve here)', field: 'ec-curve', make: () => ec('secp384r1') },
  { name: 'Ed25519', field: 'key-type', make: () => generateKeyPairSync('ed25519').privateKey },
];

function rsa(options: Omit<RSAKeyPairOptions<'pem', 'pem'>, 'publicKeyEncoding' | 'privateKeyEncoding'>): KeyObject {
  return generateKeyPairSync('rsa', options).privateKey;
}
function ec(namedCurve: string): KeyObject {
  return generateKeyPairSync('ec', { namedCurve }).privateKey;
}

const spkiOf = (key: KeyObject) => new Uint8Array(createPublicKey(key).export({ format: 'der', type: 'spki' }));

let dir: string;
let rsaIds: TestNodes; // an overlay whose CA has an RSA-2048 key (it can sign with SHA-1 for the attack)
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weak-keys-'));
  rsaIds = await makeNodes(2, 'rsa');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
/** A CSR made by OpenSSL for `key`, asking for `user`, signed with `digest` (none for Ed25519). */
function opensslCsr(key: KeyObject, digest: string | undefined, user = `weak@${TEST_OVERLAY}`): Uint8Array {
  const base = join(dir, `csr${++counter}`);
  writeFileSync(`${base}.key`, key.export({ format: 'pem', type: 'pkcs8' }));
  execFileSync('openssl', [
    'req',
    '-new',
    '-key',
    `${base}.key`,
    '-subj',
    '/CN=weak',
    '-addext',
    `subjectAltName=email:${user}`,
    ...(digest ? [`-${digest}`] : []),
    '-outform',
    'DER',
    '-out',
    `${base}.der`,
  ]);
  return new Uint8Array(readFileSync(`${base}.der`));
}

/** A certificate for `publicKey` issued by the overlay's CA, signed with `hash` (as a careless CA would). */
async function issuedByOverlayCa(
  ids: TestNodes,
  publicKey: KeyObject,
  nodeId: Uint8Array,
  hash: 'SHA-1' | 'SHA-256' = 'SHA-256',
): Promise<Uint8Array> {
  const caCert = new x509.X509Certificate(ids.ca.certificate);
  const now = Date.now();
  const algorithm =
    ids.ca.keys.algorithm === 'rsa'
      ? { name: 'RSASSA-PKCS1-v1_5', hash }
      : { name: 'ECDSA', namedCurve: 'P-256', hash };
  // WebCrypto signs with the hash the key was imported for: import the CA's key again for `hash`.
  const signingKey = await webcrypto.subtle.importKey(
    'pkcs8',
    ids.ca.keys.privateKey.export({ format: 'der', type: 'pkcs8' }),
    algorithm,
    false,
    ['sign'],
  );
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: (++counter).toString(16).padStart(4, '0'),
    subject: '',
    issuer: caCert.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 86_400_000),
    signingAlgorithm: algorithm,
    publicKey: new x509.PublicKey(spkiOf(publicKey)),
    signingKey,
    extensions: [
      new x509.SubjectAlternativeNameExtension(
        [
          { type: 'url', value: nodeIdUri(nodeId, TEST_OVERLAY, nodeId.length) },
          { type: 'email', value: `weak${counter}@${TEST_OVERLAY}` },
        ],
        true,
      ),
    ],
  });
  return new Uint8Array(cert.rawData);
}

const weakNodeId = (seed: number) => Uint8Array.from({ length: 16 }, (_, i) => (0x90 + seed * 13 + i) & 0xff);

describe('the CA refuses weak CSRs', () => {
  it.each(WEAK_KEYS)('$name: refused, naming $field', async ({ make, field }) => {
    const key = make();
    const csr = opensslCsr(key, key.asymmetricKeyType === 'ed25519' ? undefined : 'sha256');
    const refusal = await readCsr(csr).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(WeakCsrError);
    expect(refusal).toMatchObject({ reason: 'weak', field });
  });

  it.each([
    ['SHA-1', 'sha1'],
    ['MD5', 'md5'],
  ])('an RSA-2048 CSR signed with %s is refused, naming signature-algorithm', async (_name, digest) => {
    const refusal = await readCsr(opensslCsr(rsa({ modulusLength: 2048 }), digest)).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(WeakCsrError);
    expect(refusal).toMatchObject({ field: 'signature-algorithm' });
    expect((refusal as Error).message).toMatch(/sha1WithRSAEncryption|md5WithRSAEncryption/);
  });

  it('a P-256 CSR signed with ECDSA-SHA1 is refused', async () => {
    await expect(readCsr(opensslCsr(ec('prime256v1'), 'sha1'))).rejects.toMatchObject({
      field: 'signature-algorithm',
    });
  });

  it('RSA-2048 (e = 65537), RSA-3072 and P-256 CSRs with SHA-256 are accepted', async () => {
    expect((await readCsr(opensslCsr(rsa({ modulusLength: 2048 }), 'sha256'))).algorithm).toBe('rsa');
    expect((await readCsr(opensslCsr(rsa({ modulusLength: 3072 }), 'sha384'))).algorithm).toBe('rsa');
    expect((await readCsr(opensslCsr(ec('prime256v1'), 'sha256'))).algorithm).toBe('ecdsa');
  });

  it('issueCertificate itself refuses to certify a weak key, whoever asks', async () => {
    await expect(
      issueCertificate({
        ca: rsaIds.ca,
        publicKey: new x509.PublicKey(spkiOf(rsa({ modulusLength: 1024 }))),
        userName: `weak@${TEST_OVERLAY}`,
        nodeIds: [weakNodeId(0)],
        overlay: TEST_OVERLAY,
        validDays: 1,
      }),
    ).rejects.toMatchObject({ name: 'WeakCsrError', field: 'rsa-modulus-bits' });
  });
});

describe('the trust policy refuses weak certificates', () => {
  it.each(WEAK_KEYS)('$name certificate issued by the overlay CA: refused, naming $field', async ({ make, field }) => {
    const der = await issuedByOverlayCa(rsaIds, make(), weakNodeId(1));
    const refusal = (() => {
      try {
        return rsaIds.policy.validate(der);
      } catch (error) {
        return error;
      }
    })();
    expect(refusal).toBeInstanceOf(WeakCertificateError);
    expect(refusal).toMatchObject({ reason: 'weak', field });
  });

  it('a strong key certified with sha1WithRSAEncryption is refused, naming signature-algorithm', async () => {
    const der = await issuedByOverlayCa(rsaIds, ec('prime256v1'), weakNodeId(2), 'SHA-1');
    expect(() => rsaIds.policy.validate(der)).toThrow(
      expect.objectContaining({ name: 'WeakCertificateError', field: 'signature-algorithm' }),
    );
    const fine = await issuedByOverlayCa(rsaIds, ec('prime256v1'), weakNodeId(2), 'SHA-256');
    expect(rsaIds.policy.validate(fine).nodeIds).toEqual([weakNodeId(2)]);
  });

  it('a root-cert with an RSA-1024 key is refused as a trust anchor', async () => {
    const keys = await generateIdentityKeys('rsa');
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const pair = {
      privateKey: await webcrypto.subtle.importKey(
        'pkcs8',
        weak.privateKey.export({ format: 'der', type: 'pkcs8' }),
        { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
        true,
        ['sign'],
      ),
      publicKey: await webcrypto.subtle.importKey(
        'spki',
        weak.publicKey.export({ format: 'der', type: 'spki' }),
        { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
        true,
        ['verify'],
      ),
    };
    const ca = await createCertificateAuthority(
      { ...keys, webcrypto: pair, privateKey: weak.privateKey, publicKey: weak.publicKey },
      TEST_OVERLAY,
      1,
    ).catch(() => undefined);
    // Our own CA code refuses to make one; an attacker's configuration may still carry one.
    expect(ca).toBeUndefined();
    const root = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=weak root',
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
      signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      keys: pair,
      extensions: [new x509.BasicConstraintsExtension(true, 0, true)],
    });
    expect(
      () =>
        new TrustPolicy({
          overlay: TEST_OVERLAY,
          nodeIdLength: 16,
          rootCerts: [new Uint8Array(root.rawData)],
          badNodes: [],
        }),
    ).toThrow(expect.objectContaining({ name: 'WeakCertificateError', field: 'rsa-modulus-bits' }));
  });
});

/** An RSA-1024 node certified by the overlay's CA (RSA-512 cannot even load into Node's TLS stack). */
async function weakNode(ids: TestNodes, seed: number): Promise<TestNode> {
  const privateKey = rsa({ modulusLength: 1024 });
  const nodeId = weakNodeId(seed);
  const certificate = await issuedByOverlayCa(ids, privateKey, nodeId);
  // What a node that still accepted it would have made of it: the attacker's own view of itself.
  const info = readCertificate(certificate, TEST_OVERLAY, 16);
  const identity: ValidatedIdentity = {
    certificate: info,
    nodeIds: info.nodeIds,
    userName: info.userNames[0]!,
    selfSigned: false,
  };
  return { nodeId, privateKey, certificate, identity };
}

type Listen = (node: TestNode, policy: TrustPolicy) => Promise<LinkEndpoint & { address: unknown }>;

const links: [string, Listen][] = [
  [
    'TLS',
    (node, policy) =>
      TlsEndpoint.listen({
        privateKey: node.privateKey,
        certificates: [node.certificate],
        policy,
        maxMessageSize: 5000,
      }),
  ],
  ['DTLS', (node, policy) => dtlsEndpoint(node, policy)],
];

describe.each(links)('%s link with an RSA-1024 peer certified by the overlay CA', (_name, listen) => {
  it('our client refuses the weak server', async () => {
    const weak = await weakNode(rsaIds, 3);
    const ours = await listen(rsaIds.nodes[0]!, rsaIds.policy);
    const rogue = await listen(weak, rsaIds.policy);
    try {
      await expect(ours.connect(rogue.address)).rejects.toThrow(PeerRejectedError);
      await expect(ours.connect(rogue.address)).rejects.toThrow(/rsa-modulus-bits|1024/);
    } finally {
      await ours.close();
      await rogue.close();
    }
  });

  it('our server never hands out a link to the weak client', async () => {
    const weak = await weakNode(rsaIds, 4);
    const ours = await listen(rsaIds.nodes[1]!, rsaIds.policy);
    let accepted = 0;
    ours.onLink(() => accepted++);
    const rogue = await listen(weak, rsaIds.policy);
    try {
      const link = await rogue.connect(ours.address).catch(() => undefined);
      if (link) await until(() => link.closed, 'the refused link to close', 5_000);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(accepted).toBe(0);
    } finally {
      await ours.close();
      await rogue.close();
    }
  });
});

/** What an attacker's code signs with: no strength check of its own. */
function rawSigner(node: TestNode): Signer {
  return {
    algorithm: { hash: HashAlgorithm.sha256, signature: SignatureAlgorithm.rsa },
    identity: {
      type: 'cert_hash',
      hashAlg: HashAlgorithm.sha256,
      hash: new Uint8Array(createHash('sha256').update(node.certificate).digest()),
    },
    certificates: [{ type: CertificateType.X509, certificate: node.certificate }],
    sign: (input) => new Uint8Array(cryptoSign('sha256', input, node.privateKey)),
  };
}

describe('signatures by an RSA-1024 key certified by the overlay CA', () => {
  it('a message it signs is dropped at its destination', async () => {
    const weak = await weakNode(rsaIds, 5);
    const strong = rsaIds.nodes[0]!;
    const clock = new VirtualClock();
    const net = new MemoryNetwork(clock, { latencyMs: 5, jitterMs: 0, loss: 0, bandwidth: 0 }, 7, 5000);
    const transport = (node: TestNode, signer: Signer, peer: TestNode) =>
      testTransport(node, rsaIds.policy, {
        overlay: 0x1234,
        reliabilityTimerMs: 3000,
        signer,
        topology: new StaticTopology(
          (id) => bytesEqual(id, node.nodeId),
          () => peer.nodeId,
        ),
        clock,
        log: memoryLogger().log,
      });
    const receiver = transport(
      strong,
      createSigner({ privateKey: strong.privateKey, certificate: strong.certificate }),
      weak,
    );
    const sender = transport(weak, rawSigner(weak), strong);
    let served = 0;
    receiver.handle(() => {
      served++;
      return { method: 'ping_ans', value: { responseId: 1n, time: 0n } };
    });
    const receiving = net.endpoint('strong', strong.identity);
    receiving.onLink((l) => receiver.addLink(l));
    const link: Link = await net.endpoint('weak', weak.identity).connect('strong');
    sender.addLink(link);
    const answer = sender
      .request([{ type: 'node', id: strong.nodeId }], { method: 'ping_req', value: { padding: new Uint8Array(0) } })
      .then(
        () => 'answered',
        () => 'failed',
      );
    let outcome: string | undefined;
    void answer.then((o) => (outcome = o));
    for (let t = 0; t < 60_000 && outcome === undefined; t += 10) {
      clock.advance(10);
      await Promise.resolve();
    }
    expect(outcome).toBe('failed');
    expect(served).toBe(0);
    expect(receiver.counters.dropped.signature).toBeGreaterThan(0);
  });

  it('a configuration it signs as a listed configuration-signer is refused', async () => {
    const weak = await weakNode(rsaIds, 7);
    const text = '<configuration instance-name="links.example.org" sequence="2"></configuration>';
    const signature = signText(text, rawSigner(weak));
    expect(() => verifyText(text, signature, rsaIds.policy, [weak.nodeId], 'configuration')).toThrow(
      ConfigurationSignatureError,
    );
    expect(() => verifyText(text, signature, rsaIds.policy, [weak.nodeId], 'configuration')).toThrow(/1024 bits/);
  });

  it('the signature code refuses a weak key even when handed one directly, and never signs with one', () => {
    const key = rsa({ modulusLength: 1024 });
    const input = new TextEncoder().encode('signed bytes');
    const signature = {
      algorithm: { hash: HashAlgorithm.sha256, signature: SignatureAlgorithm.rsa },
      identity: { type: 'cert_hash' as const, hashAlg: HashAlgorithm.sha256, hash: new Uint8Array(32) },
      value: new Uint8Array(cryptoSign('sha256', input, key)),
    };
    expect(verifySignature(signature, input, createPublicKey(key))).toBe(false);
    expect(() => createSigner({ privateKey: key, certificate: rsaIds.nodes[0]!.certificate })).toThrow(
      UnsupportedAlgorithmError,
    );
  });

  it('a value it signs is refused by the storing peer', async () => {
    const weak = await weakNode(rsaIds, 6);
    const strong = rsaIds.nodes[1]!;
    const NOTE = 0xf0000010;
    const svc = new StorageService({
      kinds: [{ id: NOTE, dataModel: 'SINGLE', accessControl: 'USER-MATCH', maxCount: 1, maxSize: 64 }],
      overlay: TEST_OVERLAY,
    });
    const resource = resourceIdFor(weak.identity.userName);
    const now = Date.now();
    const value = signStoredData(
      resource,
      NOTE,
      {
        storageTime: BigInt(now),
        lifetime: 60,
        value: { model: 'single', value: { exists: true, value: new TextEncoder().encode('forged') } },
      },
      rawSigner(weak),
    );
    const signers = certificateSigners([weak.certificate, strong.certificate], rsaIds.policy, now);
    expect(() =>
      svc.store(
        { resource, replicaNumber: 0, kindData: [{ kind: NOTE, generationCounter: 0n, values: [value] }] },
        // As if its StoreReq had got through: the values' own signatures are checked again.
        { requester: { identity: weak.identity, nodeId: weak.nodeId }, signers },
        now,
      ),
    ).toThrow(UnknownSignerError);
    expect(svc.fetch({ resource, specifiers: [] }, now).answer.kindResponses).toEqual([]);
  });
});
