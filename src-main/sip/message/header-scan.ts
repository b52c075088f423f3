/**
 * The header layout of a SIP message, found with sip.js's own line splitter (`Parser.getHeader`, which
 * understands folding). sip.js's parser keeps only the last of repeated single-valued headers and never
 * counts or bounds anything; this scan supplies the raw names, order and sizes the checks in parse.ts need.
 */
import { Parser } from 'sip.js/lib/core/index.js';
import { SipLimitError, SipSyntaxError } from './errors';
import type { SipLimits } from './limits';

export interface RawHeader {
  /** Lower-case long form ('v' becomes 'via'). */
  readonly name: string;
  /** The value with folding turned into single spaces, trimmed. */
  readonly value: string;
  /** Offsets of the whole field in the message text (end excludes the CRLF). */
  readonly start: number;
  readonly end: number;
}

export interface HeaderLayout {
  readonly startLine: string;
  readonly headers: readonly RawHeader[];
  /** Offset just after the blank line. */
  readonly bodyStart: number;
}

const COMPACT: Readonly<Record<string, string>> = {
  v: 'via',
  f: 'from',
  t: 'to',
  i: 'call-id',
  l: 'content-length',
  m: 'contact',
  c: 'content-type',
  e: 'content-encoding',
  k: 'supported',
  s: 'subject',
  o: 'event',
  r: 'refer-to',
};

/** RFC 3261 §25.1 token. */
const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;
/** A control character not escaped as a quoted-pair (RFC 3261 §25.1 allows `\` + any but CR/LF there). */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const BARE_CONTROL = /(?:^|[^\\])[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|[\r\n]/;

export function canonicalHeaderName(name: string): string {
  const lower = name.toLowerCase();
  return COMPACT[lower] ?? lower;
}

/**
 * `lenient` skips malformed fields instead of refusing (used only to salvage the headers an error response
 * copies; skipped fields never reach a response, so no control character can be echoed).
 */
export function scanHeaders(text: string, limits: SipLimits, lenient = false): HeaderLayout {
  const firstEnd = text.indexOf('\r\n');
  if (firstEnd < 0) throw new SipSyntaxError('start-line', 'no CRLF');
  const startLine = text.slice(0, firstEnd);
  if (startLine.length > limits.maxHeaderLineBytes) {
    throw new SipLimitError('start-line length', startLine.length, limits.maxHeaderLineBytes);
  }
  if (CONTROL.test(startLine)) throw new SipSyntaxError('start-line', 'control character');
  const headers: RawHeader[] = [];
  let pos = firstEnd + 2;
  for (;;) {
    if (text.startsWith('\r\n', pos)) return { startLine, headers, bodyStart: pos + 2 };
    const end = Parser.getHeader(text, pos);
    if (end < 0) throw new SipSyntaxError('headers', 'header block not ended by an empty line');
    if (headers.length >= limits.maxHeaders) {
      throw new SipLimitError('header count', headers.length + 1, limits.maxHeaders);
    }
    const line = text.slice(pos, end);
    const bytes = Buffer.byteLength(line, 'utf8');
    if (bytes > limits.maxHeaderLineBytes)
      throw new SipLimitError('header line length', bytes, limits.maxHeaderLineBytes);
    const unfolded = line.replace(/\r\n[ \t]+/g, ' ');
    const colon = unfolded.indexOf(':');
    const rawName = colon < 0 ? '' : unfolded.slice(0, colon).replace(/[ \t]+$/, '');
    const name = canonicalHeaderName(rawName);
    const problem = !TOKEN.test(rawName)
      ? new SipSyntaxError('header', `field ${headers.length + 1} is not "name: value"`)
      : BARE_CONTROL.test(unfolded)
        ? new SipSyntaxError(name, 'control character')
        : undefined;
    if (problem && !lenient) throw problem;
    if (problem) {
      pos = end + 2;
      continue;
    }
    headers.push({ name, value: unfolded.slice(colon + 1).trim(), start: pos, end });
    pos = end + 2;
  }
}

/** Entries in a comma-separated header value (commas inside quotes or <> do not split). */
export function countListEntries(value: string): number {
  let count = 1;
  let quoted = false;
  let angle = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (quoted) {
      if (ch === '\\') i++;
      else if (ch === '"') quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === '<') angle = true;
    else if (ch === '>') angle = false;
    else if (ch === ',' && !angle) count++;
  }
  return count;
}

/** Offset of the first top-level comma in a header value, or -1. */
export function firstListSeparator(value: string): number {
  let quoted = false;
  let angle = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (quoted) {
      if (ch === '\\') i++;
      else if (ch === '"') quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === '<') angle = true;
    else if (ch === '>') angle = false;
    else if (ch === ',' && !angle) return i;
  }
  return -1;
}
