/**
 * Parses and validates the configuration document. Every element of RFC 6940 §11.1 and RFC 7904's
 * sip:domain-restriction is read with its default; anything in the base namespace that is not defined there
 * is an error, foreign elements inside a configuration or kind are kept aside unless they belong to a
 * mandatory-extension we do not support. Signatures cover the exact text of each <configuration> and <kind>
 * element, so that text is cut out of the source at the offsets the one parse (xml-tree.ts) gave the very
 * element the values are read from; anything that could make a second reader see other signed text (a
 * repeated or misplaced signed element, foreign content beside the configurations, comments) is refused.
 */
import { isIP } from 'node:net';
import { fromHex } from '../wire';
import {
  ConfigurationFormatError,
  ConfigurationNamespaceError,
  ConfigurationWrappingError,
  UnexpectedXmlContentError,
  UnsupportedMandatoryExtensionError,
} from './errors';
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
import {
  hasText,
  parseXml,
  pathOf,
  requireSelfContainedNamespaces,
  sourceText,
  textContent,
  type XmlElement,
} from './xml-tree';

/** Largest document accepted (a configuration is a few kilobytes; root certificates dominate). */
export const MAX_CONFIG_BYTES = 1 << 20;

function fail(field: string, message: string): never {
  throw new ConfigurationFormatError(message, field);
}

/** The value of a leaf element: its text, trimmed. An element inside a value is refused, not read past. */
function text(el: XmlElement): string {
  const child = el.children[0];
  if (child) throw new ConfigurationWrappingError(`<${child.name}> inside a value`, pathOf(el));
  return textContent(el).trim();
}

/** Elements that hold elements only: text beside them is refused. */
function structural(el: XmlElement, field: string): void {
  if (hasText(el)) throw new UnexpectedXmlContentError('holds text besides its elements', field);
}

/**
 * A foreign (extension) element is ignored, so it must not hide configuration-namespace elements: a
 * <configuration> or <kind> there would be signed text that only another reader sees.
 */
function noConfigurationElementsIn(el: XmlElement, field: string): void {
  for (const child of el.children) {
    if (child.namespaceURI === CONFIG_NS)
      throw new ConfigurationWrappingError(
        `<${child.name}> of the configuration namespace inside the foreign element <${el.name}>`,
        field,
      );
    noConfigurationElementsIn(child, field);
  }
}

