/**
 * ConfigUpdate (RFC 6940 §6.3.2.1, §6.5.4): which documents and kind-blocks a node accepts, the error code
 * for each refusal, what it applies, and when it sends its own document (rate-limited).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigurationWrappingError,
  configurationDocument,
  isNewerSequence,
  kindBlockText,
  kindXml,
  signedConfiguration,
  signedConfigurationDocument,
  signText,
  StaleConfigurationError,
  type KindInput,
  type NewConfiguration,
} from '../../../../../src-main/reload/config';
import { type Signer } from '../../../../../src-main/reload/crypto';
import {
  ConfigUpdateRefusedError,
  type ConfigUpdateOptions,
  type ConfigurationChange,
} from '../../../../../src-main/reload/node';
import { ErrorCode, toHex, type ConfigUpdateReq } from '../../../../../src-main/reload/wire';
import { configUpdateNode } from '../../../../support/config-update-node';
import { makeOverlay, overlayIdentity, type TestOverlay } from '../../../../support/overlay-fixture';

let o: TestOverlay;
/** A second kind-signer, and a node the overlay trusts that signs nothing. */
let kindSignerB: { signer: Signer; nodeId: Uint8Array };
let outsider: { signer: Signer; nodeId: Uint8Array };
let base: NewConfiguration;

beforeAll(async () => {
  o = await makeOverlay();
  kindSignerB = await overlayIdentity(o, 0x30);
  outsider = await overlayIdentity(o, 0x60);
  base = { ...o.input, sequence: 1, kindSigners: [o.signerNodeId, kindSignerB.nodeId] };
});

const doc = (changes: Partial<NewConfiguration>, signer: Signer = o.signer) =>
  signedConfigurationDocument({ ...base, ...changes }, o.signer, signer);
const bytes = (text: string) => new TextEncoder().encode(text);
const configReq = (text: string): ConfigUpdateReq => ({ type: 'config', configData: bytes(text) });
const kindReq = (...blocks: string[]): ConfigUpdateReq => ({ type: 'kind', kinds: blocks.map(bytes) });
const kindBlock = (kind: KindInput, signer: Signer) => {
  const xml = kindXml(kind);
  return kindBlockText({ xml, signature: signText(xml, signer) });
};
const PRIVATE_KIND: KindInput = {
  id: 0xf0000001,
  maxCount: 5,
  maxSize: 200,
  dataModel: 'ARRAY',
  accessControl: 'USER-MATCH',
};
const sipKind = (maxCount: number): KindInput => ({ ...(base.kinds[0] as KindInput), maxCount });
const SENDER = Uint8Array.from({ length: 16 }, (_, i) => 0x90 + i);

function make(document = doc({}), extra: Partial<ConfigUpdateOptions> = {}) {
  const { service, transport, storage, clock } = configUpdateNode(document, extra);
  const changes: ConfigurationChange[] = [];
  service.onChanged((c) => changes.push(c));
  return { service, transport, storage, clock, changes };
}

function refusal(fn: () => unknown): ConfigUpdateRefusedError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigUpdateRefusedError);
    return error as ConfigUpdateRefusedError;
  }
  throw new Error('not refused');
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('configuration sequence numbers', () => {
  it('compare with serial arithmetic modulo 65535: 0 follows 65534', () => {
    expect(isNewerSequence(2, 1)).toBe(true);
    expect(isNewerSequence(1, 1)).toBe(false);
    expect(isNewerSequence(1, 2)).toBe(false);
    expect(isNewerSequence(0, 65534)).toBe(true);
    expect(isNewerSequence(65534, 0)).toBe(false);
    expect(isNewerSequence(32768, 1)).toBe(true);
    expect(isNewerSequence(32769, 1)).toBe(false);
  });
});

