/**
 * Parses and validates the configuration document with a namespace-aware DOM (@xmldom/xmldom). Every
 * element of RFC 6940 §11.1 and RFC 7904's sip:domain-restriction is read with its default; anything in
 * the base namespace that is not defined there is an error, foreign elements are kept aside unless they
 * belong to a mandatory-extension we do not support. The exact text of each <configuration> and <kind>
 * element is kept, because signatures cover those bytes, not a re-serialisation.
 */
import { isIP } from 'node:net';
import { DOMParser, type Element } from '@xmldom/xmldom';
import { fromHex } from '../wire';
import { ConfigurationFormatError, ConfigurationNamespaceError, UnsupportedMandatoryExtensionError } from './errors';
import {
  CHORD_NS,
  CONFIG_DEFAULTS,
  CONFIG_NS,
  IANA_KINDS,
  SELF_TUNING_NS,
  SELF_TUNING_PLUGIN,
  SIP_NS,
  SUPPORTED_EXTENSIONS,
  type AccessControl,
  type DataModelName,
  type KindDefinition,
  type OverlayConfiguration,
} from './model';

/** Largest document accepted (a configuration is a few kilobytes; root certificates dominate). */
export const MAX_CONFIG_BYTES = 1 << 20;

function fail(field: string, message: string): never {
  throw new ConfigurationFormatError(message, field);
}

function elements(parent: Element): Element[] {
  const out: Element[] = [];
  for (let n = parent.firstChild; n; n = n.nextSibling) if (n.nodeType === 1) out.push(n as Element);
  return out;
}

function text(el: Element): string {
  return (el.textContent ?? '').trim();
}

function integer(value: string, field: string, min: number, max: number): number {
  if (!/^[+-]?\d+$/.test(value)) fail(field, `"${value}" is not an integer`);
  const n = Number(value);
  if (n < min || n > max) fail(field, `${n} is outside ${min}..${max}`);
  return n;
}

function boolean(value: string, field: string): boolean {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  return fail(field, `"${value}" is not an xsd:boolean (true, false, 1, 0)`);
}

function base64(value: string, field: string): Uint8Array {
  const compact = value.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0 || compact.length === 0) {
    fail(field, 'is not base64');
  }
  return new Uint8Array(Buffer.from(compact, 'base64'));
}

function nodeIdHex(value: string, field: string, length: number): Uint8Array {
  const hex = value.replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== length * 2)
    fail(field, `"${value}" is not a ${length}-byte hex Node-ID`);
  return fromHex(hex);
}

/** The exact source text of each element with this local name, in document order. */
function rawElements(source: string, localName: string): string[] {
  const re = new RegExp(
    `<((?:[A-Za-z_][\\w.-]*:)?)${localName}(?=[\\s/>])(?:[^>]*?/>|[\\s\\S]*?</\\1${localName}\\s*>)`,
    'g',
  );
  return [...source.matchAll(re)].map((m) => m[0]);
}

export function parseConfigurationDocument(source: string): OverlayConfiguration[] {
  if (source.length > MAX_CONFIG_BYTES) fail('overlay', `document larger than ${MAX_CONFIG_BYTES} bytes`);
  const problems: string[] = [];
  let doc: ReturnType<DOMParser['parseFromString']>;
  try {
    doc = new DOMParser({
      onError: (level, message) => {
        if (level !== 'warning') problems.push(message);
      },
    }).parseFromString(source, 'text/xml');
  } catch (error) {
    // xmldom throws its own ParseError on fatal errors.
    return fail('overlay', `not well-formed XML: ${(error as Error).message}`);
  }
  if (problems.length > 0 || !doc.documentElement)
    fail('overlay', `not well-formed XML: ${problems[0] ?? 'no root element'}`);
  const root = doc.documentElement as Element;
  if (root.localName !== 'overlay' || root.namespaceURI !== CONFIG_NS) {
    throw new ConfigurationNamespaceError(
      `root must be <overlay xmlns="${CONFIG_NS}">, found <${root.localName ?? root.nodeName}> in ${root.namespaceURI ?? 'no namespace'}`,
      'overlay',
    );
  }
  const raws = rawElements(source, 'configuration');
  const configurations: OverlayConfiguration[] = [];
  for (const el of elements(root)) {
    if (el.namespaceURI !== CONFIG_NS) continue; // foreign content at document level: ignored
    if (el.localName === 'configuration') {
      const raw = raws[configurations.length];
      if (raw === undefined) fail('configuration', 'could not locate the element text for its signature');
      configurations.push(parseConfiguration(el, raw));
    } else if (el.localName === 'signature') {
      const last = configurations.at(-1);
      if (!last) fail('signature', 'a <signature> must follow a <configuration>');
      if (last.signature !== undefined) fail('signature', 'a configuration has at most one signature here');
      base64(text(el), 'signature');
      last.signature = text(el).replace(/\s+/g, '');
    } else {
      fail(el.localName ?? el.nodeName, 'is not an element of <overlay>');
    }
  }
  if (configurations.length === 0) fail('overlay', 'contains no <configuration>');
  if (raws.length !== configurations.length)
    fail('configuration', 'element text and structure disagree (comment or CDATA?)');
  return configurations;
}

