/**
 * Issue 10, item 1: configuration and kind signature wrapping. The signed text of a <configuration> or
 * <kind> must be the text of the very element the values are read from. Before, a regular expression found
 * the signed text and the XML parser the values, paired by position: genuine signed text hidden where only
 * the regex looked (a comment, CDATA, a processing instruction, foreign content) and a forged element where
 * only the parser looked (a namespace prefix the regex did not match, or after the decoy) made a forged
 * definition pass with a genuine signature. An ordinary member changed a running peer's Kinds with one
 * kind-block ConfigUpdate this way.
 *
 * Every variant below carries genuine signed text and a forged definition; each must be refused, on the
 * fetch path (acceptConfigurationDocument) and on the ConfigUpdate path (ConfigUpdateService.receive), and the
 * node must keep its configuration and Kinds. Genuine documents written in other legal ways still verify.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  acceptConfigurationDocument,
  CHORD_NS,
  CONFIG_NS,
  ConfigurationFormatError,
  ConfigurationSignatureError,
  ConfigurationWrappingError,
  configurationDocument,
  configurationXml,
  kindBlockText,
  KindBlockNamespaceError,
  kindXml,
  NamespaceOutsideSignatureError,
  parseConfigurationDocument,
  parseKindBlock,
  signedConfiguration,
  signText,
  SIP_NS,
  StaleConfigurationError,
  UnexpectedXmlContentError,
  type KindDefinition,
  type KindInput,
  type ConfigurationError,
  type NewConfiguration,
} from '../../src-main/reload/config';
import { type Signer } from '../../src-main/reload/crypto';
import { ConfigUpdateRefusedError } from '../../src-main/reload/node';
import type { ConfigUpdateReq } from '../../src-main/reload/wire';
import { configUpdateNode } from '../support/config-update-node';
import { makeOverlay, overlayIdentity, OVERLAY, type TestOverlay } from '../support/overlay-fixture';

type ErrorClass = new (...args: never[]) => ConfigurationError;

let o: TestOverlay;
/** A configuration-signer that is not a kind-signer: it can sign configurations, never Kinds. */
let confSigner: { signer: Signer; nodeId: Uint8Array };
let input: NewConfiguration;
/** The genuine configuration (sequence 1) and its signature. */
let genuine: { xml: string; signature: string };
/** A genuine newer configuration (sequence 2), as a ConfigUpdate may carry it. */
let genuine2: { xml: string; signature: string };
/** A genuine kind-block (a private Kind) signed by the kind-signer: the decoy a member can copy. */
let decoyKind: { xml: string; signature: string };
/** SIP-REGISTRATION with max-size 1: every later Store of the Kind fails. */
let forgedKind: string;

const PRIVATE_KIND: KindInput = {
  id: 0xf0000001,
  maxCount: 5,
  maxSize: 200,
  dataModel: 'ARRAY',
  accessControl: 'USER-MATCH',
};

beforeAll(async () => {
  o = await makeOverlay();
  confSigner = await overlayIdentity(o, 0x40);
  input = {
    ...o.input,
    sequence: 1,
    kindSigners: [o.signerNodeId],
    configurationSigners: [o.signerNodeId, confSigner.nodeId],
  };
  genuine = signedConfiguration(input, o.signer, o.signer);
  genuine2 = signedConfiguration({ ...input, sequence: 2 }, o.signer, o.signer);
  const xml = kindXml(PRIVATE_KIND);
  decoyKind = { xml, signature: signText(xml, o.signer) };
  forgedKind = kindXml({ ...(input.kinds[0] as KindInput), maxSize: 1 });
});

// ------------------------------------------------------------------------------------------ building

const HEAD = `<?xml version="1.0" encoding="UTF-8"?>\n<overlay xmlns="${CONFIG_NS}">\n`;
const TAIL = '\n</overlay>\n';
const sig = (s: string) => `<signature>${s}</signature>`;
const DECOY_NS = 'urn:example:decoy';
/** The config namespace written with a character reference: the same namespace to a parser. */
const NS_ENCODED = CONFIG_NS.replace('config-base', 'config&#x2D;base');

