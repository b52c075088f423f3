/**
 * Issue 10, item 6: a node that meets a peer with an older configuration MUST send it a ConfigUpdate
 * (RFC 6940 §6.3.2.1), and that message is bound by the overlay's max-message-size like any other. `overlay
 * init` used to write a ~7 KB document with the 5000-byte default, so no stale peer could ever be updated.
 * Every document `create` signs must travel in a ConfigUpdate under its own max-message-size, with room to
 * spare for a later, larger document (stale peers still hold the old limit).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src-main/common/logger';
import { OverlayDir } from '../../src-main/host/overlay/overlay-dir';
import { VirtualClock } from '../../src-main/reload/clock';
import { followConfiguration } from '../../src-main/app/peer/config-follow';
import {
  acceptConfigurationDocument,
  configurationDocument,
  signedConfiguration,
  signedConfigurationDocument,
} from '../../src-main/reload/config';
import { createSigner, overlayHash, signMessage, type Signer } from '../../src-main/reload/crypto';
import { generateIdentityKeys, issueCertificate, type KeyAlgorithm } from '../../src-main/reload/identity';
import { ConfigUpdateService, type ConfigUpdateOptions, type ReloadNode } from '../../src-main/reload/node';
import { decodeBody, decodeContext, decodeMessage, type Destination } from '../../src-main/reload/wire';
import { memoryLogger, tempDir } from '../support/fixtures';
import { makeOverlay } from '../support/overlay-fixture';

const OVERLAY = 'size.example.org';
const nodeId = (first: number) => Uint8Array.from({ length: 16 }, (_, i) => first + i);
const node = (first: number): Destination => ({ type: 'node', id: nodeId(first) });

let dir: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  dir = await tempDir('config-size-');
});
afterAll(async () => {
  await dir?.remove();
});

/** A ConfigUpdate as a peer sends it: signed, with its certificate, routed back over ten hops. */
function configUpdateMessage(document: string, sender: Signer): Uint8Array {
  return signMessage(
    {
      overlay: overlayHash(OVERLAY),
      configurationSequence: 0xffff,
      version: 0x0a,
      ttl: 100,
      transactionId: 0x0123456789abcdefn,
      maxResponseLength: 0,
      viaList: Array.from({ length: 10 }, (_, i) => node(0x10 * i)),
      destinationList: [node(0xa0)],
      options: [],
    },
    {
      body: { method: 'config_update_req', value: { type: 'config', configData: Buffer.from(document) } },
      extensions: [],
    },
    sender,
    { nodeIdLength: 16 },
  );
}

/** A peer identity of the overlay (RSA-2048: the largest certificate and signature a peer may bring). */
async function rsaPeer(overlay: OverlayDir): Promise<Signer> {
  const keys = await generateIdentityKeys('rsa');
  const { der } = await issueCertificate({
    ca: overlay.ca,
    publicKey: keys.webcrypto.publicKey,
    userName: `peer@${OVERLAY}`,
    nodeIds: [nodeId(0xa0)],
    overlay: OVERLAY,
    validDays: 2,
  });
  return createSigner({ privateKey: keys.privateKey, certificate: der });
}

const cases: [KeyAlgorithm, boolean][] = [
  ['ecdsa', false],
  ['ecdsa', true],
  ['rsa', false],
];

describe('`overlay init` writes a configuration a ConfigUpdate can carry', () => {
  for (const [algorithm, selfSigned] of cases) {
    it(`${algorithm}${selfSigned ? ', self-signed' : ''}: the signed ConfigUpdate decodes under the document's own max-message-size, with room for a document twice as large`, async () => {
      const overlay = await OverlayDir.init(join(dir.path, `${algorithm}-${selfSigned}`), {
        overlay: OVERLAY,
        algorithm,
        selfSigned,
        bootstrapNodes: [
          { address: '192.0.2.1', port: 6084 },
          { address: '2001:db8::1', port: 6084 },
        ],
      });
      const document = await readFile(overlay.path('config'), 'utf8');
      const config = acceptConfigurationDocument(document, { overlayName: OVERLAY });
      const sender = selfSigned ? overlay.signer : await rsaPeer(overlay);
      const bytes = configUpdateMessage(document, sender);
      const ctx = decodeContext({ maxMessageSize: config.maxMessageSize });
      const { contents } = decodeMessage(bytes, ctx);
      expect(decodeBody(contents.code, contents.body, ctx)).toMatchObject({
        method: 'config_update_req',
        value: { type: 'config', configData: new Uint8Array(Buffer.from(document)) },
      });
      // The next sequence may grow (more kinds, bootstrap nodes); peers that miss it still hold this limit.
      expect(2 * bytes.length).toBeLessThanOrEqual(config.maxMessageSize);
    }, 60_000);
  }

  it('a node holding that configuration sends it to a stale peer instead of giving up on its size', async () => {
    const overlay = await OverlayDir.init(join(dir.path, 'push'), { overlay: OVERLAY });
    const document = await readFile(overlay.path('config'), 'utf8');
    const config = acceptConfigurationDocument(document, { overlayName: OVERLAY });
    const transport = { configSequence: 0, request: vi.fn(async (..._args: unknown[]) => ({}) as never) };
    const service = new ConfigUpdateService({
      configuration: { document },
      transport: transport as unknown as ConfigUpdateOptions['transport'],
      storage: { setKinds: () => 0 },
      clock: new VirtualClock(),
      now: Date.now,
      log: createLogger({ level: 'error' }),
      maxMessageSize: config.maxMessageSize,
    });
    expect(await service.pushTo(nodeId(0xa0))).toBe(true);
    expect(service.counters).toMatchObject({ pushes: 1, pushesTooLarge: 0 });
    expect(transport.request).toHaveBeenCalledTimes(1);
  });
});

describe('signing a configuration', () => {
  it('refuses a document no ConfigUpdate could carry under its own max-message-size, naming the sizes', async () => {
    const o = await makeOverlay();
    let error: unknown;
    try {
      signedConfigurationDocument({ ...o.input, maxMessageSize: 5000 }, o.signer, o.signer);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ name: 'ConfigurationTooLargeError', field: 'configuration/max-message-size' });
    expect((error as Error).message).toMatch(/\d+ bytes.*5000/);
  });
});

describe('a peer given a document another tool made', () => {
  it('warns at start when no ConfigUpdate can carry it, and not for what `overlay init` writes', async () => {
    const o = await makeOverlay();
    const input = { ...o.input, maxMessageSize: 5000 };
    // Signed as another tool might, without the size check.
    const tooLarge = configurationDocument([signedConfiguration(input, o.signer, o.signer)]);
    const fits = signedConfigurationDocument(o.input, o.signer, o.signer);
    const warnings = (document: string, maxMessageSize: number) => {
      const { log, lines } = memoryLogger();
      const node = {
        configuration: { document, current: { maxMessageSize } },
        onConfigurationChanged: () => () => undefined,
        onConfigurationStale: () => () => undefined,
      } as unknown as ReloadNode;
      followConfiguration(node, { source: '/etc/overlay.xml', log })();
      return lines.filter((l) => l.level === 'warn');
    };
    expect(warnings(tooLarge, 5000)).toEqual([
      expect.objectContaining({
        msg: expect.stringContaining('too large for a ConfigUpdate'),
        bytes: Buffer.byteLength(tooLarge),
        maxMessageSize: 5000,
      }),
    ]);
    expect(warnings(fits, o.input.maxMessageSize)).toEqual([]);
  });
});
