/**
 * Writes configuration documents (for `overlay init` and tests): kind-blocks and configurations are built
 * as text, signed over exactly that text, and assembled. Only what differs from the defaults is written,
 * except the elements operators expect to read (topology, node-id-length, limits).
 */
import { toHex } from '../wire';
import {
  CHORD_NS,
  CONFIG_NS,
  SELF_TUNING_NS,
  SIP_NS,
  type BootstrapNode,
  type KindDefinition,
  type OverlayConfiguration,
} from './model';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

export type KindInput = Omit<KindDefinition, 'xml' | 'signature'>;

export function kindXml(kind: KindInput): string {
  const ident = kind.name ? `name="${esc(kind.name)}"` : `id="${kind.id}"`;
  const lines = [
    `<kind ${ident}>`,
    `        <max-count>${kind.maxCount}</max-count>`,
    `        <max-size>${kind.maxSize}</max-size>`,
    `        <data-model>${kind.dataModel}</data-model>`,
    `        <access-control>${kind.accessControl}</access-control>`,
  ];
  if (kind.maxNodeMultiple !== undefined)
    lines.push(`        <max-node-multiple>${kind.maxNodeMultiple}</max-node-multiple>`);
  if (kind.sipDomainRestriction) {
    const d = kind.sipDomainRestriction;
    lines.push(
      `        <sip:domain-restriction xmlns:sip="${SIP_NS}" enable="${d.enabled}">`,
      ...d.patterns.map((p) => `          <sip:pattern>${esc(p)}</sip:pattern>`),
      `        </sip:domain-restriction>`,
    );
  }
  lines.push('      </kind>');
  return lines.join('\n');
}

export type ConfigurationInput = Omit<OverlayConfiguration, 'xml' | 'signature' | 'kinds' | 'ignoredExtensions'> & {
  /** Each kind's <kind> text and its kind-signature (base64). */
  kinds: { xml: string; signature?: string }[];
};

export function configurationXml(c: ConfigurationInput): string {
  const el = (name: string, value: string | number | boolean) => `  <${name}>${esc(String(value))}</${name}>`;
  const attrs = [`instance-name="${esc(c.instanceName)}"`, `sequence="${c.sequence}"`];
  if (c.expiration) attrs.push(`expiration="${c.expiration.toISOString().replace(/\.\d{3}Z$/, 'Z')}"`);
  const lines = [
    `<configuration ${attrs.join(' ')} xmlns:chord="${CHORD_NS}">`,
    el('topology-plugin', c.topologyPlugin),
    el('node-id-length', c.nodeIdLength),
    ...c.rootCerts.map((r) => el('root-cert', b64(r))),
    ...c.enrollmentServers.map((u) => el('enrollment-server', u)),
  ];
  if (c.selfSignedPermitted)
    lines.push(`  <self-signed-permitted digest="${c.selfSignedDigest}">true</self-signed-permitted>`);
  lines.push(
    ...c.bootstrapNodes.map((b: BootstrapNode) => `  <bootstrap-node address="${esc(b.address)}" port="${b.port}"/>`),
    el('turn-density', c.turnDensity),
    el('clients-permitted', c.clientsPermitted),
    el('no-ice', c.noIce),
    el('chord:chord-update-interval', c.chord.updateInterval),
    el('chord:chord-ping-interval', c.chord.pingInterval),
    el('chord:chord-reactive', c.chord.reactive),
  );
  if (c.selfTuning)
    lines.push(
      `  <self-tuning:number-of-peers-to-probe xmlns:self-tuning="${SELF_TUNING_NS}">${c.selfTuning.peersToProbe}</self-tuning:number-of-peers-to-probe>`,
    );
  if (c.sharedSecret !== undefined) lines.push(el('shared-secret', c.sharedSecret));
  lines.push(
    el('max-message-size', c.maxMessageSize),
    el('initial-ttl', c.initialTtl),
    el('overlay-reliability-timer', c.overlayReliabilityTimer),
    ...c.overlayLinkProtocols.map((p) => el('overlay-link-protocol', p)),
    ...c.kindSigners.map((n) => el('kind-signer', toHex(n))),
    ...c.configurationSigners.map((n) => el('configuration-signer', toHex(n))),
    ...c.badNodes.map((n) => el('bad-node', toHex(n))),
    ...c.mandatoryExtensions.map((m) => el('mandatory-extension', m)),
  );
  if (c.kinds.length > 0) {
    lines.push('  <required-kinds>');
    for (const k of c.kinds) {
      lines.push('    <kind-block>', `      ${k.xml}`);
      if (k.signature) lines.push(`      <kind-signature>${k.signature}</kind-signature>`);
      lines.push('    </kind-block>');
    }
    lines.push('  </required-kinds>');
  }
  lines.push('</configuration>');
  return lines.join('\n');
}

/** The whole document: each configuration followed by its signature. */
export function configurationDocument(parts: { xml: string; signature?: string }[]): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<overlay xmlns="${CONFIG_NS}">`,
    ...parts.flatMap((p) => [p.xml, ...(p.signature ? [`<signature>${p.signature}</signature>`] : [])]),
    '</overlay>',
    '',
  ].join('\n');
}