function parseConfiguration(el: Element, xml: string): OverlayConfiguration {
  const at = (name: string) => `configuration/${name}`;
  const instanceName = el.getAttribute('instance-name') ?? '';
  if (!/^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(instanceName)) {
    fail('configuration/@instance-name', `"${instanceName}" is not a DNS name`);
  }
  const sequenceAttr = el.getAttribute('sequence');
  const sequence =
    sequenceAttr === null || sequenceAttr === '' ? 0 : integer(sequenceAttr, 'configuration/@sequence', 0, 65534);
  const expirationAttr = el.getAttribute('expiration');
  let expiration: Date | undefined;
  if (expirationAttr) {
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(expirationAttr)) {
      fail('configuration/@expiration', `"${expirationAttr}" is not an RFC 3339 date-time`);
    }
    expiration = new Date(expirationAttr);
    if (Number.isNaN(expiration.getTime()))
      fail('configuration/@expiration', `"${expirationAttr}" is not a valid time`);
  }

  const singles = new Map<string, Element>();
  const lists = new Map<string, Element[]>();
  const ignoredExtensions: string[] = [];
  const chord = { ...CONFIG_DEFAULTS.chord };
  let peersToProbe: number | undefined;
  const repeatable = new Set([
    'root-cert',
    'enrollment-server',
    'bootstrap-node',
    'overlay-link-protocol',
    'kind-signer',
    'configuration-signer',
    'bad-node',
    'mandatory-extension',
  ]);
  const singular = new Set([
    'topology-plugin',
    'node-id-length',
    'self-signed-permitted',
    'turn-density',
    'clients-permitted',
    'no-ice',
    'shared-secret',
    'max-message-size',
    'initial-ttl',
    'overlay-reliability-timer',
    'required-kinds',
  ]);
  for (const child of elements(el)) {
    const name = child.localName ?? '';
    if (child.namespaceURI === CONFIG_NS) {
      if (repeatable.has(name)) lists.set(name, [...(lists.get(name) ?? []), child]);
      else if (singular.has(name)) {
        if (singles.has(name)) fail(at(name), 'appears more than once');
        singles.set(name, child);
      } else fail(at(name), 'is not an element of <configuration>');
    } else if (child.namespaceURI === CHORD_NS) {
      if (name === 'chord-update-interval') chord.updateInterval = integer(text(child), at(name), 1, 86_400 * 365);
      else if (name === 'chord-ping-interval') chord.pingInterval = integer(text(child), at(name), 1, 86_400 * 365);
      else if (name === 'chord-reactive') chord.reactive = boolean(text(child), at(name));
      else fail(at(`chord:${name}`), 'is not a CHORD-RELOAD configuration element');
    } else if (child.namespaceURI === SELF_TUNING_NS) {
      const field = at(`self-tuning:${name}`);
      if (name !== 'number-of-peers-to-probe') fail(field, 'is not a self-tuning configuration element');
      if (peersToProbe !== undefined) fail(field, 'appears more than once');
      peersToProbe = integer(text(child), field, 1, 128);
    } else {
      ignoredExtensions.push(`{${child.namespaceURI ?? ''}}${name}`);
    }
  }
  const list = (name: string) => lists.get(name) ?? [];
  const value = (name: string): string | undefined => {
    const e = singles.get(name);
    return e ? text(e) : undefined;
  };
  const num = (name: string, min: number, max: number, fallback: number): number => {
    const v = value(name);
    return v === undefined ? fallback : integer(v, at(name), min, max);
  };
  const flag = (name: string, fallback: boolean): boolean => {
    const v = value(name);
    return v === undefined ? fallback : boolean(v, at(name));
  };

  const nodeIdLength = num('node-id-length', 16, 20, CONFIG_DEFAULTS.nodeIdLength);
  const mandatoryExtensions = list('mandatory-extension').map((e) => text(e));
  for (const ns of mandatoryExtensions) {
    if (!SUPPORTED_EXTENSIONS.has(ns)) {
      throw new UnsupportedMandatoryExtensionError(
        `this implementation does not support the extension ${ns}`,
        at('mandatory-extension'),
      );
    }
  }
  const topologyPlugin = value('topology-plugin') ?? CONFIG_DEFAULTS.topologyPlugin;
  if (topologyPlugin === SELF_TUNING_PLUGIN && !mandatoryExtensions.includes(SELF_TUNING_NS))
    fail(at('mandatory-extension'), `${SELF_TUNING_PLUGIN} needs ${SELF_TUNING_NS} listed as a mandatory-extension`);
  const selfSigned = singles.get('self-signed-permitted');
  const digest = selfSigned?.getAttribute('digest') || CONFIG_DEFAULTS.selfSignedDigest;
  if (digest !== 'sha1' && digest !== 'sha256')
    fail(at('self-signed-permitted/@digest'), `"${digest}" is not sha1 or sha256`);

  const enrollmentServers = list('enrollment-server').map((e) => {
    const url = text(e);
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      fail(at('enrollment-server'), `"${url}" is not a URL`);
    }
    if (parsed?.protocol !== 'https:') fail(at('enrollment-server'), `"${url}" must be an https URL`);
    return url;
  });
  const bootstrapNodes = list('bootstrap-node').map((e) => {
    const address = e.getAttribute('address') ?? '';
    if (isIP(address) === 0) fail(at('bootstrap-node/@address'), `"${address}" is not an IPv4 or IPv6 address`);
    const portAttr = e.getAttribute('port');
    const port = portAttr ? integer(portAttr, at('bootstrap-node/@port'), 1, 65535) : CONFIG_DEFAULTS.bootstrapPort;
    return { address, port };
  });
  const requiredKinds = singles.get('required-kinds');
  const kinds = requiredKinds ? parseKinds(requiredKinds, xml) : [];
  const ids = new Set<number>();
  for (const k of kinds) {
    if (ids.has(k.id)) fail(at('required-kinds'), `Kind ${k.id} is defined twice`);
    ids.add(k.id);
  }
  const overlayReliabilityTimer = num(
    'overlay-reliability-timer',
    200,
    3_600_000,
    CONFIG_DEFAULTS.overlayReliabilityTimer,
  );

  return {
    instanceName: instanceName.toLowerCase(),
    sequence,
    ...(expiration ? { expiration } : {}),
    topologyPlugin,
    nodeIdLength,
    rootCerts: list('root-cert').map((e) => base64(text(e), at('root-cert'))),
    enrollmentServers,
    selfSignedPermitted: selfSigned ? boolean(text(selfSigned), at('self-signed-permitted')) : false,
    selfSignedDigest: digest as 'sha1' | 'sha256',
    bootstrapNodes,
    turnDensity: num('turn-density', 0, 255, CONFIG_DEFAULTS.turnDensity),
    clientsPermitted: flag('clients-permitted', CONFIG_DEFAULTS.clientsPermitted),
    noIce: flag('no-ice', CONFIG_DEFAULTS.noIce),
    chord,
    ...(topologyPlugin === SELF_TUNING_PLUGIN
      ? { selfTuning: { peersToProbe: peersToProbe ?? CONFIG_DEFAULTS.selfTuning.peersToProbe } }
      : {}),
    ...(value('shared-secret') !== undefined ? { sharedSecret: value('shared-secret') as string } : {}),
    maxMessageSize: num('max-message-size', 38, 0xffffffff, CONFIG_DEFAULTS.maxMessageSize),
    initialTtl: num('initial-ttl', 1, 255, CONFIG_DEFAULTS.initialTtl),
    overlayReliabilityTimer,
    overlayLinkProtocols: list('overlay-link-protocol').length
      ? list('overlay-link-protocol').map((e) => text(e))
      : [...CONFIG_DEFAULTS.overlayLinkProtocols],
    kindSigners: list('kind-signer').map((e) => nodeIdHex(text(e), at('kind-signer'), nodeIdLength)),
    configurationSigners: list('configuration-signer').map((e) =>
      nodeIdHex(text(e), at('configuration-signer'), nodeIdLength),
    ),
    badNodes: list('bad-node').map((e) => nodeIdHex(text(e), at('bad-node'), nodeIdLength)),
    mandatoryExtensions,
    kinds,
    ignoredExtensions,
    xml,
  };
}

