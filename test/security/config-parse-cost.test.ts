/**
 * Issue 10, item 8: parsing a configuration document costs time linear in its size. Before, a 1 MiB document
 * of unclosed tags inside a comment held the CPU for tens of seconds (a backtracking regular expression cut the
 * signed text out of the source). Each shape below is as large as a document may be, and must be parsed or
 * refused well within a second.
 */
import { describe, expect, it } from 'vitest';
import {
  CONFIG_NS,
  ConfigurationError,
  MAX_CONFIG_BYTES,
  parseConfigurationDocument,
  parseKindBlock,
} from '../../src-main/reload/config';

const HEAD = `<?xml version="1.0" encoding="UTF-8"?>\n<overlay xmlns="${CONFIG_NS}">`;
const CONFIG_OPEN = '<configuration instance-name="overlay.example.org" sequence="1">';

/** `open` + as many copies of `unit` as fit + `close`, exactly at the size limit or just under it. */
function fill(open: string, unit: string, close: string): string {
  const count = Math.floor((MAX_CONFIG_BYTES - open.length - close.length) / unit.length);
  const doc = open + unit.repeat(count) + close;
  expect(doc.length).toBeLessThanOrEqual(MAX_CONFIG_BYTES);
  expect(doc.length).toBeGreaterThan(MAX_CONFIG_BYTES - unit.length - 1);
  return doc;
}

/**
 * The CPU time `parse` takes (what it holds the event loop for, whatever else the machine runs), its wall
 * time, and whether it parsed or refused with a typed error (anything else fails the test).
 */
function timed(parse: () => unknown): { ms: number; outcome: string } {
  const cpu = process.cpuUsage();
  const start = performance.now();
  let outcome = 'parsed';
  try {
    parse();
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    outcome = error.name;
  }
  const wall = Math.round(performance.now() - start);
  const used = process.cpuUsage(cpu);
  const ms = (used.user + used.system) / 1000;
  return { ms, outcome: `${outcome} after ${Math.round(ms)} ms CPU (${wall} ms wall)` };
}

/** Generous: linear work takes tens of milliseconds of CPU per megabyte; the old code took tens of seconds. */
const BUDGET_MS = 1000;

const SHAPES: [string, () => string][] = [
  [
    '(a) unclosed <configuration and <kind tags inside a comment',
    () => fill(`${HEAD}<!-- `, '<configuration <kind ', ' --></overlay>'),
  ],
  [
    '(a2) unclosed tags inside a comment before the root element',
    () =>
      fill(
        '<?xml version="1.0"?><!-- ',
        '<configuration <kind ',
        ` --><overlay xmlns="${CONFIG_NS}">${CONFIG_OPEN}</configuration></overlay>`,
      ),
  ],
  [
    '(a3) unclosed tags in a kind-block, no comment',
    () => fill(`${HEAD}${CONFIG_OPEN}<required-kinds><kind-block>`, '<kind ', ''),
  ],
  ['(b) deep nesting', () => fill(`${HEAD}${CONFIG_OPEN}`, '<x:a xmlns:x="urn:x">', '')],
  ['(b2) deep nesting, closed', () => fill(`${HEAD}${CONFIG_OPEN}`, '<a>', '')],
  [
    '(c) many attributes on one element',
    () => fill(`${HEAD}<configuration instance-name="overlay.example.org"`, ' a="1"', '/></overlay>'),
  ],
  [
    '(c2) many distinct attributes',
    () => {
      let i = 0;
      let body = '';
      const open = `${HEAD}<configuration instance-name="overlay.example.org"`;
      while (open.length + body.length + 30 < MAX_CONFIG_BYTES) body += ` a${i++}="${i}"`;
      return `${open}${body}/></overlay>`;
    },
  ],
  [
    '(d) an entity chain declared in a DOCTYPE',
    () => {
      const decls = Array.from({ length: 20 }, (_, i) => `<!ENTITY e${i + 1} "${`&e${i};`.repeat(10)}">`).join('');
      return fill(
        `<?xml version="1.0"?><!DOCTYPE overlay [<!ENTITY e0 "lol">${decls}]>${HEAD.replace(/^<\?xml[^>]*>\n/, '')}${CONFIG_OPEN}<shared-secret>`,
        '&e20;',
        '</shared-secret></configuration></overlay>',
      );
    },
  ],
  [
    '(d3) a megabyte-long DOCTYPE (refused only once it has been read)',
    () =>
      fill(
        `<?xml version="1.0"?><!DOCTYPE overlay [<!-- `,
        'x<!ENTITY a "b">',
        ` -->]><overlay xmlns="${CONFIG_NS}"/>`,
      ),
  ],
  ['(g) a megabyte-long comment inside the root', () => fill(`${HEAD}<!-- `, 'abcdefgh', ' --></overlay>')],
  ['(g2) a megabyte-long CDATA section inside the root', () => fill(`${HEAD}<![CDATA[`, 'a<b>c&d', ']]></overlay>')],
  ['(g3) a megabyte-long processing instruction', () => fill(`${HEAD}<?pi `, 'a b c d ', '?></overlay>')],
  [
    '(d2) a megabyte of character references in one value',
    () => fill(`${HEAD}${CONFIG_OPEN}<shared-secret>`, '&#x41;&amp;&lt;', '</shared-secret></configuration></overlay>'),
  ],
  [
    '(e) many repeated elements',
    () =>
      fill(`${HEAD}${CONFIG_OPEN}`, '<overlay-link-protocol>TLS</overlay-link-protocol>', '</configuration></overlay>'),
  ],
  [
    '(f) many kind-blocks',
    () =>
      fill(
        `${HEAD}${CONFIG_OPEN}<required-kinds>`,
        '<kind-block><kind id="4026531841"/></kind-block>',
        '</required-kinds></configuration></overlay>',
      ),
  ],
];

describe('a configuration document at the size limit parses in linear time', () => {
  it.each(SHAPES)(
    '%s',
    (_name, build) => {
      const doc = build();
      const { ms, outcome } = timed(() => parseConfigurationDocument(doc));
      expect(ms, outcome).toBeLessThan(BUDGET_MS);
    },
    600_000,
  );

  it('a kind-block fragment of unclosed tags in a comment, as a ConfigUpdate carries it', () => {
    const fragment = fill('<kind-block><!-- ', '<kind <kind-block ', ' --></kind-block>');
    const { ms, outcome } = timed(() => parseKindBlock(fragment));
    expect(ms, outcome).toBeLessThan(BUDGET_MS);
  }, 600_000);
});