/** Renames the outer element `name` of `xml` to prefix:name, declaring the prefix with `ns`. */
function outerPrefixed(xml: string, name: string, prefix: string, ns = CONFIG_NS): string {
  return xml
    .replace(new RegExp(`^<${name}\\b`), `<${prefix}:${name} xmlns:${prefix}="${ns}"`)
    .replace(new RegExp(`</${name}>$`), `</${prefix}:${name}>`);
}

/** Every unprefixed tag of `xml` under `prefix`. */
function allPrefixed(xml: string, prefix: string): string {
  return xml.replace(/<(\/?)([a-z][a-z-]*)(?=[\s>/])/g, `<$1${prefix}:$2`);
}

const forgedConfig = (g: string) => g.replace('<initial-ttl>100</initial-ttl>', '<initial-ttl>7</initial-ttl>');

/**
 * Configuration variants: genuine signed text `g` (signature `s`) and forged `f`, as a whole document,
 * with the error each must be refused with.
 */
const CONFIG_VARIANTS: [string, (g: string, s: string, f: string) => string, ErrorClass][] = [
  [
    'decoy in a comment, forged under a non-ASCII prefix',
    (g, s, f) => `${HEAD}<!--${g}-->${outerPrefixed(f, 'configuration', 'é')}${sig(s)}${TAIL}`,
    UnexpectedXmlContentError,
  ],
  [
    'decoy in a comment, forged plain after it',
    (g, s, f) => `${HEAD}<!--${g}-->${f}${sig(s)}${TAIL}`,
    UnexpectedXmlContentError,
  ],
  [
    'decoy in a comment, forged self-closing with ">" in an attribute',
    (g, s) =>
      `${HEAD}<!--\n${g}\n-->\n<configuration instance-name="${OVERLAY}" sequence="${g.match(/sequence="(\d+)"/)?.[1]}" x:n=">" xmlns:x="urn:x"/>${sig(s)}${TAIL}`,
    UnexpectedXmlContentError,
  ],
  [
    'decoy in CDATA',
    (g, s, f) => `${HEAD}<![CDATA[${g}]]>${outerPrefixed(f, 'configuration', 'é')}${sig(s)}${TAIL}`,
    UnexpectedXmlContentError,
  ],
  [
    'decoy in a processing instruction',
    (g, s, f) => `${HEAD}<?decoy ${g}?>${outerPrefixed(f, 'configuration', 'é')}${sig(s)}${TAIL}`,
    UnexpectedXmlContentError,
  ],
  [
    'decoy in a foreign-namespace element',
    (g, s, f) => `${HEAD}<w xmlns="${DECOY_NS}">${g}</w>${outerPrefixed(f, 'configuration', 'é')}${sig(s)}${TAIL}`,
    ConfigurationWrappingError,
  ],
  [
    'decoy in a foreign element under a non-ASCII prefix',
    (g, s, f) =>
      `${HEAD}<ü:w xmlns:ü="${DECOY_NS}">${g}</ü:w>${outerPrefixed(f, 'configuration', 'é')}${sig(s)}${TAIL}`,
    ConfigurationWrappingError,
  ],
  [
    'decoy in the default namespace rebound, forged under an ASCII prefix',
    (g, s, f) =>
      `<c:overlay xmlns:c="${CONFIG_NS}" xmlns="${DECOY_NS}">${g}${allPrefixed(f, 'c')}<c:signature>${s}</c:signature></c:overlay>`,
    ConfigurationWrappingError,
  ],
  [
    'forged prefix bound with an entity-encoded namespace, decoy in a foreign element',
    (g, s, f) =>
      `${HEAD}<w xmlns="${DECOY_NS}">${g}</w>${outerPrefixed(f, 'configuration', 'é', NS_ENCODED)}${sig(s)}${TAIL}`,
    ConfigurationWrappingError,
  ],
  [
    'decoy as entity-encoded text',
    (g, s, f) =>
      `${HEAD}${g.replace(/&/g, '&amp;').replace(/</g, '&lt;')}${outerPrefixed(f, 'configuration', 'é')}${sig(s)}${TAIL}`,
    UnexpectedXmlContentError,
  ],
  [
    'genuine text with a value entity-encoded (same value, other bytes)',
    (g, s) => `${HEAD}${g.replace('<initial-ttl>100<', '<initial-ttl>&#x31;00<')}${sig(s)}${TAIL}`,
    ConfigurationSignatureError,
  ],
  [
    'genuine text with CRLF line ends (same values, other bytes)',
    (g, s) => `${HEAD}${g.replace(/\n/g, '\r\n')}${sig(s)}${TAIL}`,
    ConfigurationSignatureError,
  ],
  [
    'genuine text with whitespace added in its start tag',
    (g, s) => `${HEAD}${g.replace('<configuration ', '<configuration\n\t')}${sig(s)}${TAIL}`,
    ConfigurationSignatureError,
  ],
  [
    'a non-XML space after the element name',
    (g, s) => `${HEAD}${g.replace('<configuration ', '<configuration\u00a0')}${sig(s)}${TAIL}`,
    ConfigurationFormatError,
  ],
  [
    'duplicate <configuration>: forged one after the signed one',
    (g, s, f) => `${HEAD}${g}${sig(s)}${f}${TAIL}`,
    StaleConfigurationError,
  ],
  [
    'duplicate <configuration>: forged one before the signed one',
    (g, s, f) => `${HEAD}${f}${g}${sig(s)}${TAIL}`,
    ConfigurationSignatureError,
  ],
  ['duplicate <signature>', (g, s) => `${HEAD}${g}${sig(s)}${sig(s)}${TAIL}`, ConfigurationFormatError],
  ['signature moved before the configuration', (g, s, f) => `${HEAD}${sig(s)}${f}${TAIL}`, ConfigurationFormatError],
  [
    'signature moved inside the forged configuration',
    (g, s, f) => `${HEAD}${f.replace('</configuration>', `${sig(s)}</configuration>`)}${TAIL}`,
    ConfigurationFormatError,
  ],
  [
    'signature moved into a foreign element',
    (g, s, f) => `${HEAD}${f}<w xmlns="${DECOY_NS}">${sig(s)}${g}</w>${TAIL}`,
    ConfigurationWrappingError,
  ],
];