const DATA_MODELS: readonly DataModelName[] = ['SINGLE', 'ARRAY', 'DICTIONARY'];
const POLICIES: readonly AccessControl[] = ['USER-MATCH', 'NODE-MATCH', 'USER-NODE-MATCH', 'NODE-MULTIPLE'];

/** The kind-blocks of a <required-kinds> element (kind-block.ts parses a ConfigUpdate's lone kind-block with it). */
export function parseKinds(requiredKinds: Element, configurationXml: string): KindDefinition[] {
  const raws = rawElements(configurationXml, 'kind');
  const kinds: KindDefinition[] = [];
  for (const block of elements(requiredKinds)) {
    const field = `required-kinds/kind-block[${kinds.length + 1}]`;
    if (block.namespaceURI !== CONFIG_NS || block.localName !== 'kind-block')
      fail(`required-kinds/${block.localName}`, 'only <kind-block> elements belong here');
    const parts = elements(block).filter((e) => e.namespaceURI === CONFIG_NS);
    const kindEl = parts.find((e) => e.localName === 'kind');
    const signatureEl = parts.find((e) => e.localName === 'kind-signature');
    if (!kindEl) fail(field, 'has no <kind>');
    const raw = raws[kinds.length];
    if (raw === undefined) fail(field, 'could not locate the <kind> text for its signature');
    const kind = parseKind(kindEl, raw, `${field}/kind`);
    if (signatureEl) {
      base64(text(signatureEl), `${field}/kind-signature`);
      kind.signature = text(signatureEl).replace(/\s+/g, '');
    }
    kinds.push(kind);
  }
  return kinds;
}