/** A <signature> or <kind-signature>: base64 text, nothing else. */
function signatureValue(el: XmlElement, field: string): string {
  const value = text(el);
  base64(value, field);
  return value.replace(/\s+/g, '');
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

export function parseConfigurationDocument(source: string): OverlayConfiguration[] {
  if (source.length > MAX_CONFIG_BYTES) fail('overlay', `document larger than ${MAX_CONFIG_BYTES} bytes`);
  const root = parseXml(source, 'overlay');
  if (root.localName !== 'overlay' || root.namespaceURI !== CONFIG_NS) {
    throw new ConfigurationNamespaceError(
      `root must be <overlay xmlns="${CONFIG_NS}">, found <${root.localName}> in ${root.namespaceURI ?? 'no namespace'}`,
      'overlay',
    );
  }
  structural(root, 'overlay');
  const configurations: OverlayConfiguration[] = [];
  for (const el of root.children) {
    if (el.namespaceURI !== CONFIG_NS)
      throw new ConfigurationWrappingError(
        `the foreign element {${el.namespaceURI ?? ''}}${el.localName} has no place beside the configurations`,
        `overlay/${el.name}`,
      );
    if (el.localName === 'configuration') {
      configurations.push(parseConfiguration(el, source));
    } else if (el.localName === 'signature') {
      const last = configurations.at(-1);
      if (!last) fail('signature', 'a <signature> must follow a <configuration>');
      if (last.signature !== undefined) fail('signature', 'a configuration has at most one signature here');
      last.signature = signatureValue(el, 'signature');
    } else {
      fail(el.localName, 'is not an element of <overlay>');
    }
  }
  if (configurations.length === 0) fail('overlay', 'contains no <configuration>');
  return configurations;
}

function parseConfiguration(el: XmlElement, source: string): OverlayConfiguration {
  // The values must follow from the signed text alone (a prefix bound on <overlay> could be rebound).
  requireSelfContainedNamespaces(el, CONFIG_NS);
  const xml = sourceText(source, el);
  const at = (name: string) => `configuration/${name}`;
  structural(el, 'configuration');
  const instanceName = el.attributes.get('instance-name') ?? '';
  if (!/^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(instanceName)) {
    fail('configuration/@instance-name', `"${instanceName}" is not a DNS name`);
  }
  const sequenceAttr = el.attributes.get('sequence');
  const sequence =
    sequenceAttr === undefined || sequenceAttr === '' ? 0 : integer(sequenceAttr, 'configuration/@sequence', 0, 65534);
  const expirationAttr = el.attributes.get('expiration');
  let expiration: Date | undefined;
  if (expirationAttr) {
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(expirationAttr)) {
      fail('configuration/@expiration', `"${expirationAttr}" is not an RFC 3339 date-time`);
    }
    expiration = new Date(expirationAttr);
    if (Number.isNaN(expiration.getTime()))
      fail('configuration/@expiration', `"${expirationAttr}" is not a valid time`);
  }

  const singles = new Map<string, XmlElement>();
  const lists = new Map<string, XmlElement[]>();
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
  for (const child of el.children) {
    const name = child.localName;
    if (child.namespaceURI === CONFIG_NS) {
      if (repeatable.has(name)) {
        const list = lists.get(name);
        if (list) list.push(child);
        else lists.set(name, [child]);
      } else if (singular.has(name)) {
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
      noConfigurationElementsIn(child, at(child.name));
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
  const digest = selfSigned?.attributes.get('digest') || CONFIG_DEFAULTS.selfSignedDigest;
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
    const address = e.attributes.get('address') ?? '';
    if (isIP(address) === 0) fail(at('bootstrap-node/@address'), `"${address}" is not an IPv4 or IPv6 address`);
    const portAttr = e.attributes.get('port');
    const port = portAttr ? integer(portAttr, at('bootstrap-node/@port'), 1, 65535) : CONFIG_DEFAULTS.bootstrapPort;
    return { address, port };
  });
  const requiredKinds = singles.get('required-kinds');
  const kinds = requiredKinds ? parseKinds(requiredKinds, source) : [];
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

/**
 * The kind-blocks of a <required-kinds> element, `source` the text it was parsed from (kind-block.ts parses a
 * ConfigUpdate's lone kind-block with it). A kind-block holds one <kind> and at most one <kind-signature>.
 */
export function parseKinds(requiredKinds: XmlElement, source: string): KindDefinition[] {
  structural(requiredKinds, 'required-kinds');
  const kinds: KindDefinition[] = [];
  for (const block of requiredKinds.children) {
    const field = `required-kinds/kind-block[${kinds.length + 1}]`;
    if (block.namespaceURI !== CONFIG_NS || block.localName !== 'kind-block')
      fail(`required-kinds/${block.localName}`, 'only <kind-block> elements belong here');
    structural(block, field);
    let kindEl: XmlElement | undefined;
    let signatureEl: XmlElement | undefined;
    for (const part of block.children) {
      const isConfig = part.namespaceURI === CONFIG_NS;
      if (isConfig && part.localName === 'kind') {
        if (kindEl) throw new ConfigurationWrappingError('holds a second <kind>', `${field}/kind`);
        kindEl = part;
      } else if (isConfig && part.localName === 'kind-signature') {
        if (signatureEl)
          throw new ConfigurationWrappingError('holds a second <kind-signature>', `${field}/kind-signature`);
        signatureEl = part;
      } else {
        throw new ConfigurationWrappingError(
          `<${part.name}> has no place in a kind-block (one <kind>, one <kind-signature>)`,
          `${field}/${part.name}`,
        );
      }
    }
    if (!kindEl) fail(field, 'has no <kind>');
    // Signed by a kind-signer over its own text: bindings from the configuration around it do not count.
    requireSelfContainedNamespaces(kindEl, CONFIG_NS);
    const kind = parseKind(kindEl, sourceText(source, kindEl), `${field}/kind`);
    if (signatureEl) kind.signature = signatureValue(signatureEl, `${field}/kind-signature`);
    kinds.push(kind);
  }
  return kinds;
}

function parseKind(el: XmlElement, xml: string, field: string): KindDefinition {
  structural(el, field);
  const name = el.attributes.get('name') || undefined;
  const idAttr = el.attributes.get('id') || undefined;
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
  for (const child of el.children) {
    const local = child.localName;
    if (child.namespaceURI === CONFIG_NS) {
      if (!['max-count', 'max-size', 'data-model', 'access-control', 'max-node-multiple'].includes(local)) {
        fail(`${field}/${local}`, 'is not an element of <kind>');
      }
      if (values.has(local)) fail(`${field}/${local}`, 'appears more than once');
      values.set(local, text(child));
    } else if (child.namespaceURI === SIP_NS && local === 'domain-restriction') {
      noConfigurationElementsIn(child, `${field}/sip:domain-restriction`);
      const enabled = boolean(child.attributes.get('enable') ?? '', `${field}/sip:domain-restriction/@enable`);
      const patterns = child.children
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
    } else {
      noConfigurationElementsIn(child, `${field}/${child.name}`);
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