/**
 * Kind-block variants: genuine signed <kind> text `g` (kind-signature `s`) and a forged <kind> `f`, as the
 * one kind-block fragment a ConfigUpdate carries or a configuration holds.
 */
const ks = (s: string) => `<kind-signature>${s}</kind-signature>`;
const KIND_VARIANTS: [string, (g: string, s: string, f: string) => string, ErrorClass][] = [
  ['decoy in a comment', (g, s, f) => `<kind-block><!--${g}-->${f}${ks(s)}</kind-block>`, UnexpectedXmlContentError],
  [
    'decoy in a comment after the forged kind under a non-ASCII prefix',
    (g, s, f) => `<kind-block>${outerPrefixed(f, 'kind', 'é')}${ks(s)}<!--${g}--></kind-block>`,
    UnexpectedXmlContentError,
  ],
  ['decoy in CDATA', (g, s, f) => `<kind-block><![CDATA[${g}]]>${f}${ks(s)}</kind-block>`, UnexpectedXmlContentError],
  [
    'decoy in a processing instruction',
    (g, s, f) => `<kind-block><?decoy ${g}?>${f}${ks(s)}</kind-block>`,
    UnexpectedXmlContentError,
  ],
  [
    'decoy in a foreign-namespace element',
    (g, s, f) => `<kind-block><w xmlns="${DECOY_NS}">${g}</w>${f}${ks(s)}</kind-block>`,
    ConfigurationWrappingError,
  ],
  [
    'decoy in a foreign element under a non-ASCII prefix',
    (g, s, f) => `<kind-block xmlns:ü="${DECOY_NS}"><ü:w>${g}</ü:w>${f}${ks(s)}</kind-block>`,
    ConfigurationWrappingError,
  ],
  [
    'decoy after the forged kind under a non-ASCII prefix',
    (g, s, f) => `<kind-block>${outerPrefixed(f, 'kind', 'é')}${ks(s)}<w xmlns="${DECOY_NS}">${g}</w></kind-block>`,
    ConfigurationWrappingError,
  ],
  [
    'decoy in the default namespace rebound, forged under an ASCII prefix',
    (g, s, f) =>
      `<c:kind-block xmlns:c="${CONFIG_NS}" xmlns="${DECOY_NS}">${g}${allPrefixed(f, 'c')}<c:kind-signature>${s}</c:kind-signature></c:kind-block>`,
    ConfigurationWrappingError,
  ],
  [
    'forged kind with an entity-encoded namespace and name, decoy in a foreign element',
    (g, s, f) =>
      `<kind-block><w xmlns="${DECOY_NS}">${g}</w>${f.replace('<kind name="SIP-REGISTRATION"', `<kind xmlns="${NS_ENCODED}" name="SIP&#x2D;REGISTRATION"`)}${ks(s)}</kind-block>`,
    ConfigurationWrappingError,
  ],
  [
    'decoy as entity-encoded text',
    (g, s, f) => `<kind-block>${g.replace(/</g, '&lt;')}${f}${ks(s)}</kind-block>`,
    UnexpectedXmlContentError,
  ],
  [
    'whitespace variants in the forged tags, decoy in a comment',
    (g, s, f) =>
      `<kind-block\n><!--\r\n${g}\r\n-->${f.replace('<kind ', '<kind\r\n\t').replace(/<\/kind>$/, '</kind\n>')}${ks(s)}</kind-block >`,
    UnexpectedXmlContentError,
  ],
  [
    'genuine text with CRLF line ends (same values, other bytes)',
    (g, s) => `<kind-block>${g.replace(/\n/g, '\r\n')}${ks(s)}</kind-block>`,
    ConfigurationSignatureError,
  ],
  [
    'duplicate <kind>: genuine first, forged second',
    (g, s, f) => `<kind-block>${g}${f}${ks(s)}</kind-block>`,
    ConfigurationWrappingError,
  ],
  [
    'duplicate <kind>: forged first, genuine second',
    (g, s, f) => `<kind-block>${f}${g}${ks(s)}</kind-block>`,
    ConfigurationWrappingError,
  ],
  [
    'duplicate <kind-signature>',
    (g, s, f) => `<kind-block>${f}${ks(s)}${ks(s)}</kind-block>`,
    ConfigurationWrappingError,
  ],
  [
    'signature moved inside the forged kind',
    (g, s, f) => `<kind-block>${f.replace(/<\/kind>$/, `${ks(s)}</kind>`)}</kind-block>`,
    ConfigurationFormatError,
  ],
  [
    'signature moved into a foreign element beside the decoy',
    (g, s, f) => `<kind-block>${f}<w xmlns="${DECOY_NS}">${g}${ks(s)}</w></kind-block>`,
    ConfigurationWrappingError,
  ],
];

