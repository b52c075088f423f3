/** The configuration document: round trip, defaults, signatures and every rejection. */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  acceptConfigurationDocument,
  CONFIG_NS,
  ConfigurationExpiredError,
  ConfigurationFormatError,
  ConfigurationNamespaceError,
  ConfigurationSignatureError,
  configurationDocument,
  OverlayNameMismatchError,
  parseConfigurationDocument,
  signedConfiguration,
  signedConfigurationDocument,
  signText,
  StaleConfigurationError,
  UnsupportedMandatoryExtensionError,
} from '../../../../../src-main/reload/config';
import { makeOverlay, OVERLAY, type TestOverlay } from '../../../../support/overlay-fixture';

let o: TestOverlay;
beforeAll(async () => {
  o = await makeOverlay();
});

const accept = (doc: string, extra: Partial<Parameters<typeof acceptConfigurationDocument>[1]> = {}) =>
  acceptConfigurationDocument(doc, { overlayName: OVERLAY, ...extra });

describe('configuration document', () => {
  it('round-trips every element and verifies its signatures', () => {
    const doc = signedConfigurationDocument(o.input, o.signer, o.signer);
    const c = accept(doc);
    const { kinds, ...expected } = o.input;
    expect(c).toMatchObject({
      ...expected,
      expiration: new Date(Math.floor(o.input.expiration!.getTime() / 1000) * 1000),
    });
    expect(
      c.kinds.map((k) => [k.id, k.name, k.dataModel, k.accessControl, k.maxCount, k.maxSize, k.maxNodeMultiple]),
    ).toEqual(kinds.map((k) => [k.id, k.name, k.dataModel, k.accessControl, k.maxCount, k.maxSize, k.maxNodeMultiple]));
    expect(c.kinds[0]?.sipDomainRestriction).toEqual({ enabled: true, patterns: ['.*@example\\.org'] });
    expect(c.rootCerts[0]).toEqual(o.ca.certificate);
  });

  it('fills in every default for a minimal document', () => {
    const [c] = parseConfigurationDocument(
      `<overlay xmlns="${CONFIG_NS}"><configuration instance-name="${OVERLAY}"/></overlay>`,
    );
    expect(c).toMatchObject({
      sequence: 0,
      topologyPlugin: 'CHORD-RELOAD',
      nodeIdLength: 16,
      selfSignedPermitted: false,
      selfSignedDigest: 'sha1',
      turnDensity: 1,
      clientsPermitted: true,
      noIce: false,
      chord: { updateInterval: 600, pingInterval: 3600, reactive: true },
      maxMessageSize: 5000,
      initialTtl: 100,
      overlayReliabilityTimer: 3000,
      overlayLinkProtocols: ['TLS'],
      rootCerts: [],
      bootstrapNodes: [],
      kinds: [],
    });
  });

  it('a tampered byte in the signed configuration breaks the signature', () => {
    const doc = signedConfigurationDocument(o.input, o.signer, o.signer);
    const tampered = doc.replace('<initial-ttl>100</initial-ttl>', '<initial-ttl>101</initial-ttl>');
    expect(tampered).not.toBe(doc);
    expect(() => accept(tampered)).toThrow(ConfigurationSignatureError);
    // A changed kind under a freshly signed configuration: the kind-signature still catches it.
    const { xml } = signedConfiguration(o.input, o.signer, o.signer);
    const kindTampered = xml.replace('<max-size>1000</max-size>', '<max-size>9000</max-size>');
    const resigned = configurationDocument([{ xml: kindTampered, signature: signText(kindTampered, o.signer) }]);
    expect(() => accept(resigned)).toThrow(/kind-block\[1\]\/kind-signature/);
  });

  it('an unsigned configuration, or one signed by a non-signer, is refused', async () => {
    const unsigned = configurationDocument([{ xml: signedConfiguration(o.input, o.signer, o.signer).xml }]);
    expect(() => accept(unsigned)).toThrow(/is not signed/);
    const other = await makeOverlay();
    const foreignSigner = signedConfigurationDocument({ ...o.input }, o.signer, other.signer);
    expect(() => accept(foreignSigner)).toThrow(ConfigurationSignatureError);
  });

  it('older or equal sequence numbers are refused; a newer one must be signed by a previous signer', async () => {
    const current = accept(signedConfigurationDocument({ ...o.input, sequence: 5 }, o.signer, o.signer));
    expect(() =>
      accept(signedConfigurationDocument({ ...o.input, sequence: 4 }, o.signer, o.signer), { current }),
    ).toThrow(StaleConfigurationError);
    expect(() =>
      accept(signedConfigurationDocument({ ...o.input, sequence: 5, initialTtl: 90 }, o.signer, o.signer), { current }),
    ).toThrow(StaleConfigurationError);
    expect(
      accept(signedConfigurationDocument({ ...o.input, sequence: 6 }, o.signer, o.signer), { current }).sequence,
    ).toBe(6);
    // A new configuration that names a new signer is still checked against the current signers.
    const other = await makeOverlay();
    const takeover = signedConfigurationDocument(
      { ...o.input, sequence: 7, rootCerts: [other.ca.certificate], configurationSigners: [other.signerNodeId] },
      other.signer,
      other.signer,
    );
    expect(() => accept(takeover, { current })).toThrow(ConfigurationSignatureError);
  });

  it('refuses another overlay, an expired document, a wrong namespace, broken XML and unknown elements', () => {
    expect(() =>
      acceptConfigurationDocument(signedConfigurationDocument(o.input, o.signer, o.signer), {
        overlayName: 'other.example',
      }),
    ).toThrow(OverlayNameMismatchError);
    expect(() =>
      accept(signedConfigurationDocument({ ...o.input, expiration: new Date(Date.now() - 1000) }, o.signer, o.signer)),
    ).toThrow(ConfigurationExpiredError);
    expect(() =>
      parseConfigurationDocument('<overlay xmlns="urn:example:wrong"><configuration instance-name="a"/></overlay>'),
    ).toThrow(ConfigurationNamespaceError);
    expect(() => parseConfigurationDocument('<overlay><configuration instance-name="a"/></overlay>')).toThrow(
      ConfigurationNamespaceError,
    );
    expect(() => parseConfigurationDocument(`<overlay xmlns="${CONFIG_NS}"><configuration instance-name="a">`)).toThrow(
      ConfigurationFormatError,
    );
    expect(() =>
      parseConfigurationDocument(
        `<overlay xmlns="${CONFIG_NS}"><configuration instance-name="a"><bogus/></configuration></overlay>`,
      ),
    ).toThrow(/configuration\/bogus: is not an element/);
  });

  it('refuses an unknown mandatory extension and accepts a known one; foreign elements are set aside', () => {
    const doc = (ext: string) =>
      `<overlay xmlns="${CONFIG_NS}"><configuration instance-name="a"><mandatory-extension>${ext}</mandatory-extension><x:y xmlns:x="urn:x"/></configuration></overlay>`;
    expect(() => parseConfigurationDocument(doc('urn:example:teleport'))).toThrow(UnsupportedMandatoryExtensionError);
    const [c] = parseConfigurationDocument(doc('urn:ietf:params:xml:ns:p2p:config-chord'));
    expect(c?.ignoredExtensions).toEqual(['{urn:x}y']);
  });

  it.each([
    ['<node-id-length>12</node-id-length>', /node-id-length: 12 is outside 16\.\.20/],
    ['<enrollment-server>http://a.example/enroll</enrollment-server>', /must be an https URL/],
    ['<bootstrap-node address="not-an-ip" port="6084"/>', /bootstrap-node\/@address/],
    ['<bootstrap-node address="10.0.0.1" port="70000"/>', /bootstrap-node\/@port/],
    ['<no-ice>maybe</no-ice>', /not an xsd:boolean/],
    ['<overlay-reliability-timer>100</overlay-reliability-timer>', /outside 200/],
    ['<self-signed-permitted digest="md5">true</self-signed-permitted>', /@digest/],
    ['<kind-signer>abc</kind-signer>', /16-byte hex Node-ID/],
    ['<root-cert>!!notbase64</root-cert>', /root-cert: is not base64/],
    ['<initial-ttl>1</initial-ttl><initial-ttl>2</initial-ttl>', /appears more than once/],
    [
      '<required-kinds><kind-block><kind name="SIP-REGISTRATION"><max-count>1</max-count><max-size>1</max-size><data-model>SINGLE</data-model><access-control>USER-MATCH</access-control></kind></kind-block></required-kinds>',
      /registered as DICTIONARY\/USER-NODE-MATCH/,
    ],
    [
      '<required-kinds><kind-block><kind id="5"><max-count>1</max-count><max-size>1</max-size><data-model>SINGLE</data-model><access-control>USER-MATCH</access-control></kind></kind-block></required-kinds>',
      /@id: 5 is outside/,
    ],
    [
      '<required-kinds><kind-block><kind id="4026531841"><max-count>1</max-count><max-size>1</max-size><data-model>SINGLE</data-model><access-control>NODE-MULTIPLE</access-control></kind></kind-block></required-kinds>',
      /max-node-multiple: is required/,
    ],
  ])('refuses %s with the element named', (inner, message) => {
    expect(() =>
      parseConfigurationDocument(
        `<overlay xmlns="${CONFIG_NS}"><configuration instance-name="a.example">${inner}</configuration></overlay>`,
      ),
    ).toThrow(message);
  });
});
