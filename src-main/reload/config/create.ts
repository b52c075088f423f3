/** Builds a signed configuration document: every kind-block signed, then the configuration itself. */
import type { Signer } from '../crypto';
import { CONFIG_DEFAULTS, type OverlayConfiguration } from './model';
import { configurationDocument, configurationXml, kindXml, type ConfigurationInput, type KindInput } from './serialize';
import { signText } from './signature';

export type NewConfiguration = Omit<ConfigurationInput, 'kinds'> & { kinds: KindInput[] };

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
  return configurationDocument([signedConfiguration(input, kindSigner, configurationSigner)]);
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

/** A configuration with RFC 6940's defaults, the default kinds, and no trust anchors or signers yet. */
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
    maxMessageSize: CONFIG_DEFAULTS.maxMessageSize,
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