// ------------------------------------------------------------------------------------------ fetch path

const accept = (doc: string) => acceptConfigurationDocument(doc, { overlayName: OVERLAY });

/** The error `fn` throws; fails the test when it returns. */
function thrown(fn: () => unknown): unknown {
  try {
    const value = fn();
    return new Error(
      `accepted: ${JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? '…' : v)).slice(0, 200)}`,
    );
  } catch (error) {
    return error;
  }
}

/** `genuine`'s text with its first kind-block replaced by `block`, signed by the configuration-signer only. */
function configurationWithKindBlock(block: string): string {
  const xml = genuine.xml.replace(/<kind-block>[\s\S]*?<\/kind-block>/, block);
  return configurationDocument([{ xml, signature: signText(xml, confSigner.signer) }]);
}

describe('fetch path: configuration signature wrapping', () => {
  it('the genuine document, and genuine text written in other legal ways, verify', () => {
    const { xml: g, signature: s } = genuine;
    expect(accept(configurationDocument([genuine])).initialTtl).toBe(100);
    const spaced = `<?xml version='1.0' encoding='utf-8'?>\n<!-- published by the overlay operator -->\n<overlay\n xmlns="${CONFIG_NS}" >\n\n  ${g}\n  <signature\n>${s}</signature >\n</overlay >\n<!-- end -->\n`;
    expect(accept(spaced).initialTtl).toBe(100);
    // A configuration written under a prefix is signed over that text, and verifies.
    const prefixed = outerPrefixed(g, 'cfg', 'cfg');
    const doc = configurationDocument([{ xml: prefixed, signature: signText(prefixed, o.signer) }]);
    expect(accept(doc).xml).toBe(prefixed);
    // The signed text is the element exactly as written, first < to last >.
    expect(parseConfigurationDocument(spaced)[0]?.xml).toBe(g);
  });

  it.each(CONFIG_VARIANTS)('%s: refused', (_name, build, errorClass) => {
    const forged = forgedConfig(genuine.xml);
    expect(forged).not.toBe(genuine.xml);
    const error = thrown(() => accept(build(genuine.xml, genuine.signature, forged)));
    expect(error).toBeInstanceOf(errorClass);
    expect((error as ConfigurationError).field).not.toBe('');
  });
});