describe('ConfigUpdate of type config', () => {
  it('takes the sequence and Kinds from the document it holds', () => {
    const { transport, storage, service } = make();
    expect(transport.configSequence).toBe(1);
    expect(storage.kinds.map((k) => k.id)).toEqual(base.kinds.map((k) => k.id));
    expect(service.current?.sequence).toBe(1);
  });

  it('applies a newer document signed by a configuration-signer: sequence, Kinds, event', () => {
    const { service, transport, storage, changes } = make();
    const next = doc({ sequence: 2, initialTtl: 90, kinds: [sipKind(20), ...base.kinds.slice(1, 3)] });
    const change = service.receive(configReq(next), SENDER);
    expect(change).toMatchObject({
      cause: 'config',
      from: toHex(SENDER),
      previousSequence: 1,
      document: next,
      kindsChanged: [1],
      kindsRemoved: [2],
      kindsAdded: [],
      rejoin: [],
      restart: ['initial-ttl'],
    });
    expect(changes).toEqual([change]);
    expect(transport.configSequence).toBe(2);
    expect(storage.kinds.find((k) => k.id === 1)?.maxCount).toBe(20);
    expect(storage.kinds.map((k) => k.id)).not.toContain(2);
    expect(service.document).toBe(next);
    expect(service.counters).toMatchObject({ received: 1, accepted: 1, refused: 0 });
  });

  it('reports changes a running node cannot apply: a new topology needs a rejoin', () => {
    const { service } = make();
    const change = service.receive(configReq(doc({ sequence: 2, topologyPlugin: 'EXAMPLE-DHT' })), SENDER);
    expect(change?.rejoin).toEqual(['topology-plugin']);
  });

  it('refuses the same or an older sequence with Error_Config_Too_Old and sends the sender ours', async () => {
    const current = doc({ sequence: 5 });
    const { service, transport, changes } = make(current);
    const older = refusal(() => service.receive(configReq(doc({ sequence: 4 })), SENDER));
    expect(older).toMatchObject({ errorCode: ErrorCode.Config_Too_Old, field: 'configuration/@sequence' });
    await tick();
    // The sender is stale: it gets our document, with the sequence every node accepts.
    expect(transport.request).toHaveBeenCalledTimes(1);
    const [route, body, options] = transport.request.mock.calls[0]!;
    expect(route).toEqual([{ type: 'node', id: SENDER }]);
    expect(body).toEqual({ method: 'config_update_req', value: configReq(current) });
    expect(options).toEqual({ configurationSequence: 0xffff });
    const same = refusal(() => service.receive(configReq(doc({ sequence: 5, initialTtl: 90 })), SENDER));
    expect(same.errorCode).toBe(ErrorCode.Config_Too_Old);
    // The document we hold (or our configuration in other document text) changes nothing.
    expect(service.receive(configReq(current), SENDER)).toBeUndefined();
    const withoutDeclaration = current.replace('<?xml version="1.0" encoding="UTF-8"?>\n', '');
    expect(withoutDeclaration).not.toBe(current);
    expect(service.receive(configReq(withoutDeclaration), SENDER)).toBeUndefined();
    expect(changes).toEqual([]);
  });

  it('accepts 0 after 65534', () => {
    const { service, transport } = make(doc({ sequence: 65534 }));
    expect(service.receive(configReq(doc({ sequence: 0 })), SENDER)?.configuration.sequence).toBe(0);
    expect(transport.configSequence).toBe(0);
  });

  it('refuses a document not signed by a configuration-signer of the current one with Error_Forbidden', async () => {
    const { service, transport } = make();
    // A certificate the overlay trusts, but not a configuration-signer.
    const bySomeone = refusal(() => service.receive(configReq(doc({ sequence: 2 }, outsider.signer)), SENDER));
    expect(bySomeone).toMatchObject({ errorCode: ErrorCode.Forbidden, field: 'configuration[1]/signature' });
    expect(bySomeone.message).toMatch(/not an authorised signer/);
    // A whole new overlay (its own CA and signer) naming itself signer: still checked against the current one.
    const other = await makeOverlay();
    const takeover = signedConfigurationDocument(
      { ...base, sequence: 2, rootCerts: [other.ca.certificate], configurationSigners: [other.signerNodeId] },
      other.signer,
      other.signer,
    );
    expect(refusal(() => service.receive(configReq(takeover), SENDER)).errorCode).toBe(ErrorCode.Forbidden);
    // Unsigned.
    const unsigned = configurationDocument([
      { xml: signedConfiguration({ ...base, sequence: 2 }, o.signer, o.signer).xml },
    ]);
    expect(refusal(() => service.receive(configReq(unsigned), SENDER)).errorCode).toBe(ErrorCode.Forbidden);
    expect(transport.configSequence).toBe(1);
    expect(service.counters).toMatchObject({ received: 3, accepted: 0, refused: 3 });
  });

  it('refuses another overlay, an expired document and malformed data with their own codes', () => {
    const { service } = make();
    const renamed = doc({ sequence: 2, instanceName: 'other.example.org' });
    expect(refusal(() => service.receive(configReq(renamed), SENDER))).toMatchObject({
      errorCode: ErrorCode.Incompatible_with_Overlay,
      field: 'configuration[1]/@instance-name',
    });
    const expired = doc({ sequence: 2, expiration: new Date(Date.now() - 1000) });
    expect(refusal(() => service.receive(configReq(expired), SENDER))).toMatchObject({
      errorCode: ErrorCode.Config_Too_Old,
      field: 'configuration[1]/@expiration',
    });
    expect(refusal(() => service.receive(configReq('<overlay'), SENDER)).errorCode).toBe(ErrorCode.Invalid_Message);
    const notUtf8: ConfigUpdateReq = { type: 'config', configData: Uint8Array.of(0x3c, 0xff, 0xfe) };
    expect(refusal(() => service.receive(notUtf8, SENDER))).toMatchObject({
      errorCode: ErrorCode.Invalid_Message,
      field: 'config_data',
    });
  });

  it('a node without a configuration refuses every ConfigUpdate', () => {
    const { service } = make(undefined, { configuration: undefined });
    expect(service.current).toBeUndefined();
    expect(refusal(() => service.receive(configReq(doc({ sequence: 2 })), SENDER)).errorCode).toBe(ErrorCode.Forbidden);
  });

  it('install: a newer document the host fetched is applied; an older one throws', () => {
    const { service, changes } = make(doc({ sequence: 3 }));
    expect(service.install(doc({ sequence: 4 }))?.cause).toBe('local');
    expect(changes.map((c) => c.configuration.sequence)).toEqual([4]);
    expect(() => service.install(doc({ sequence: 2 }))).toThrow(StaleConfigurationError);
  });

  it('the configuration in force, read differently from another document, is refused, not taken as ours', () => {
    // A verifier (here injected; parse.ts refuses such documents) that reads the same signed text with other
    // values: the node must neither keep its document while another reading is offered as the same, nor
    // apply values that the document it stores does not give.
    const document = doc({ sequence: 2 });
    const other = `${document}<!-- other text -->\n`;
    const { service, changes } = make(document, {
      configuration: {
        document,
        accept: (text, current) =>
          text === other ? { ...current, chord: { ...current.chord, updateInterval: 1 } } : current,
      },
    });
    expect(() => service.install(other)).toThrow(ConfigurationWrappingError);
    expect(service.current?.chord.updateInterval).not.toBe(1);
    expect(service.document).toBe(document);
    // Read the same way, it is ours: nothing changes.
    expect(service.install(`${document}\n`)).toBeUndefined();
    expect(changes).toEqual([]);
  });
});

