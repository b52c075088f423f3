/** The overlay configuration document (RFC 6940 §11.1 + RFC 7904 §3.4) as the rest of the code sees it. */
export const CONFIG_NS = 'urn:ietf:params:xml:ns:p2p:config-base';
export const CHORD_NS = 'urn:ietf:params:xml:ns:p2p:config-chord';
export const SIP_NS = 'urn:ietf:params:xml:ns:p2p:config-base:sip';
/** RFC 7363 self-tuning (topology-plugin CHORD-SELF-TUNING). */
export const SELF_TUNING_NS = 'urn:ietf:params:xml:ns:p2p:self-tuning';
export const SELF_TUNING_PLUGIN = 'CHORD-SELF-TUNING';
/** Extension namespaces this implementation understands (for mandatory-extension). */
export const SUPPORTED_EXTENSIONS: ReadonlySet<string> = new Set([CHORD_NS, SIP_NS, SELF_TUNING_NS]);

export type DataModelName = 'SINGLE' | 'ARRAY' | 'DICTIONARY';
export type AccessControl = 'USER-MATCH' | 'NODE-MATCH' | 'USER-NODE-MATCH' | 'NODE-MULTIPLE';

export interface KindDefinition {
  id: number;
  /** IANA name (SIP-REGISTRATION, …) when the kind is identified by name. */
  name?: string;
  maxCount: number;
  maxSize: number;
  dataModel: DataModelName;
  accessControl: AccessControl;
  maxNodeMultiple?: number;
  /** RFC 7904 sip:domain-restriction (SIP-REGISTRATION only). */
  sipDomainRestriction?: { enabled: boolean; patterns: string[] };
  /** The exact text of the <kind> element, which the kind-signature covers. */
  xml: string;
  /** base64 SecurityBlock from <kind-signature>. */
  signature?: string;
}

export interface BootstrapNode {
  address: string;
  port: number;
}

export interface OverlayConfiguration {
  instanceName: string;
  sequence: number;
  expiration?: Date;
  topologyPlugin: string;
  nodeIdLength: number;
  rootCerts: Uint8Array[];
  enrollmentServers: string[];
  selfSignedPermitted: boolean;
  selfSignedDigest: 'sha1' | 'sha256';
  bootstrapNodes: BootstrapNode[];
  turnDensity: number;
  clientsPermitted: boolean;
  noIce: boolean;
  chord: { updateInterval: number; pingInterval: number; reactive: boolean };
  /**
   * RFC 7363 self-tuning: present iff topology-plugin is CHORD-SELF-TUNING (which needs the self-tuning
   * namespace in mandatory-extension); peersToProbe from self-tuning:number-of-peers-to-probe (default 4).
   */
  selfTuning?: { peersToProbe: number };
  sharedSecret?: string;
  maxMessageSize: number;
  initialTtl: number;
  overlayReliabilityTimer: number;
  overlayLinkProtocols: string[];
  kindSigners: Uint8Array[];
  configurationSigners: Uint8Array[];
  badNodes: Uint8Array[];
  mandatoryExtensions: string[];
  kinds: KindDefinition[];
  /** Foreign elements we do not interpret, as "{namespace}local-name". */
  ignoredExtensions: string[];
  /** The exact text of this <configuration> element, which its signature covers. */
  xml: string;
  /** base64 SecurityBlock from the <signature> element that follows it. */
  signature?: string;
}

/** The Kinds IANA registered, with the data model and policy every member must use. */
export const IANA_KINDS: Readonly<
  Record<string, { id: number; dataModel: DataModelName; accessControl: AccessControl }>
> = {
  'SIP-REGISTRATION': { id: 0x1, dataModel: 'DICTIONARY', accessControl: 'USER-NODE-MATCH' },
  'TURN-SERVICE': { id: 0x2, dataModel: 'SINGLE', accessControl: 'NODE-MULTIPLE' },
  CERTIFICATE_BY_NODE: { id: 0x3, dataModel: 'ARRAY', accessControl: 'NODE-MATCH' },
  CERTIFICATE_BY_USER: { id: 0x10, dataModel: 'ARRAY', accessControl: 'USER-MATCH' },
};

export const CONFIG_DEFAULTS = {
  topologyPlugin: 'CHORD-RELOAD',
  nodeIdLength: 16,
  selfSignedDigest: 'sha1' as const,
  turnDensity: 1,
  clientsPermitted: true,
  noIce: false,
  chord: { updateInterval: 600, pingInterval: 3600, reactive: true },
  selfTuning: { peersToProbe: 4 },
  maxMessageSize: 5000,
  initialTtl: 100,
  overlayReliabilityTimer: 3000,
  overlayLinkProtocols: ['TLS'],
  bootstrapPort: 6084,
};
