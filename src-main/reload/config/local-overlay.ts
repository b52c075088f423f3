/**
 * The zero-configuration local overlay: the configuration the app carries built in, for peers on one LAN that
 * find each other by DNS-SD over multicast DNS (reload/discovery) with no server at all. It is not fetched and
 * not signed: it is part of the program, so the program is what vouches for it (docs/decisions.md).
 *
 *   instance-name        local.reload-softphone.invalid (".invalid", RFC 6761: never resolvable, never anyone's)
 *   self-signed-permitted true, digest sha256: every peer makes its own identity, Node-ID = digest of its key
 *   root-cert, enrollment-server, bootstrap-node   none: bootstrap addresses come from local discovery
 *   no-ice               false: ICE host candidates + DTLS-UDP-SR (works on every interface of a multi-homed
 *                        host; bootstrap links are DTLS-UDP-SR-NO-ICE, announced as `_reload._udp`)
 *   kinds                SIP-REGISTRATION, CERTIFICATE_BY_NODE, CERTIFICATE_BY_USER, TURN-SERVICE
 *
 * Identities in this overlay are UNVERIFIED: the user name in a self-signed certificate is whatever its maker
 * typed, so anyone on the LAN can claim any name. Callers must show it as such (docs/decisions.md).
 */
import { defaultKinds, type NewConfiguration } from './create';
import { CONFIG_DEFAULTS, type OverlayConfiguration } from './model';
import { parseConfigurationDocument } from './parse';
import { configurationDocument, configurationXml, kindXml } from './serialize';

/** The local overlay's instance name. `.invalid` (RFC 6761 §6.4) can never name a real overlay or server. */
export const LOCAL_OVERLAY_NAME = 'local.reload-softphone.invalid';

/** The input the embedded configuration is built from (fixed: every copy of the app must build the same). */
export function localOverlayConfigurationInput(): NewConfiguration {
  return {
    instanceName: LOCAL_OVERLAY_NAME,
    sequence: 1,
    // No expiration: the document ships with the program and lives as long as it does.
    topologyPlugin: CONFIG_DEFAULTS.topologyPlugin,
    nodeIdLength: CONFIG_DEFAULTS.nodeIdLength,
    rootCerts: [],
    enrollmentServers: [],
    selfSignedPermitted: true,
    selfSignedDigest: 'sha256',
    bootstrapNodes: [],
    turnDensity: CONFIG_DEFAULTS.turnDensity,
    clientsPermitted: CONFIG_DEFAULTS.clientsPermitted,
    noIce: false,
    chord: { ...CONFIG_DEFAULTS.chord },
    maxMessageSize: CONFIG_DEFAULTS.maxMessageSize,
    initialTtl: CONFIG_DEFAULTS.initialTtl,
    overlayReliabilityTimer: CONFIG_DEFAULTS.overlayReliabilityTimer,
    overlayLinkProtocols: ['DTLS'],
    kindSigners: [],
    configurationSigners: [],
    badNodes: [],
    mandatoryExtensions: [],
    kinds: defaultKinds(),
  };
}

/** The embedded configuration document (unsigned XML), as `overlay init` would write it. */
export function localOverlayConfigurationDocument(): string {
  const input = localOverlayConfigurationInput();
  const xml = configurationXml({ ...input, kinds: input.kinds.map((k) => ({ xml: kindXml(k) })) });
  return configurationDocument([{ xml }]);
}

/**
 * The local overlay's configuration, parsed from the embedded document by the same parser as any other (so
 * it has every default and the exact element text), without signature checks: nobody signs it.
 */
export function localOverlayConfiguration(): OverlayConfiguration {
  const [configuration] = parseConfigurationDocument(localOverlayConfigurationDocument());
  return configuration as OverlayConfiguration;
}

/** Whether a configuration is the embedded local overlay (the UI marks its identities as unverified). */
export function isLocalOverlay(configuration: Pick<OverlayConfiguration, 'instanceName'>): boolean {
  return configuration.instanceName.toLowerCase() === LOCAL_OVERLAY_NAME;
}