describe('ConfigUpdate of type kind', () => {
  it('applies kind-blocks signed by a current kind-signer', () => {
    const { service, storage, transport } = make();
    const change = service.receive(kindReq(kindBlock(PRIVATE_KIND, kindSignerB.signer)), SENDER);
    expect(change).toMatchObject({ cause: 'kind', kindsAdded: [0xf0000001], previousSequence: 1 });
    expect(storage.kinds.map((k) => k.id)).toContain(0xf0000001);
    expect(transport.configSequence).toBe(1);
    // The same definition again changes nothing, whether received or the configuration's.
    expect(service.receive(kindReq(kindBlock(PRIVATE_KIND, kindSignerB.signer)), SENDER)).toBeUndefined();
    const same = service.kinds.find((k) => k.id === 1)!;
    expect(service.receive(kindReq(kindBlockText(same)), SENDER)).toBeUndefined();
  });

  it('never changes a Kind in force, even by its own signer: a kind-block has no sequence (Error_Forbidden)', () => {
    const { service, storage } = make();
    service.receive(kindReq(kindBlock(PRIVATE_KIND, kindSignerB.signer)), SENDER);
    const received = refusal(() =>
      service.receive(kindReq(kindBlock({ ...PRIVATE_KIND, maxCount: 9 }, kindSignerB.signer)), SENDER),
    );
    expect(received).toMatchObject({ errorCode: ErrorCode.Forbidden, field: 'kinds[0]/kind' });
    const configured = refusal(() => service.receive(kindReq(kindBlock(sipKind(30), o.signer)), SENDER));
    expect(configured).toMatchObject({ errorCode: ErrorCode.Forbidden, field: 'kinds[0]/kind' });
    expect(configured.message).toMatch(/defined by the configuration in force \(sequence 1\)/);
    expect(storage.kinds.find((k) => k.id === 1)?.maxCount).toBe(sipKind(10).maxCount);
    expect(storage.kinds.find((k) => k.id === PRIVATE_KIND.id)?.maxCount).toBe(PRIVATE_KIND.maxCount);
  });

  it('refuses a block by a non-kind-signer, or one replacing another signer’s Kind, with Error_Forbidden', () => {
    const { service, storage } = make();
    const notASigner = refusal(() => service.receive(kindReq(kindBlock(PRIVATE_KIND, outsider.signer)), SENDER));
    expect(notASigner).toMatchObject({ errorCode: ErrorCode.Forbidden, field: 'kinds[0]/kind-signature' });
    // SIP-REGISTRATION came signed by the first kind-signer: the second may not redefine it.
    const conflict = refusal(() => service.receive(kindReq(kindBlock(sipKind(40), kindSignerB.signer)), SENDER));
    expect(conflict).toMatchObject({ errorCode: ErrorCode.Forbidden, field: 'kinds[0]/kind-signature' });
    expect(conflict.message).toMatch(/another kind-signer/);
    // A request is applied whole or not at all.
    const mixed = kindReq(kindBlock(PRIVATE_KIND, kindSignerB.signer), kindBlock(sipKind(40), kindSignerB.signer));
    expect(refusal(() => service.receive(mixed, SENDER)).field).toBe('kinds[1]/kind-signature');
    expect(storage.kinds.map((k) => k.id)).not.toContain(0xf0000001);
    expect(storage.kinds.find((k) => k.id === 1)?.maxCount).toBe(sipKind(10).maxCount);
  });

  it('refuses malformed and unsigned kind-blocks', () => {
    const { service } = make();
    expect(refusal(() => service.receive(kindReq('<kind-block><kind'), SENDER))).toMatchObject({
      errorCode: ErrorCode.Invalid_Message,
      field: 'kinds[0]',
    });
    const noMaxSize = kindBlock(PRIVATE_KIND, kindSignerB.signer).replace(/<max-size>\d+<\/max-size>/, '');
    expect(refusal(() => service.receive(kindReq(noMaxSize), SENDER))).toMatchObject({
      errorCode: ErrorCode.Invalid_Message,
      field: 'kinds[0]/kind/max-size',
    });
    const unsigned = kindBlockText({ xml: kindXml(PRIVATE_KIND) });
    expect(refusal(() => service.receive(kindReq(unsigned), SENDER)).errorCode).toBe(ErrorCode.Forbidden);
  });

  it('a newer configuration drops received Kinds whose signer is no longer a kind-signer', () => {
    const { service, storage } = make();
    service.receive(kindReq(kindBlock(PRIVATE_KIND, kindSignerB.signer)), SENDER);
    const change = service.receive(configReq(doc({ sequence: 2, kindSigners: [o.signerNodeId] })), SENDER);
    expect(change?.kindsRemoved).toEqual([0xf0000001]);
    expect(storage.kinds.map((k) => k.id)).not.toContain(0xf0000001);
  });
});