describe('fetch path: kind signature wrapping (configuration signed by a configuration-signer that is not a kind-signer)', () => {
  it('the genuine kind-block verifies; a forged kind in its place does not', () => {
    const genuineBlock = genuine.xml.match(/<kind-block>[\s\S]*?<\/kind-block>/)?.[0] as string;
    expect(accept(configurationWithKindBlock(genuineBlock)).kinds[0]?.maxSize).toBe(1000);
    const plainForgery = kindBlockText({ xml: forgedKind, signature: decoyKind.signature });
    expect(thrown(() => accept(configurationWithKindBlock(plainForgery)))).toBeInstanceOf(ConfigurationSignatureError);
    // Legal variants of the genuine block: signature first, whitespace around and in end tags.
    const kind = parseConfigurationDocument(configurationDocument([genuine]))[0]?.kinds[0] as KindDefinition;
    const reordered = `<kind-block\n>\n${ks(kind.signature as string)}\n${kind.xml}\n</kind-block\t>`;
    expect(accept(configurationWithKindBlock(reordered)).kinds[0]?.maxSize).toBe(1000);
  });

  it.each(KIND_VARIANTS)('%s: refused', (_name, build, errorClass) => {
    const block = build(decoyKind.xml, decoyKind.signature, forgedKind);
    const error = thrown(() => accept(configurationWithKindBlock(block)));
    expect(error).toBeInstanceOf(errorClass);
  });

  it('a second <kind> in one block cannot shift the pairing of the next block', () => {
    // The last two kind-blocks: the first carries both genuine <kind>s, the last a forged TURN-SERVICE with
    // the genuine TURN-SERVICE kind-signature, which positional pairing matched with the second genuine text.
    const c = parseConfigurationDocument(configurationDocument([genuine]))[0] as { kinds: KindDefinition[] };
    const [cbu, turn] = c.kinds.slice(-2) as [KindDefinition, KindDefinition];
    expect(turn.name).toBe('TURN-SERVICE');
    const forgedTurn = kindXml({ ...(input.kinds[3] as KindInput), maxSize: 1 });
    const blocks = `<kind-block>${cbu.xml}${turn.xml}${ks(cbu.signature as string)}</kind-block><kind-block>${forgedTurn}${ks(turn.signature as string)}</kind-block>`;
    const lastTwo =
      /<kind-block>(?:(?!<kind-block>)[\s\S])*?<\/kind-block>\s*<kind-block>[\s\S]*?<\/kind-block>(?=\s*<\/required-kinds>)/;
    const xml = genuine.xml.replace(lastTwo, blocks);
    expect(xml).not.toBe(genuine.xml);
    const doc = configurationDocument([{ xml, signature: signText(xml, confSigner.signer) }]);
    expect(thrown(() => accept(doc))).toBeInstanceOf(ConfigurationWrappingError);
  });
});

