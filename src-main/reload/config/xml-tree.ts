/**
 * Configuration documents and kind-blocks as an element tree, read by saxes (the strict, namespace-aware
 * XML 1.0 parser jsdom uses) in one pass that yields both the tree (namespaces resolved) and each element's
 * exact source range, so the bytes a signature covers (RFC 6940 §11.1: the element as written, first `<`
 * to last `>`) and the values read from them cannot come from two different readings of the document.
 *
 * saxes checks well-formedness; this module refuses, as the events arrive, what a configuration has no use
 * for, each with its own error naming the element: a DOCTYPE (saxes never expands a DTD's entities, and we
 * give it none: only the predefined and numeric character references are known), any processing
 * instruction, a comment or CDATA section inside the root element (comments outside it and the leading XML
 * declaration are fine), nesting deeper than MAX_XML_DEPTH and more than MAX_XML_ATTRIBUTES attributes
 * (checked at each start tag and attribute, so the tree never grows past them). saxes is linear in its
 * input; it reports a DOCTYPE, comment, CDATA section or PI once it has read all of it.
 *
 * Source ranges: the document is one JS string and saxes's `position` is a UTF-16 index into everything
 * written so far (its documented contract; CRLF and astral characters count as the code units they are).
 * At `opentagstart` the parser has just read the element name and the one character that ended it, and no
 * `<` can be inside a name, so the `<` is the last one before that character. At `closetag` it has just
 * read the `>` of the end tag or of `/>`.
 */
import { SaxesParser, type SaxesAttributeNSIncomplete, type SaxesStartTagNS, type SaxesTagNS } from 'saxes';
import {
  ConfigurationFormatError,
  ConfigurationTooComplexError,
  NamespaceOutsideSignatureError,
  UnexpectedXmlContentError,
} from './errors';

export const XML_NS = 'http://www.w3.org/XML/1998/namespace';

/** Deepest element nesting accepted (a configuration needs 7 levels; extensions get room). */
export const MAX_XML_DEPTH = 32;
/** Most attributes (namespace declarations included) on one element. */
export const MAX_XML_ATTRIBUTES = 64;

export interface XmlElement {
  /** The name as written, prefix included. */
  readonly name: string;
  readonly localName: string;
  readonly namespaceURI: string | null;
  /** Namespace declarations on this element: prefix ('' for the default namespace) to namespace name. */
  readonly declarations: ReadonlyMap<string, string>;
  /** The prefixes of this element's name and of its attributes other than declarations ('' when unprefixed). */
  readonly prefixesUsed: readonly string[];
  /** Attributes without a prefix (no namespace), by name. */
  readonly attributes: ReadonlyMap<string, string>;
  readonly children: readonly XmlElement[];
  /** Character data (references decoded, line ends normalised) and child elements, in document order. */
  readonly content: readonly (string | XmlElement)[];
  /** Source offsets of the first `<` and just past the last `>` of the element. */
  readonly start: number;
  readonly end: number;
  readonly parent: XmlElement | undefined;
}

/** An element while its content is being read. */
interface OpenElement extends XmlElement {
  readonly children: XmlElement[];
  readonly content: (string | XmlElement)[];
  end: number;
}

/** Slash-separated local names from the root, for error messages (computed only for them). */
export function pathOf(el: XmlElement): string {
  return el.parent ? `${pathOf(el.parent)}/${el.localName}` : el.localName;
}

/**
 * Refuses `signed` unless it means the same read on its own as in its document: every prefix its subtree uses
 * is declared within it (or is `xml`), and every unprefixed element whose default namespace is not declared
 * within it is in `presetDefault` — the namespace a reader of the signed text alone presets (the
 * configuration namespace). Otherwise the binding comes from unsigned text and can be changed at will.
 */
export function requireSelfContainedNamespaces(signed: XmlElement, presetDefault: string): void {
  const walk = (el: XmlElement, declared: ReadonlySet<string>): void => {
    let scope = declared;
    if (el.declarations.size > 0) scope = new Set([...declared, ...el.declarations.keys()]);
    for (const prefix of el.prefixesUsed) {
      if (prefix === '' || prefix === 'xml' || scope.has(prefix)) continue;
      throw new NamespaceOutsideSignatureError(
        `the prefix "${prefix}" is declared outside the signed <${signed.name}>: declare it inside the signed element`,
        pathOf(el),
      );
    }
    if (!el.name.includes(':') && !scope.has('') && el.namespaceURI !== presetDefault)
      throw new NamespaceOutsideSignatureError(
        `the default namespace (${el.namespaceURI ?? 'none'}) comes from outside the signed <${signed.name}>`,
        pathOf(el),
      );
    for (const child of el.children) walk(child, scope);
  };
  walk(signed, new Set());
}

