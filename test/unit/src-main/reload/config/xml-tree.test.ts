/** The XML reader behind configuration documents (saxes plus our refusals): tree, source ranges, refusals. */
import { describe, expect, it } from 'vitest';
import {
  ConfigurationFormatError,
  ConfigurationTooComplexError,
  NamespaceOutsideSignatureError,
  UnexpectedXmlContentError,
} from '../../../../../src-main/reload/config';
import {
  MAX_XML_ATTRIBUTES,
  MAX_XML_DEPTH,
  parseXml,
  pathOf,
  requireSelfContainedNamespaces,
  sourceText,
  textContent,
  XML_NS,
  type XmlElement,
} from '../../../../../src-main/reload/config/xml-tree';

describe('xml-tree', () => {
  it('gives every element its exact source text, resolved names and decoded values', () => {
    const inner = '<é:k\r\n\tname="a&#x2D;b &amp; c"\n xmlns:é="urn:e">x&lt;y\r\n</é:k\n>';
    const source = `<?xml version="1.0" encoding="UTF-8"?>\n<!-- head -->\n<r xmlns="urn:r"><p>${inner}</p><q xmlns="" a='1'/></r>\n`;
    const doc = source;
    const root = parseXml(doc, 'doc');
    expect(root).toMatchObject({ localName: 'r', namespaceURI: 'urn:r' });
    const [p, q] = root.children;
    const k = p?.children[0];
    expect(k).toMatchObject({ name: 'é:k', localName: 'k', namespaceURI: 'urn:e' });
    expect(sourceText(doc, k!)).toBe(inner);
    expect(k?.attributes.get('name')).toBe('a-b & c');
    expect(textContent(k!)).toBe('x<y\n');
    expect(q).toMatchObject({ namespaceURI: null });
    expect(q?.attributes.get('a')).toBe('1');
    expect(sourceText(doc, q!)).toBe(`<q xmlns="" a='1'/>`);
    expect(pathOf(k!)).toBe('r/p/k');
  });

  it('keeps text and child elements in document order', () => {
    const root = parseXml('<r>a<b>b</b>c<d/>e</r>', 'doc');
    expect(textContent(root)).toBe('abce');
  });

  it('knows the xml prefix and checks expanded attribute names for duplicates', () => {
    expect(() => parseXml('<r xml:lang="en"/>', 'doc')).not.toThrow();
    expect(() => parseXml(`<r xmlns:a="urn:x" xmlns:b="urn:x" a:n="1" b:n="2"/>`, 'doc')).toThrow(
      /duplicate attribute: \{urn:x\}n/,
    );
    expect(() => parseXml(`<r xmlns:xml="urn:not-xml"/>`, 'doc')).toThrow(/xml prefix must be bound/);
    expect(() => parseXml(`<r xmlns:p=""/>`, 'doc')).toThrow(/undefine prefix/);
    expect(XML_NS).toBe('http://www.w3.org/XML/1998/namespace');
  });

  it.each([
    ['<r><a></b></r>', /unexpected close tag/],
    ['<r>', /unclosed tag: r/],
    ['<r/><s/>', /second root element at offset 4/],
    ['text<r/>', /text data outside of root node/],
    ['<p:r/>', /unbound namespace prefix: "p"/],
    ['<r a="1" a="2"/>', /duplicate attribute: a/],
    ['<r a="<"/>', /disallowed character at line 1, column 7/],
    ['<r a=1/>', /unquoted attribute value/],
    ['<r a/>', /disallowed character in attribute name/],
    ['<r a />', /attribute without value/],
    ['<r a="1"b="2"/>', /no whitespace between attributes/],
    ['<r>]]></r>', /"]]>" is disallowed/],
    // The reference runs to the next ";" (there is none), so the end tag is never seen.
    ['<r>a & b</r>', /unclosed tag: r/],
    ['<r>a &amp b;</r>', /disallowed character in entity name/],
    ['<r>&nbsp;</r>', /undefined entity/],
    ['<r>&constructor;</r>', /undefined entity/],
    ['<r>&#0;</r>', /malformed character entity/],
    ['<r>&#xD800;</r>', /malformed character entity/],
    ['<r>&#x110000;</r>', /malformed character entity/],
    ['<r>\u0001</r>', /character U\+1 at offset 3/],
    ['<r>\ud800</r>', /character U\+D800/],
    // saxes alone reads a lone high surrogate and the next code unit as one character.
    ['<r>\ud800a</r>', /character U\+D800 at offset 3/],
    ['<r:/>', /malformed name: r:/],
    ['<1r/>', /disallowed character in tag name/],
    ['<r\u00a0a="1"/>', /disallowed character in tag name/],
    ['<?xml version="1.1"?><r/>', /XML declaration/],
    ['<?xml version="1.0" encoding="ISO-8859-1"?><r/>', /XML declaration/],
    ['<!-- a -- b --><r/>', /malformed comment/],
    ['<r><!DOCTYPE r></r>', /doctype/],
    // saxes trims namespace names; a reader that does not would see another namespace.
    ['<r xmlns=" urn:r"/>', /xmlns=" urn:r": a namespace name may not begin or end with whitespace/],
    ['<r xmlns:p="urn:p\t"/>', /xmlns:p="urn:p ": a namespace name may not/],
    ['', /document must contain a root element/],
  ])('%s is not well-formed', (source, message) => {
    expect(() => parseXml(source, 'doc')).toThrow(ConfigurationFormatError);
    expect(() => parseXml(source, 'doc')).toThrow(message);
  });

  it.each([
    ['<r><!-- c --></r>', 'r', /comment/],
    ['<r><a><![CDATA[x]]></a></r>', 'r/a', /CDATA/],
    ['<r><?pi x?></r>', 'r', /processing instruction/],
    [' <?xml version="1.0"?><r/>', 'doc', /processing instruction/],
    ['<?pi x?><r/>', 'doc', /processing instruction/],
    ['<r/><?xml version="1.0"?>', 'doc', /processing instruction/],
    ['<r><a><!-- c -- d --></a></r>', 'r/a', /comment/],
    ['<!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>', 'doc', /DOCTYPE/],
  ])('%s is refused as unexpected content, naming the element', (source, field, message) => {
    let error: unknown;
    try {
      parseXml(source, 'doc');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UnexpectedXmlContentError);
    expect(error).toMatchObject({ field });
    expect((error as Error).message).toMatch(message);
  });

  it('bounds nesting depth and attribute count', () => {
    const deep = (n: number) => '<a>'.repeat(n) + '</a>'.repeat(n);
    expect(() => parseXml(deep(MAX_XML_DEPTH), 'doc')).not.toThrow();
    expect(() => parseXml(deep(MAX_XML_DEPTH + 1), 'doc')).toThrow(ConfigurationTooComplexError);
    const attrs = (n: number) => `<r${Array.from({ length: n }, (_, i) => ` a${i}="1"`).join('')}/>`;
    expect(() => parseXml(attrs(MAX_XML_ATTRIBUTES), 'doc')).not.toThrow();
    expect(() => parseXml(attrs(MAX_XML_ATTRIBUTES + 1), 'doc')).toThrow(ConfigurationTooComplexError);
  });

  it('refuses too deep or too wide a start tag as soon as it is read, before the rest', () => {
    expect(() => parseXml(`${'<a>'.repeat(MAX_XML_DEPTH + 1)}<<<`, 'doc')).toThrow(ConfigurationTooComplexError);
    const wide = `<r${Array.from({ length: MAX_XML_ATTRIBUTES + 1 }, (_, i) => ` a${i}="1"`).join('')} a0="1" <`;
    expect(() => parseXml(wide, 'doc')).toThrow(ConfigurationTooComplexError);
  });

  /** Every element's [start, end) in document order. */
  function ranges(root: XmlElement): [string, number, number][] {
    const out: [string, number, number][] = [];
    const walk = (el: XmlElement) => {
      out.push([el.name, el.start, el.end]);
      el.children.forEach(walk);
    };
    walk(root);
    return out;
  }

  it('gives exact ranges across ">" and "/>" in attributes, CRLF and astral characters, however the text arrives', () => {
    const k = '<😀x:k name="x/>y>"\r\n\t/>';
    const m = "<m\r\n b='>\r\n'>𐐷&#x1D11E;\r\n</m\r\n>";
    const n = '<n/>';
    const p = `<p a="/>">${m}𝄞${n}</p>`;
    const r = `<r a=">" b='/>' xmlns:😀x="urn:e">\r\n  ${k}${p}</r\r\n>`;
    const source = `\ufeff<?xml version="1.0" encoding="UTF-8"?>\r\n<!-- <r> -->\r\n${r}\r\n<!-- </r> -->`;
    const root = parseXml(source, 'doc');
    const [kEl, pEl] = root.children;
    const [mEl, nEl] = pEl?.children ?? [];
    expect(sourceText(source, root)).toBe(r);
    expect(sourceText(source, kEl!)).toBe(k);
    expect(sourceText(source, pEl!)).toBe(p);
    expect(sourceText(source, mEl!)).toBe(m);
    expect(sourceText(source, nEl!)).toBe(n);
    expect(kEl).toMatchObject({ localName: 'k', namespaceURI: 'urn:e' });
    expect(kEl?.attributes.get('name')).toBe('x/>y>');
    expect(mEl?.attributes.get('b')).toBe('> ');
    expect(textContent(mEl!)).toBe('𐐷𝄞\n');
    expect(root.start).toBe(source.indexOf('<r '));
    const whole = ranges(root);
    // One code unit at a time splits every CRLF and every surrogate pair across two writes.
    for (const chunkSize of [1, 2, 3, 5, 7, 64]) expect(ranges(parseXml(source, 'doc', chunkSize))).toEqual(whole);
  });

  describe('signed elements that mean only what they say', () => {
    const P = 'urn:preset';
    /** The element `s` (the root's first child) of `doc`, checked against the preset default namespace. */
    const check = (doc: string) => requireSelfContainedNamespaces(parseXml(doc, 'doc').children[0]!, P);
    /** Every element's expanded name, to compare a reading in context with one of the text alone. */
    const names = (el: XmlElement): string[] => [`{${el.namespaceURI}}${el.localName}`, ...el.children.flatMap(names)];

    it.each([
      [
        'prefixes declared on the signed element and below',
        `<r xmlns="${P}"><s xmlns:a="urn:a"><a:x><b:y xmlns:b="urn:b" a:at="1"/></a:x></s></r>`,
      ],
      ['the xml prefix, always bound', `<r xmlns="${P}"><s xml:lang="en"><t/></s></r>`],
      ['the default namespace inherited but equal to the preset', `<r xmlns="${P}"><s><t/></s></r>`],
      [
        'the default namespace declared inside',
        `<o:r xmlns:o="urn:o" xmlns="urn:other"><s xmlns="${P}"><t xmlns=""/></s></o:r>`,
      ],
    ])('accepts %s, which reads the same alone', (_name, doc) => {
      expect(() => check(doc)).not.toThrow();
      const s = parseXml(doc, 'doc').children[0]!;
      const alone = parseXml(`<w xmlns="${P}">${sourceText(doc, s)}</w>`, 'w').children[0]!;
      expect(names(alone)).toEqual(names(s));
    });

    it.each([
      ['an element prefix declared on the parent', `<r xmlns="${P}" xmlns:a="urn:a"><s><a:x/></s></r>`, 'r/s/x', /"a"/],
      [
        'an attribute prefix declared on the parent',
        `<r xmlns="${P}" xmlns:a="urn:a"><s><t a:at="1"/></s></r>`,
        'r/s/t',
        /"a"/,
      ],
      ["the signed element's own prefix declared outside", `<r xmlns:a="urn:a"><a:s/></r>`, 'r/s', /"a"/],
      [
        'the default namespace inherited from outside, not the preset',
        `<o:r xmlns:o="urn:o" xmlns="urn:other"><o:s xmlns:o="urn:o"><t/></o:s></o:r>`,
        'r/s/t',
        /default namespace \(urn:other\)/,
      ],
      ['no namespace inherited from outside', `<r><s/></r>`, 'r/s', /default namespace \(none\)/],
    ])('refuses %s, naming the element', (_name, doc, field, message) => {
      let error: unknown;
      try {
        check(doc);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(NamespaceOutsideSignatureError);
      expect(error).toMatchObject({ field });
      expect((error as Error).message).toMatch(message);
    });

    it('records each element’s own declarations and the prefixes it uses', () => {
      const root = parseXml('<r xmlns="urn:r" xmlns:a="urn:a" a:at="1" b="2"><a:s/></r>', 'doc');
      expect([...root.declarations]).toEqual([
        ['', 'urn:r'],
        ['a', 'urn:a'],
      ]);
      expect(root.prefixesUsed).toEqual(['a']);
      expect(root.children[0]?.prefixesUsed).toEqual(['a']);
      expect(root.children[0]?.declarations.size).toBe(0);
      expect([...root.attributes]).toEqual([['b', '2']]);
    });
  });
});