// ------------------------------------------------------------------------------------------ ConfigUpdate path

const SENDER = Uint8Array.from({ length: 16 }, (_, i) => 0x90 + i);
const bytes = (text: string) => new TextEncoder().encode(text);
const configReq = (text: string): ConfigUpdateReq => ({ type: 'config', configData: bytes(text) });
const kindReq = (...blocks: string[]): ConfigUpdateReq => ({ type: 'kind', kinds: blocks.map(bytes) });

/** A running node's ConfigUpdate service holding the genuine sequence-1 document (as config-update.test.ts). */
function node() {
  const { service, transport, storage } = configUpdateNode(configurationDocument([genuine]));
  const before = JSON.stringify(service.kinds);
  /** The node kept its configuration, its Kinds and its storage Kinds. */
  const unchanged = () => {
    expect(service.current?.sequence).toBe(1);
    expect(service.current?.initialTtl).toBe(100);
    expect(transport.configSequence).toBe(1);
    expect(JSON.stringify(service.kinds)).toBe(before);
    expect(storage.kinds.find((k) => k.id === 1)).toMatchObject({ maxSize: 1000 });
    expect(storage.kinds.map((k) => k.id)).not.toContain(PRIVATE_KIND.id);
  };
  return { service, unchanged };
}

function refusedUpdate(fn: () => unknown): ConfigUpdateRefusedError {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(ConfigUpdateRefusedError);
  return error as ConfigUpdateRefusedError;
}

describe('ConfigUpdate path: a running node keeps its configuration', () => {
  it('a genuine newer document is applied (control)', () => {
    const { service } = node();
    expect(service.receive(configReq(configurationDocument([genuine2])), SENDER)?.configuration.sequence).toBe(2);
  });

  it.each(CONFIG_VARIANTS)('%s: refused', (_name, build) => {
    const { service, unchanged } = node();
    const forged = forgedConfig(genuine2.xml);
    const error = refusedUpdate(() =>
      service.receive(configReq(build(genuine2.xml, genuine2.signature, forged)), SENDER),
    );
    expect(error.field).not.toBe('');
    unchanged();
  });
});

describe('ConfigUpdate path: a running node keeps its Kinds', () => {
  it('a genuine kind-block is applied, in either legal order (control)', () => {
    const { service } = node();
    const block = `<kind-block>\n  ${ks(decoyKind.signature)}\n  ${decoyKind.xml}\n</kind-block >`;
    expect(service.receive(kindReq(block), SENDER)?.kindsAdded).toEqual([PRIVATE_KIND.id]);
  });

  it('the review’s forgery: one kind-block with a decoy in a comment does not change SIP-REGISTRATION', () => {
    const { service, unchanged } = node();
    const block = `<kind-block><!--${decoyKind.xml}-->${forgedKind}${ks(decoyKind.signature)}</kind-block>`;
    refusedUpdate(() => service.receive(kindReq(block), SENDER));
    unchanged();
  });

  it.each(KIND_VARIANTS)('%s: refused', (_name, build) => {
    const { service, unchanged } = node();
    const block = build(decoyKind.xml, decoyKind.signature, forgedKind);
    const error = refusedUpdate(() => service.receive(kindReq(block), SENDER));
    expect(error.field).toMatch(/^kinds\[0\]/);
    unchanged();
  });
});