/** All character data inside `el`, as DOM textContent. */
export function textContent(el: XmlElement): string {
  let out = '';
  for (const part of el.content) out += typeof part === 'string' ? part : textContent(part);
  return out;
}

/** Whether `el` holds character data other than whitespace directly (not in a child element). */
export function hasText(el: XmlElement): boolean {
  return el.content.some((part) => typeof part === 'string' && !/^[ \t\n]*$/.test(part));
}

/** The element exactly as written in `source`: what its signature covers. */
export function sourceText(source: string, el: XmlElement): string {
  return source.slice(el.start, el.end);
}

/**
 * Checked before saxes sees the document: saxes 6 decodes a lone high surrogate together with whatever code
 * unit follows it (`\uD800<` swallows the `<`) instead of refusing it.
 */
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
/** saxes starts its messages with line:column and ends them with a full stop; we say where in our words. */
const SAXES_MESSAGE = /^\d+:\d+: (.*?)\.?$/s;
const NO_ATTRIBUTES: ReadonlyMap<string, string> = new Map();
const NO_PREFIXES: readonly string[] = [];
const PROCESSING_INSTRUCTION = 'a processing instruction (or an XML declaration not at the start) is not accepted';

/**
 * Parses `source` into its root element. `rootField` names the document in errors (e.g. "overlay").
 * Throws ConfigurationFormatError (not well-formed), UnexpectedXmlContentError (DOCTYPE, comment, CDATA,
 * processing instruction where none belongs) or ConfigurationTooComplexError (a bound exceeded).
 * `chunkSize` only lets tests show the ranges do not depend on how the text reaches saxes.
 */
export function parseXml(source: string, rootField: string, chunkSize = source.length): XmlElement {
  return new TreeReader(source, rootField).read(Math.max(1, chunkSize));
}

/** Builds the tree from saxes events; every refusal is thrown from the event that shows it. */
class TreeReader {
  private readonly parser = new SaxesParser({
    xmlns: true,
    position: true,
    defaultXMLVersion: '1.0',
    forceXMLVersion: true,
  });
  private readonly stack: OpenElement[] = [];
  private root: OpenElement | undefined;
  /** The start tag being read: its name, the offset of its `<`, its attribute count so far. */
  private tagName = '';
  private tagStart = 0;
  private attributeCount = 0;
  /** Where an XML declaration may stand: at the start, after a byte order mark if there is one. */
  private readonly declarationAt: number;

  constructor(
    private readonly source: string,
    private readonly rootField: string,
  ) {
    this.declarationAt = source.charCodeAt(0) === 0xfeff ? 1 : 0;
    const p = this.parser;
    p.on('error', (error) => this.saxesError(error));
    p.on('xmldecl', (decl) => {
      if (decl.version !== '1.0' || (decl.encoding !== undefined && decl.encoding.toLowerCase() !== 'utf-8'))
        this.bad('the XML declaration must read <?xml version="1.0" encoding="UTF-8"?>');
    });
    p.on('doctype', () => this.unexpected('a DOCTYPE (entity declarations) is not accepted'));
    p.on('processinginstruction', () => this.unexpected(PROCESSING_INSTRUCTION));
    p.on('cdata', () => this.unexpected('a CDATA section has no place in a configuration document'));
    p.on('comment', () => {
      if (this.stack.length > 0) this.unexpected('a comment has no place inside the document element');
    });
    p.on('opentagstart', (tag) => this.startTag(tag));
    p.on('attribute', (attribute) => this.attribute(attribute));
    p.on('opentag', (tag) => this.openElement(tag));
    p.on('closetag', () => this.closeElement());
    p.on('text', (text) => this.stack[this.stack.length - 1]?.content.push(text));
  }

  read(chunkSize: number): XmlElement {
    const { source } = this;
    const invalid = NOT_XML_CHAR.exec(source);
    if (invalid)
      this.bad(`character U+${invalid[0].codePointAt(0)?.toString(16).toUpperCase()} at offset ${invalid.index}`);
    for (let at = 0; at < source.length; at += chunkSize) this.parser.write(source.slice(at, at + chunkSize));
    this.parser.close();
    return this.root ?? this.bad('no root element');
  }

