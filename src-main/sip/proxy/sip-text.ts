/**
 * The few text operations a proxy does on SIP messages that sip.js's parser leaves to its user: splitting a
 * header that carries a comma-separated list (sip.js keeps `Via: a, b` as one raw value) into entries, each
 * then validated by sip.js's own grammar, and writing a message back out from its parsed header map.
 */
import { Grammar, type IncomingMessage, type URI } from 'sip.js/lib/core/index.js';
import { SipProxyMessageError } from './proxy-errors';

export interface ViaEntry {
  readonly raw: string;
  /** Lower-cased; '' for an entry left unparsed (see viaEntries). */
  readonly host: string;
  readonly port: number | undefined;
  readonly branch: string | undefined;
  /** False for an entry below the top that could not be ours and was left as text. */
  readonly parsed: boolean;
}

/** Splits at commas outside quoted strings, <...> and [...] (RFC 3261 §7.3.1 list form). */
export function splitHeaderList(value: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '<' || c === '[') depth++;
    else if ((c === '>' || c === ']') && depth > 0) depth--;
    else if (c === ',' && depth === 0) {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(value.slice(start).trim());
  return out.filter((v) => v.length > 0);
}

interface ParsedVia {
  host: string;
  port?: number;
  branch?: string;
}

/** Per message: its Via entries are read at several steps of one hop, and each grammar pass costs ~50 µs. */
const viaCache = new WeakMap<IncomingMessage, { key: string; entries: readonly ViaEntry[] }>();

/**
 * Every Via entry, top first. The top entry is the one parseSipMessage checked (its parsed form is reused);
 * an entry below it is checked against sip.js's Via grammar only when its text contains `ours` (this proxy's
 * sent-by: loop detection needs its host and branch) — the others are another element's business, forwarded
 * as they are, and each grammar pass costs ~50 µs on every hop. The message must not change after.
 */
export function viaEntries(message: IncomingMessage, maxEntries: number, ours = ''): readonly ViaEntry[] {
  const key = `${maxEntries}|${ours}`;
  const cached = viaCache.get(message);
  if (cached && cached.key === key) return cached.entries;
  const entries = parseViaEntries(message, maxEntries, ours.toLowerCase());
  viaCache.set(message, { key, entries });
  return entries;
}

function parseViaEntries(message: IncomingMessage, maxEntries: number, ours: string): ViaEntry[] {
  const out: ViaEntry[] = [];
  for (const line of message.getHeaders('via')) {
    for (const raw of splitHeaderList(line)) {
      if (out.length >= maxEntries) throw new SipProxyMessageError('Via', `more than ${maxEntries} entries`);
      const top = out.length === 0 ? topVia(message, raw) : undefined;
      if (top) {
        out.push({ raw, host: top.host.toLowerCase(), port: top.port, branch: top.branch, parsed: true });
        continue;
      }
      if (out.length > 0 && (ours === '' || !raw.toLowerCase().includes(ours))) {
        out.push({ raw, host: '', port: undefined, branch: undefined, parsed: false });
        continue;
      }
      const parsed = Grammar.parse(raw, 'Via') as ParsedVia | -1;
      if (parsed === -1) throw new SipProxyMessageError('Via', `unparseable entry "${raw.slice(0, 80)}"`);
      out.push({ raw, host: parsed.host.toLowerCase(), port: parsed.port, branch: parsed.branch, parsed: true });
    }
  }
  return out;
}

/**
 * sip.js's parsed top Via, when it is that of `raw` (parseSipMessage makes it so also for a comma-listed line;
 * a message from elsewhere may carry sip.js's mix of the line's entries, which then gets parsed again).
 */
function topVia(message: IncomingMessage, raw: string): ParsedVia | undefined {
  const via = (message as { via?: Partial<ParsedVia> }).via;
  if (!via || typeof via.host !== 'string' || via.host === '') return undefined;
  const text = raw.toLowerCase();
  if (!text.includes(via.host.toLowerCase())) return undefined;
  if (via.branch !== undefined && !raw.includes(via.branch)) return undefined;
  if (via.branch === undefined && /;\s*branch\s*=/i.test(raw)) return undefined;
  return via as ParsedVia;
}

export interface RouteEntry {
  readonly raw: string;
  /** Parsed on first use (SipProxyMessageError when it is no name-addr). */
  readonly uri: URI;
}

interface ParsedRouteEntry {
  parsed: { uri: URI };
}

/**
 * One entry of a Route or Record-Route list. A proxy reads only the first entries (its own, then the next
 * hop): the rest are forwarded as received, so each is put through sip.js's grammar (~50 µs) only when read.
 */
class ListedRoute implements RouteEntry {
  private parsed: URI | undefined;

  constructor(
    readonly raw: string,
    private readonly name: string,
  ) {}

  get uri(): URI {
    if (this.parsed) return this.parsed;
    const entries = Grammar.parse(this.raw, 'Record_Route') as ParsedRouteEntry[] | -1;
    if (entries === -1 || !Array.isArray(entries) || entries.length !== 1 || !entries[0]?.parsed?.uri)
      throw new SipProxyMessageError(this.name, `not a name-addr: "${this.raw.slice(0, 80)}"`);
    this.parsed = entries[0].parsed.uri;
    return this.parsed;
  }
}

/** Route (or Record-Route) entries in order, split at top-level commas; each entry's URI is parsed when read. */
export function routeEntries(message: IncomingMessage, name: 'route' | 'record-route', max: number): RouteEntry[] {
  const out: RouteEntry[] = [];
  for (const line of message.getHeaders(name)) {
    const entries = splitHeaderList(line);
    if (entries.length === 0) throw new SipProxyMessageError(name, 'empty');
    for (const raw of entries) {
      if (out.length >= max) throw new SipProxyMessageError(name, `more than ${max} entries`);
      out.push(new ListedRoute(raw, name));
    }
  }
  return out;
}

/** `user@host` without scheme, user %-decoded and host lower-cased (RFC 7904's AOR comparison form). */
export function aorOf(uri: URI): string {
  let user = uri.user ?? '';
  try {
    user = decodeURIComponent(user);
  } catch {
    // A malformed %-escape stays as written: it then simply matches nothing.
  }
  return `${user}@${uri.host.toLowerCase()}`;
}

/** Lower-cases the host of a scheme-less AOR so that it compares like `aorOf`. */
export function normaliseAor(aor: string): string {
  const at = aor.lastIndexOf('@');
  if (at < 0) return aor;
  let user = aor.slice(0, at);
  try {
    user = decodeURIComponent(user);
  } catch {
    // as above
  }
  return `${user}@${aor.slice(at + 1).toLowerCase()}`;
}

/** Header lines of `message` in the order sip.js kept them, minus the names in `skip` (lower case). */
export function headerLines(message: IncomingMessage, skip: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const [name, values] of Object.entries(message.headers)) {
    if (skip.has(name.toLowerCase())) continue;
    for (const v of values) out.push(`${name}: ${v.raw}`);
  }
  return out;
}

export function render(startLine: string, lines: readonly string[], body: string): string {
  const head = [startLine, ...lines, `Content-Length: ${Buffer.byteLength(body, 'utf8')}`].join('\r\n');
  return `${head}\r\n\r\n${body}`;
}
