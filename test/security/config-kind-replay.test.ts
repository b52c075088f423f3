/**
 * Review of the configuration fix, F2: kind-blocks carry no sequence, so every <kind> a kind-signer ever
 * signed stays valid. A member replaying the genuine kind-block of an older configuration in a ConfigUpdate
 * of type kind rolled a running node's Kind back (SIP-REGISTRATION limits and domain restriction gone) or
 * brought back a Kind the configuration had removed. A ConfigUpdate of type kind carries a Kind definition to
 * a node that lacks it (RFC 6940 §7.4.1.1, Error_Unknown_Kind); it never overrides a Kind the configuration
 * in force defines — only a newer, sequenced configuration does.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  configurationDocument,
  kindBlockText,
  kindXml,
  parseConfigurationDocument,
  signedConfiguration,
  signText,
  type KindDefinition,
  type KindInput,
} from '../../src-main/reload/config';
import { ConfigUpdateRefusedError } from '../../src-main/reload/node';
import type { StorageKind } from '../../src-main/reload/storage';
import { ErrorCode, type ConfigUpdateReq } from '../../src-main/reload/wire';
import { configUpdateNode } from '../support/config-update-node';
import { makeOverlay, type TestOverlay } from '../support/overlay-fixture';

const SENDER = Uint8Array.from({ length: 16 }, (_, i) => 0x90 + i);
const bytes = (text: string) => new TextEncoder().encode(text);
const kindReq = (...blocks: string[]): ConfigUpdateReq => ({ type: 'kind', kinds: blocks.map(bytes) });
const configReq = (text: string): ConfigUpdateReq => ({ type: 'config', configData: bytes(text) });

/** A private Kind sequence 1 defines and sequence 2 removes. */
const REMOVED: KindInput = {
  id: 0xf0000002,
  maxCount: 5,
  maxSize: 200,
  dataModel: 'ARRAY',
  accessControl: 'USER-MATCH',
};
/** A private Kind no configuration ever defined. */
const FRESH: KindInput = { id: 0xf0000003, maxCount: 7, maxSize: 300, dataModel: 'ARRAY', accessControl: 'USER-MATCH' };

let o: TestOverlay;
/** Sequence 1: SIP-REGISTRATION maxSize 1,000,000, maxCount 1000, no domain restriction; REMOVED defined. */
let doc1: string;
/** Sequence 2: SIP-REGISTRATION maxSize 1000, maxCount 10, domain restriction on; REMOVED gone. */
let doc2: string;
/** The genuine kind-blocks of sequence 1, as any member that held it can send them. */
let oldSip: string;
let oldRemoved: string;

beforeAll(async () => {
  o = await makeOverlay();
  const [sip, ...rest] = o.input.kinds as [KindInput, ...KindInput[]];
  const { sipDomainRestriction: _dropped, ...open } = sip;
  const c1 = signedConfiguration(
    { ...o.input, sequence: 1, kinds: [{ ...open, maxSize: 1_000_000, maxCount: 1000 }, ...rest, REMOVED] },
    o.signer,
    o.signer,
  );
  doc1 = configurationDocument([c1]);
  doc2 = configurationDocument([signedConfiguration({ ...o.input, sequence: 2 }, o.signer, o.signer)]);
  const kinds = parseConfigurationDocument(doc1)[0]?.kinds as KindDefinition[];
  oldSip = kindBlockText(kinds.find((k) => k.id === 1) as KindDefinition);
  oldRemoved = kindBlockText(kinds.find((k) => k.id === REMOVED.id) as KindDefinition);
});

function node(document: string) {
  const { service, storage } = configUpdateNode(document);
  const sipKind = () => storage.kinds.find((k) => k.id === 1) as StorageKind & Partial<KindDefinition>;
  return { service, storage, sipKind };
}

function refused(fn: () => unknown): ConfigUpdateRefusedError {
  let error: unknown;
  try {
    const change = fn();
    error = new Error(
      `accepted: ${JSON.stringify(change, (_k, v: unknown) => (v instanceof Uint8Array ? '…' : v)).slice(0, 300)}`,
    );
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(ConfigUpdateRefusedError);
  return error as ConfigUpdateRefusedError;
}

describe('replayed kind-blocks do not roll a node back', () => {
  it('a node at sequence 2 keeps SIP-REGISTRATION when the sequence-1 kind-block is replayed', () => {
    const { service, sipKind } = node(doc2);
    expect(sipKind()).toMatchObject({ maxSize: 1000, maxCount: 10 });
    const error = refused(() => service.receive(kindReq(oldSip), SENDER));
    expect(error).toMatchObject({ errorCode: ErrorCode.Forbidden, field: 'kinds[0]/kind' });
    expect(error.message).toMatch(/defined by the configuration/);
    expect(sipKind()).toMatchObject({ maxSize: 1000, maxCount: 10 });
    expect(service.kinds.find((k) => k.id === 1)?.sipDomainRestriction).toEqual({
      enabled: true,
      patterns: ['.*@example\\.org'],
    });
  });

  it('the Kind definition the configuration holds is accepted as a no-op', () => {
    const { service } = node(doc2);
    const current = service.kinds.find((k) => k.id === 1) as KindDefinition;
    expect(service.receive(kindReq(kindBlockText(current)), SENDER)).toBeUndefined();
  });

  it('a Kind a newer configuration removed is not brought back', () => {
    const { service, storage } = node(doc1);
    expect(storage.kinds.map((k) => k.id)).toContain(REMOVED.id);
    expect(service.receive(configReq(doc2), SENDER)?.kindsRemoved).toEqual([REMOVED.id]);
    const error = refused(() => service.receive(kindReq(oldRemoved), SENDER));
    expect(error).toMatchObject({ errorCode: ErrorCode.Forbidden, field: 'kinds[0]/kind' });
    expect(error.message).toMatch(/removed/);
    expect(storage.kinds.map((k) => k.id)).not.toContain(REMOVED.id);
  });

  it('nor when the node was given a document holding both configurations', () => {
    const c1 = parseConfigurationDocument(doc1)[0] as { xml: string; signature: string };
    const c2 = parseConfigurationDocument(doc2)[0] as { xml: string; signature: string };
    const { service, storage } = node(configurationDocument([c1, c2]));
    expect(storage.kinds.map((k) => k.id)).not.toContain(REMOVED.id);
    refused(() => service.receive(kindReq(oldRemoved), SENDER));
    expect(storage.kinds.map((k) => k.id)).not.toContain(REMOVED.id);
  });

  it('a Kind no configuration defined is added; a different block for it later is refused', () => {
    const { service, storage } = node(doc2);
    const block = (kind: KindInput) => {
      const xml = kindXml(kind);
      return kindBlockText({ xml, signature: signText(xml, o.signer) });
    };
    expect(service.receive(kindReq(block(FRESH)), SENDER)?.kindsAdded).toEqual([FRESH.id]);
    expect(storage.kinds.find((k) => k.id === FRESH.id)).toMatchObject({ maxCount: 7 });
    expect(service.receive(kindReq(block(FRESH)), SENDER)).toBeUndefined();
    const other = refused(() => service.receive(kindReq(block({ ...FRESH, maxCount: 70 })), SENDER));
    expect(other).toMatchObject({ errorCode: ErrorCode.Forbidden, field: 'kinds[0]/kind' });
    expect(storage.kinds.find((k) => k.id === FRESH.id)).toMatchObject({ maxCount: 7 });
  });
});