  /** Not well-formed: the document is at fault (the message says where); other refusals name the element. */
  private bad(message: string): never {
    const top = this.stack[this.stack.length - 1];
    throw new ConfigurationFormatError(
      `not well-formed XML: ${message}${top ? ` (in ${pathOf(top)})` : ''}`,
      this.rootField,
    );
  }

  private unexpected(message: string): never {
    throw new UnexpectedXmlContentError(message, this.where());
  }

  private where(): string {
    const top = this.stack[this.stack.length - 1];
    return top ? pathOf(top) : this.rootField;
  }

  /** The path of an element whose start tag is being read (its parent is on top of the stack). */
  private here(name: string): string {
    const localName = name.slice(name.indexOf(':') + 1);
    return this.stack.length > 0 ? `${this.where()}/${localName}` : localName;
  }

  /**
   * saxes found the document not well-formed. Inside a `<?` other than the leading XML declaration that is
   * a processing instruction (or a misplaced declaration), refused as such whatever saxes objected to first.
   */
  private saxesError(error: Error): never {
    const { source } = this;
    const at = this.parser.position;
    const lt = source.lastIndexOf('<', at - 1);
    if (lt >= 0 && lt !== this.declarationAt && source.charCodeAt(lt + 1) === 0x3f /* ? */)
      this.unexpected(PROCESSING_INSTRUCTION);
    this.bad(`${error.message.replace(SAXES_MESSAGE, '$1')} at line ${this.parser.line}, column ${this.parser.column}`);
  }

  private startTag(tag: SaxesStartTagNS): void {
    // Just read: `<`, the name, one character that ends it (two for CRLF); none of them but the first is `<`.
    const lt = this.source.lastIndexOf('<', this.parser.position - 2);
    if (lt < 0 || !this.source.startsWith(tag.name, lt + 1))
      throw new Error(`xml-tree: saxes reported <${tag.name}> at ${this.parser.position}, not after its name`);
    if (this.root && this.stack.length === 0) this.bad(`a second root element at offset ${lt}`);
    if (this.stack.length >= MAX_XML_DEPTH)
      throw new ConfigurationTooComplexError(`elements nest deeper than ${MAX_XML_DEPTH} levels`, this.here(tag.name));
    this.tagName = tag.name;
    this.tagStart = lt;
    this.attributeCount = 0;
  }

  private attribute(attribute: SaxesAttributeNSIncomplete): void {
    if (++this.attributeCount > MAX_XML_ATTRIBUTES)
      throw new ConfigurationTooComplexError(`more than ${MAX_XML_ATTRIBUTES} attributes`, this.here(this.tagName));
    // saxes trims namespace names; other readers do not, so such a document means two things: refuse it.
    const { name, value } = attribute;
    if ((name === 'xmlns' || name.startsWith('xmlns:')) && value.trim() !== value)
      this.bad(`${name}="${value}": a namespace name may not begin or end with whitespace`);
  }

  private openElement(tag: SaxesTagNS): void {
    const parent = this.stack[this.stack.length - 1];
    let attributes: Map<string, string> | undefined;
    let declarations: Map<string, string> | undefined;
    let prefixesUsed: string[] | undefined;
    if (tag.prefix !== '') prefixesUsed = [tag.prefix];
    for (const a of Object.values(tag.attributes)) {
      if (a.name === 'xmlns') (declarations ??= new Map()).set('', a.value);
      else if (a.prefix === 'xmlns') (declarations ??= new Map()).set(a.local, a.value);
      else if (a.prefix === '') (attributes ??= new Map()).set(a.local, a.value);
      else (prefixesUsed ??= []).push(a.prefix);
    }
    const el: OpenElement = {
      name: tag.name,
      localName: tag.local,
      namespaceURI: tag.uri === '' ? null : tag.uri,
      declarations: declarations ?? NO_ATTRIBUTES,
      prefixesUsed: prefixesUsed ?? NO_PREFIXES,
      attributes: attributes ?? NO_ATTRIBUTES,
      children: [],
      content: [],
      start: this.tagStart,
      end: this.parser.position,
      parent,
    };
    if (parent) {
      parent.children.push(el);
      parent.content.push(el);
    } else this.root = el;
    this.stack.push(el);
  }

  private closeElement(): void {
    const el = this.stack.pop();
    const end = this.parser.position;
    if (!el || this.source.charCodeAt(end - 1) !== 0x3e /* > */)
      throw new Error(`xml-tree: saxes reported an end tag at ${end}, not after a ">"`);
    el.end = end;
  }
}