// ------------------------------------------------------------------------------------------ namespace context

/**
 * Review of the fix above: a signature covers the <configuration> or <kind> text only, so a prefix (or the
 * default namespace) that text uses but does not declare takes its meaning from text nobody signed — the
 * <overlay>, the <configuration> around a <kind>, a ConfigUpdate's <kind-block>. Rebinding it left the
 * signed text identical and verifying while the values read changed. Such a signed element is refused.
 */
const EVIL_NS = 'urn:evil';

/** Genuine configuration text `xml` (sequence `sequence`) whose chord prefix is declared on <overlay>. */
function chordDeclaredOnOverlay(sequence: number, chordNs = CHORD_NS): string {
  const xml = configurationXml({
    ...input,
    sequence,
    chord: { updateInterval: 30, pingInterval: 60, reactive: false },
    kinds: input.kinds.map((k) => {
      const text = kindXml(k);
      return { xml: text, signature: signText(text, o.signer) };
    }),
  }).replace(` xmlns:chord="${CHORD_NS}"`, '');
  return configurationDocument([{ xml, signature: signText(xml, o.signer) }]).replace(
    `<overlay xmlns="${CONFIG_NS}">`,
    `<overlay xmlns="${CONFIG_NS}" xmlns:chord="${chordNs}">`,
  );
}

/** A genuine configuration whose SIP-REGISTRATION <kind> relies on xmlns:sip declared on <configuration>. */
function sipDeclaredOnConfiguration(sequence: number): { doc: string; kind: { xml: string; signature: string } } {
  const kinds = input.kinds.map((k) => {
    const text = kindXml(k);
    return { xml: text, signature: signText(text, o.signer) };
  });
  const sipXml = kindXml(input.kinds[0] as KindInput).replace(` xmlns:sip="${SIP_NS}"`, '');
  kinds[0] = { xml: sipXml, signature: signText(sipXml, o.signer) };
  const xml = configurationXml({ ...input, sequence, kinds }).replace(
    '<configuration ',
    `<configuration xmlns:sip="${SIP_NS}" `,
  );
  return {
    doc: configurationDocument([{ xml, signature: signText(xml, o.signer) }]),
    kind: kinds[0],
  };
}

/**
 * Genuine configuration text written under a prefix (`<c:configuration xmlns:c=…>`, children unprefixed),
 * placed in a document whose default namespace is `defaultNs`: the children are in that namespace there.
 */
function prefixedConfigurationIn(defaultNs: string, sequence = 1): string {
  const c = signedConfiguration({ ...input, sequence }, o.signer, o.signer);
  const xml = outerPrefixed(c.xml, 'configuration', 'c');
  const signature = signText(xml, o.signer);
  return `<c:overlay xmlns:c="${CONFIG_NS}" xmlns="${defaultNs}">${xml}<c:signature>${signature}</c:signature></c:overlay>`;
}

function outsideNamespace(error: unknown, field: RegExp): void {
  expect(error).toBeInstanceOf(NamespaceOutsideSignatureError);
  expect((error as Error).message).toMatch(/declared outside|default namespace/);
  expect((error as ConfigurationError).field).toMatch(field);
}

