/**
 * Builds a signed configuration document: every kind-block signed, then the configuration itself. Every
 * document built here fits a ConfigUpdate under its own max-message-size: a node MUST send its document to a
 * peer with an older one (RFC 6940 §6.3.2.1), and that message is bound by max-message-size like any other.
 */
import type { Signer } from '../crypto';
import { ConfigurationError } from './errors';
import { CONFIG_DEFAULTS, type OverlayConfiguration } from './model';
import { configurationDocument, configurationXml, kindXml, type ConfigurationInput, type KindInput } from './serialize';
import { signText } from './signature';

export type NewConfiguration = Omit<ConfigurationInput, 'kinds'> & { kinds: KindInput[] };

/**
 * What a ConfigUpdate needs besides the document: forwarding header with a via list, body lengths, and the
 * security block with the sender's certificate and signature. Measured: 1.4 KB for an RSA-2048 sender ten
 * hops away (test/security/config-update-size.test.ts). ConfigUpdateService holds to the same room.
 */
export const CONFIG_UPDATE_ALLOWANCE = 2048;

/**
 * The max-message-size `overlay init` writes. RFC 6940's default of 5000 cannot carry a signed document (its
 * four kind-signatures each carry the signer's certificate: 5.6 KB for ECDSA, 11.5 KB for RSA with a root
 * certificate). 32 KiB holds twice the RSA document's ConfigUpdate: a later sequence may grow and still reach
 * peers that hold this one's limit.
 */
export const GENERATED_MAX_MESSAGE_SIZE = 32_768;

/** A document that no ConfigUpdate could carry under its max-message-size. */
export class ConfigurationTooLargeError extends ConfigurationError {}

const utf8 = new TextEncoder();

/** Whether a ConfigUpdate carrying `document` fits messages of `maxMessageSize` bytes. */
export function configUpdateFits(document: string, maxMessageSize: number): boolean {
  return utf8.encode(document).length + CONFIG_UPDATE_ALLOWANCE <= maxMessageSize;
}

/** Throws ConfigurationTooLargeError, naming both sizes, when a ConfigUpdate could not carry `document`. */
export function checkConfigUpdateFits(document: string, maxMessageSize: number): void {
  if (configUpdateFits(document, maxMessageSize)) return;
  const bytes = utf8.encode(document).length;
  throw new ConfigurationTooLargeError(
    `a ConfigUpdate carrying this ${bytes}-byte document needs up to ${bytes + CONFIG_UPDATE_ALLOWANCE} bytes, more than max-message-size ${maxMessageSize}`,
    'configuration/max-message-size',
  );
}

export function signedConfiguration(
  input: NewConfiguration,
  kindSigner: Signer,
  configurationSigner: Signer,
): { xml: string; signature: string } {
  const kinds = input.kinds.map((k) => {
    const xml = kindXml(k);
    return { xml, signature: signText(xml, kindSigner) };
  });
  const xml = configurationXml({ ...input, kinds });
  return { xml, signature: signText(xml, configurationSigner) };
}

export function signedConfigurationDocument(
  input: NewConfiguration,
  kindSigner: Signer,
  configurationSigner: Signer,
): string {
  const document = configurationDocument([signedConfiguration(input, kindSigner, configurationSigner)]);
  checkConfigUpdateFits(document, input.maxMessageSize);
  return document;
}

/** The defaults `overlay init` starts from (RFC 6940 defaults; the kinds a softphone overlay needs). */
export function defaultKinds(): KindInput[] {
  return [
    {
      id: 0x1,
      name: 'SIP-REGISTRATION',
      maxCount: 10,
      maxSize: 1000,
      dataModel: 'DICTIONARY',
      accessControl: 'USER-NODE-MATCH',
    },
    {
      id: 0x3,
      name: 'CERTIFICATE_BY_NODE',
      maxCount: 4,
      maxSize: 4000,
      dataModel: 'ARRAY',
      accessControl: 'NODE-MATCH',
    },
    {
      id: 0x10,
      name: 'CERTIFICATE_BY_USER',
      maxCount: 4,
      maxSize: 4000,
      dataModel: 'ARRAY',
      accessControl: 'USER-MATCH',
    },
    {
      id: 0x2,
      name: 'TURN-SERVICE',
      maxCount: 20,
      maxSize: 100,
      dataModel: 'SINGLE',
      accessControl: 'NODE-MULTIPLE',
      maxNodeMultiple: 20,
    },
  ];
}

/**
 * A configuration with RFC 6940's defaults (but a max-message-size a ConfigUpdate of it fits), the default
 * kinds, and no trust anchors or signers yet.
 */
export function defaultConfiguration(instanceName: string): NewConfiguration {
  return {
    instanceName,
    sequence: 1,
    expiration: new Date(Date.now() + 365 * 86_400_000),
    topologyPlugin: CONFIG_DEFAULTS.topologyPlugin,
    nodeIdLength: CONFIG_DEFAULTS.nodeIdLength,
    rootCerts: [],
    enrollmentServers: [],
    selfSignedPermitted: false,
    selfSignedDigest: 'sha256',
    bootstrapNodes: [],
    turnDensity: CONFIG_DEFAULTS.turnDensity,
    clientsPermitted: CONFIG_DEFAULTS.clientsPermitted,
    noIce: CONFIG_DEFAULTS.noIce,
    chord: { ...CONFIG_DEFAULTS.chord },
    maxMessageSize: GENERATED_MAX_MESSAGE_SIZE,
    initialTtl: CONFIG_DEFAULTS.initialTtl,
    overlayReliabilityTimer: CONFIG_DEFAULTS.overlayReliabilityTimer,
    overlayLinkProtocols: [...CONFIG_DEFAULTS.overlayLinkProtocols],
    kindSigners: [],
    configurationSigners: [],
    badNodes: [],
    mandatoryExtensions: [],
    kinds: defaultKinds(),
  };
}

export type { OverlayConfiguration };
