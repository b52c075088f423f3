/** RFC 7363 self-tuning in the configuration document: CHORD-SELF-TUNING and number-of-peers-to-probe. */
import { describe, expect, it } from 'vitest';
import {
  CONFIG_NS,
  ConfigurationFormatError,
  configurationDocument,
  configurationXml,
  defaultConfiguration,
  parseConfigurationDocument,
  SELF_TUNING_NS,
  SUPPORTED_EXTENSIONS,
} from '../../../../../src-main/reload/config';

const OVERLAY = 'overlay.example.org';
const FIELD = 'configuration/self-tuning:number-of-peers-to-probe';

function doc(options: { plugin?: string; mandatory?: boolean; elements?: string[] } = {}): string {
  const { plugin = 'CHORD-SELF-TUNING', mandatory = true, elements = [] } = options;
  return [
    `<overlay xmlns="${CONFIG_NS}">`,
    // Declared inside the signed <configuration>: a prefix bound outside it is refused (parse.ts).
    `<configuration instance-name="${OVERLAY}" xmlns:self-tuning="${SELF_TUNING_NS}">`,
    `<topology-plugin>${plugin}</topology-plugin>`,
    mandatory ? `<mandatory-extension>${SELF_TUNING_NS}</mandatory-extension>` : '',
    ...elements,
    '</configuration></overlay>',
  ].join('\n');
}

const probe = (value: string) =>
  `<self-tuning:number-of-peers-to-probe>${value}</self-tuning:number-of-peers-to-probe>`;
const parse = (source: string) => parseConfigurationDocument(source)[0]!;

function refusal(source: string): ConfigurationFormatError {
  try {
    parse(source);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationFormatError);
    return error as ConfigurationFormatError;
  }
  throw new Error('the document was accepted');
}

describe('self-tuning configuration', () => {
  it('CHORD-SELF-TUNING turns it on, with number-of-peers-to-probe or its default 4', () => {
    expect(SUPPORTED_EXTENSIONS.has(SELF_TUNING_NS)).toBe(true);
    expect(parse(doc({ elements: [probe('6')] }))).toMatchObject({
      topologyPlugin: 'CHORD-SELF-TUNING',
      mandatoryExtensions: [SELF_TUNING_NS],
      selfTuning: { peersToProbe: 6 },
    });
    expect(parse(doc()).selfTuning).toEqual({ peersToProbe: 4 });
    expect(parse(doc({ elements: [probe(' 1 ')] })).selfTuning).toEqual({ peersToProbe: 1 });
  });

  it('is off for CHORD-RELOAD (the default), whatever the element says', () => {
    expect(parse(doc({ plugin: 'CHORD-RELOAD', mandatory: false })).selfTuning).toBeUndefined();
    expect(parse(doc({ plugin: 'CHORD-RELOAD', elements: [probe('8')] })).selfTuning).toBeUndefined();
    expect(
      parse(`<overlay xmlns="${CONFIG_NS}"><configuration instance-name="${OVERLAY}"/></overlay>`).selfTuning,
    ).toBeUndefined();
  });

  it('refuses each bad number-of-peers-to-probe, naming the field', () => {
    for (const bad of ['abc', '0', '-2', '1.5', '', '129', '4x']) {
      const error = refusal(doc({ elements: [probe(bad)] }));
      expect(error.field).toBe(FIELD);
      expect(error.message).toContain(FIELD);
    }
    // Bad values are refused even where the plugin does not use them.
    expect(refusal(doc({ plugin: 'CHORD-RELOAD', elements: [probe('0')] })).field).toBe(FIELD);
  });

  it('refuses a repeated element, an unknown self-tuning element, and the plugin without its mandatory-extension', () => {
    expect(refusal(doc({ elements: [probe('4'), probe('5')] })).field).toBe(FIELD);
    expect(refusal(doc({ elements: ['<self-tuning:probe-interval>4</self-tuning:probe-interval>'] })).field).toBe(
      'configuration/self-tuning:probe-interval',
    );
    const missing = refusal(doc({ mandatory: false, elements: [probe('4')] }));
    expect(missing.field).toBe('configuration/mandatory-extension');
    expect(missing.message).toContain(SELF_TUNING_NS);
  });

  it('is written out and read back', () => {
    const input = {
      ...defaultConfiguration(OVERLAY),
      topologyPlugin: 'CHORD-SELF-TUNING',
      mandatoryExtensions: [SELF_TUNING_NS],
      selfTuning: { peersToProbe: 7 },
      kinds: [],
    };
    const parsed = parse(configurationDocument([{ xml: configurationXml(input) }]));
    expect(parsed.selfTuning).toEqual({ peersToProbe: 7 });
    expect(parsed.topologyPlugin).toBe('CHORD-SELF-TUNING');
  });
});