describe('sending ConfigUpdates and noticing our own staleness', () => {
  it('sends a stale node our document at most once a minute', async () => {
    const { service, transport, clock } = make();
    expect(await service.pushTo(SENDER)).toBe(true);
    expect(await service.pushTo(SENDER)).toBe(false);
    expect(service.counters).toMatchObject({ pushes: 1, pushesRateLimited: 1 });
    expect(await service.pushTo(outsider.nodeId)).toBe(true); // another node is not limited by the first
    clock.advance(60_000);
    expect(await service.pushTo(SENDER)).toBe(true);
    expect(transport.request).toHaveBeenCalledTimes(3);
    // A mismatch the transport reports for a stale peer sends along the route it gives.
    const route = [
      { type: 'node' as const, id: outsider.nodeId },
      { type: 'node' as const, id: kindSignerB.nodeId },
    ];
    service.mismatch({ stale: 'peer', nodeId: kindSignerB.nodeId, sequence: 0, route });
    await tick();
    expect(transport.request.mock.calls.at(-1)?.[0]).toEqual(route);
  });

  it('does not send a document larger than a message may be', async () => {
    const { service, transport } = make(doc({}), { maxMessageSize: 5000 });
    expect(await service.pushTo(SENDER)).toBe(false);
    expect(service.counters.pushesTooLarge).toBe(1);
    expect(transport.request).not.toHaveBeenCalled();
  });

  it('reports our own staleness once a minute, and not once we caught up', () => {
    const { service, clock } = make();
    const events: unknown[] = [];
    service.onStale((e) => events.push(e));
    service.mismatch({ stale: 'us', nodeId: SENDER, sequence: 3, route: [] });
    service.mismatch({ stale: 'us', nodeId: SENDER, sequence: 3, route: [] });
    expect(events).toEqual([{ from: toHex(SENDER), ourSequence: 1, theirSequence: 3 }]);
    clock.advance(60_000);
    service.mismatch({ stale: 'us', nodeId: SENDER, sequence: 1, route: [] }); // not newer than ours
    expect(events).toHaveLength(1);
    service.receive(configReq(doc({ sequence: 3 })), SENDER);
    service.mismatch({ stale: 'us', nodeId: SENDER, sequence: 3, route: [] }); // caught up since
    expect(events).toHaveLength(1);
  });
});