describe('fetch path: signed text means only what it says', () => {
  it('our own documents declare every prefix inside the signed elements and verify (control)', () => {
    const c = accept(configurationDocument([genuine]));
    expect(c.kinds[0]?.sipDomainRestriction).toEqual({ enabled: true, patterns: ['.*@example\\.org'] });
    // Under a prefix in a document whose default namespace is the configuration's, it reads the same.
    expect(accept(prefixedConfigurationIn(CONFIG_NS)).initialTtl).toBe(100);
  });

  it('a chord prefix declared on <overlay> is refused, whatever it is bound to', () => {
    outsideNamespace(
      thrown(() => accept(chordDeclaredOnOverlay(1))),
      /configuration\/chord-update-interval$/,
    );
    outsideNamespace(
      thrown(() => accept(chordDeclaredOnOverlay(1, EVIL_NS))),
      /configuration\/chord-update-interval$/,
    );
  });

  it('a sip prefix a <kind> takes from <configuration> is refused', () => {
    outsideNamespace(
      thrown(() => accept(sipDeclaredOnConfiguration(1).doc)),
      /kind\/domain-restriction$/,
    );
  });

  it('a kind-block wrapper declaring a namespace is refused by itself', () => {
    const { kind } = sipDeclaredOnConfiguration(1);
    const rebound = `<kind-block xmlns:sip="${EVIL_NS}">${kind.xml}${ks(kind.signature)}</kind-block>`;
    const error = thrown(() => parseKindBlock(rebound, 'kinds[0]'));
    expect(error).toBeInstanceOf(KindBlockNamespaceError);
    expect((error as ConfigurationError).field).toBe('kinds[0]');
    // Without the wrapper's declaration the prefix the <kind> uses is bound nowhere: not well-formed.
    const bare = `<kind-block>${kind.xml}${ks(kind.signature)}</kind-block>`;
    const unbound = thrown(() => parseKindBlock(bare, 'kinds[0]'));
    expect(unbound).toBeInstanceOf(ConfigurationFormatError);
    expect((unbound as Error).message).toMatch(/unbound namespace prefix: "sip"/);
  });

  it('the default namespace rebound around prefixed signed text is refused', () => {
    outsideNamespace(
      thrown(() => accept(prefixedConfigurationIn(EVIL_NS))),
      /configuration\/topology-plugin$/,
    );
  });
});

describe('ConfigUpdate path: signed text means only what it says', () => {
  it('a document rebinding the chord prefix is refused; the genuine document is applied after it', () => {
    const { service, unchanged } = node();
    const error = refusedUpdate(() => service.receive(configReq(chordDeclaredOnOverlay(2, EVIL_NS)), SENDER));
    expect(error.field).toMatch(/chord-update-interval$/);
    unchanged();
    const honest = configurationDocument([genuine2]);
    expect(service.receive(configReq(honest), SENDER)?.configuration.sequence).toBe(2);
    expect(service.document).toBe(honest);
  });

  it('a document rebinding the default namespace is refused', () => {
    const { service, unchanged } = node();
    const error = refusedUpdate(() => service.receive(configReq(prefixedConfigurationIn(EVIL_NS, 2)), SENDER));
    expect(error.field).toMatch(/topology-plugin$/);
    unchanged();
  });

  it('a kind-block rebinding the sip prefix on its wrapper is refused', () => {
    const { service, unchanged } = node();
    const { kind } = sipDeclaredOnConfiguration(2);
    const block = `<kind-block xmlns:sip="${EVIL_NS}">${kind.xml}${ks(kind.signature)}</kind-block>`;
    const error = refusedUpdate(() => service.receive(kindReq(block), SENDER));
    expect(error.field).toMatch(/^kinds\[0\]/);
    unchanged();
    // The same <kind> with the wrapper binding sip to its real namespace: still not self-contained.
    const honest = `<kind-block xmlns:sip="${SIP_NS}">${kind.xml}${ks(kind.signature)}</kind-block>`;
    expect(refusedUpdate(() => service.receive(kindReq(honest), SENDER)).field).toMatch(/^kinds\[0\]/);
    unchanged();
  });

  it('a kind-block wrapper declaring any namespace is refused, even around a self-contained kind', () => {
    const { service, unchanged } = node();
    const block = `<kind-block xmlns:x="${DECOY_NS}">${decoyKind.xml}${ks(decoyKind.signature)}</kind-block>`;
    const error = refusedUpdate(() => service.receive(kindReq(block), SENDER));
    expect(error.field).toBe('kinds[0]');
    expect(error.message).toMatch(/namespace/);
    unchanged();
  });
});
