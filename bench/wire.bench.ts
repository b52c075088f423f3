/**
 * Wire codec and signature costs (issue: RELOAD wire format). Encode+decode of a typical Store request and
 * of a Fetch answer with 10 values; sign/verify per message with RSA-2048 and ECDSA P-256; and the ratio
 * the issue sets as target: codec cost < 10% of ECDSA P-256 signing the same message.
 */
import { generateKeyPairSync } from 'node:crypto';
import {
  createSigner,
  messageSignatureInput,
  resourceIdFor,
  signMessage,
  signStoredData,
  verifySignature,
  encodeSignerIdentity,
} from '../src-main/reload/crypto';
import * as W from '../src-main/reload/wire';
import { encodeSipRegistration } from '../src-main/sip/sip-registration';
import { makeIdentity, nodeIdOf } from '../test/support/certs';
import { measure, type Measurement } from './lib/measure';

export interface WireBenchResult {
  storeRequestBytes: number;
  fetchAnswerBytes: number;
  measurements: Measurement[];
  codecToEcdsaSignRatio: number;
}

export async function runWireBench(log: (line: string) => void = console.log): Promise<WireBenchResult> {
  const ecdsa = await makeIdentity('ecdsa', [nodeIdOf(1)]);
  const rsa = await makeIdentity('rsa', [nodeIdOf(1)]);
  const ecSigner = createSigner({ privateKey: ecdsa.privateKey, certificate: ecdsa.certificate });
  const rsaSigner = createSigner({ privateKey: rsa.privateKey, certificate: rsa.certificate });
  const ctx = W.decodeContext();
  const me = nodeIdOf(1);
  const resource = resourceIdFor('alice@overlay.example.org');
  const registration = encodeSipRegistration(
    {
      type: 'route',
      contactPrefs: new TextEncoder().encode('(sip.schemes=SIP)'),
      destinations: [{ type: 'node', id: me }],
    },
    16,
  );
  const value = (i: number) =>
    signStoredData(
      resource,
      1,
      {
        storageTime: 1_795_000_000_000n + BigInt(i),
        lifetime: 3600,
        value: { model: 'dictionary', key: nodeIdOf(i + 1), value: { exists: true, value: registration } },
      },
      ecSigner,
    );
  const header = (): W.HeaderInput => ({
    overlay: 0x9aa32b8d,
    configurationSequence: 1,
    version: 0x0a,
    ttl: 100,
    transactionId: 0x0123456789abcdefn,
    maxResponseLength: 0,
    viaList: [{ type: 'node', id: nodeIdOf(7) }],
    destinationList: [{ type: 'resource', id: resource }],
    options: [],
  });
  // A typical Store: one SIP-REGISTRATION dictionary entry; the security block carries the signer's
  // certificate by hash only (certificates are fetched or cached), which puts it at about 600 bytes.
  const storeBody: W.Body = {
    method: 'store_req',
    value: { resource, replicaNumber: 0, kindData: [{ kind: 1, generationCounter: 0n, values: [value(0)] }] },
  };
  const fetchBody: W.Body = {
    method: 'fetch_ans',
    value: { kindResponses: [{ kind: 1, generation: 10n, values: Array.from({ length: 10 }, (_, i) => value(i)) }] },
  };
  const security = (s: typeof ecSigner): W.SecurityBlock => ({
    certificates: [{ type: 0, certificate: new Uint8Array(220).fill(0x30) }],
    signature: { algorithm: s.algorithm, identity: s.identity, value: new Uint8Array(72).fill(1) },
  });

  // Values exist before encoding starts (they are the message); only the encoding is timed.
  const fixedHeader = header();
  const fixedSecurity = security(ecSigner);
  // Encoding as an originator does it (signMessage without the signature): one pass, body written in place.
  const encodeFull = (body: W.Body) =>
    W.encodeMessage(
      { header: fixedHeader, contents: { body, extensions: [] }, security: fixedSecurity },
      { nodeIdLength: 16 },
    );
  const decodeFull = (bytes: Uint8Array) => {
    const m = W.decodeMessage(bytes, ctx);
    return W.decodeBody(m.contents.code, m.contents.body, ctx);
  };
  const storeBytes = encodeFull(storeBody);
  const fetchBytes = encodeFull(fetchBody);
  log(`Store request: ${storeBytes.length} bytes; Fetch answer with 10 values: ${fetchBytes.length} bytes`);

  const results: Measurement[] = [];
  const run = (name: string, fn: () => void) => {
    const m = measure(name, fn);
    results.push(m);
    log(
      `${name.padEnd(44)} ${(m.nsPerOp / 1000).toFixed(2).padStart(9)} µs/op ${Math.round(m.opsPerSec).toLocaleString('en').padStart(12)} ops/s`,
    );
    return m;
  };

  const storeEnc = run('Store request: encode', () => void encodeFull(storeBody));
  const storeDec = run('Store request: decode', () => void decodeFull(storeBytes));
  const storeBoth = run('Store request: encode + decode', () => void decodeFull(encodeFull(storeBody)));
  run('Fetch answer (10 values): encode + decode', () => void decodeFull(encodeFull(fetchBody)));
  run('Forwarding peer: header decode + rewrite', () => {
    const view = W.decodeHeader(storeBytes, ctx);
    W.replaceHeader(
      storeBytes,
      view,
      { ...view.header, ttl: view.header.ttl - 1, viaList: [...view.header.viaList, { type: 'node', id: me }] },
      { nodeIdLength: 16 },
    );
  });

  const storeMsg = W.decodeMessage(storeBytes, ctx);
  const input = messageSignatureInput(
    storeMsg.header.overlay,
    storeMsg.header.transactionId,
    storeMsg.signed.contents,
    encodeSignerIdentity(ecSigner.identity),
  );
  const ecSig: W.Signature = {
    algorithm: ecSigner.algorithm,
    identity: ecSigner.identity,
    value: ecSigner.sign(input),
  };
  const rsaSig: W.Signature = {
    algorithm: rsaSigner.algorithm,
    identity: rsaSigner.identity,
    value: rsaSigner.sign(input),
  };
  const ecSign = run('ECDSA P-256: sign (Store request)', () => void ecSigner.sign(input));
  run('ECDSA P-256: verify (Store request)', () => void verifySignature(ecSig, input, ecdsa.publicKey));
  run('RSA-2048: sign (Store request)', () => void rsaSigner.sign(input));
  run('RSA-2048: verify (Store request)', () => void verifySignature(rsaSig, input, rsa.publicKey));
  run('signMessage (encode + ECDSA sign), Store', () => {
    signMessage(fixedHeader, { body: storeBody, extensions: [] }, ecSigner, { nodeIdLength: 16 });
  });
  // Reference point: Node's own cost of one ECDSA signature over 600 bytes with a raw key.
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const raw = createSigner({ privateKey, certificate: ecdsa.certificate });
  run('ECDSA P-256: sign 600 raw bytes', () => void raw.sign(storeBytes));

  const ratio = storeBoth.nsPerOp / ecSign.nsPerOp;
  log(
    `codec (encode+decode ${(storeBoth.nsPerOp / 1000).toFixed(2)} µs = enc ${(storeEnc.nsPerOp / 1000).toFixed(2)} + dec ${(storeDec.nsPerOp / 1000).toFixed(2)}) / ECDSA sign ${(ecSign.nsPerOp / 1000).toFixed(2)} µs = ${(ratio * 100).toFixed(1)}% (target < 10%)`,
  );
  return {
    storeRequestBytes: storeBytes.length,
    fetchAnswerBytes: fetchBytes.length,
    measurements: results,
    codecToEcdsaSignRatio: ratio,
  };
}