function parseKind(el: Element, xml: string, field: string): KindDefinition {
  const name = el.getAttribute('name') || undefined;
  const idAttr = el.getAttribute('id') || undefined;
  if ((name === undefined) === (idAttr === undefined)) fail(field, 'needs exactly one of the attributes name and id');
  let id: number;
  if (name !== undefined) {
    const iana = IANA_KINDS[name];
    if (!iana) fail(`${field}/@name`, `"${name}" is not a registered Kind name`);
    id = iana.id;
  } else {
    id = integer(idAttr as string, `${field}/@id`, 0xf0000001, 0xfffffffe);
  }
  const values = new Map<string, string>();
  let sipDomainRestriction: KindDefinition['sipDomainRestriction'];
  for (const child of elements(el)) {
    const local = child.localName ?? '';
    if (child.namespaceURI === CONFIG_NS) {
      if (!['max-count', 'max-size', 'data-model', 'access-control', 'max-node-multiple'].includes(local)) {
        fail(`${field}/${local}`, 'is not an element of <kind>');
      }
      if (values.has(local)) fail(`${field}/${local}`, 'appears more than once');
      values.set(local, text(child));
    } else if (child.namespaceURI === SIP_NS && local === 'domain-restriction') {
      const enabled = boolean(child.getAttribute('enable') ?? '', `${field}/sip:domain-restriction/@enable`);
      const patterns = elements(child)
        .filter((p) => p.namespaceURI === SIP_NS && p.localName === 'pattern')
        .map((p) => text(p));
      for (const pattern of patterns) {
        try {
          new RegExp(`^(?:${pattern})$`);
        } catch {
          fail(`${field}/sip:domain-restriction/sip:pattern`, `"${pattern}" is not a regular expression`);
        }
      }
      sipDomainRestriction = { enabled, patterns };
    }
  }
  const need = (k: string) => values.get(k) ?? fail(`${field}/${k}`, 'is required');
  const dataModel = need('data-model') as DataModelName;
  if (!DATA_MODELS.includes(dataModel))
    fail(`${field}/data-model`, `"${dataModel}" is not SINGLE, ARRAY or DICTIONARY`);
  const accessControl = need('access-control') as AccessControl;
  if (!POLICIES.includes(accessControl)) fail(`${field}/access-control`, `"${accessControl}" is not a known policy`);
  if (name !== undefined) {
    const iana = IANA_KINDS[name] as (typeof IANA_KINDS)[string];
    if (dataModel !== iana.dataModel || accessControl !== iana.accessControl) {
      fail(
        field,
        `${name} is registered as ${iana.dataModel}/${iana.accessControl}, not ${dataModel}/${accessControl}`,
      );
    }
  }
  const kind: KindDefinition = {
    id,
    ...(name ? { name } : {}),
    maxCount: integer(need('max-count'), `${field}/max-count`, 0, 0x7fffffff),
    maxSize: integer(need('max-size'), `${field}/max-size`, 0, 0x7fffffff),
    dataModel,
    accessControl,
    xml,
  };
  if (accessControl === 'NODE-MULTIPLE') {
    kind.maxNodeMultiple = integer(need('max-node-multiple'), `${field}/max-node-multiple`, 1, 0x7fffffff);
  } else if (values.has('max-node-multiple')) {
    fail(`${field}/max-node-multiple`, 'only belongs to NODE-MULTIPLE kinds');
  }
  if (sipDomainRestriction) {
    if (id !== IANA_KINDS['SIP-REGISTRATION']?.id)
      fail(`${field}/sip:domain-restriction`, 'only applies to SIP-REGISTRATION');
    kind.sipDomainRestriction = sipDomainRestriction;
  }
  return kind;
}
