/**
 * contact_prefs (RFC 7904 §3.2) from a UA's Contact: the RFC 3840 §9 feature parameters of the Contact
 * turned into the RFC 2533 filter they stand for, so callers can follow the callee's capabilities and scheme
 * preference. A sips: Contact without an explicit `schemes` tag says "SIPS only": `(sip.schemes=SIPS)`, the
 * literal form RFC 7904 shows. Parameters that are not feature tags (expires, q, reg-id, +sip.instance, any
 * other name without "+") are not capabilities and are left out; a feature tag whose value is not RFC 3840
 * syntax is refused (ContactPrefsError naming it), never passed on half-understood.
 */
import { ContactPrefsError } from './errors';

/** What the helper needs of a parsed Contact (sip.js's NameAddrHeader has both). */
export interface ContactLike {
  uri: { scheme: string };
  parameters: Readonly<Record<string, string | null | undefined>>;
}

/** Feature parameters one Contact may carry, and the longest predicate (bytes) one binding may produce. */
export const MAX_FEATURE_PARAMS = 32;
export const MAX_CONTACT_PREFS_LENGTH = 512;

// RFC 3840 §9 base-tags: written without "sip." in a Contact.
const BASE_TAGS = new Set([
  'audio',
  'automata',
  'class',
  'duplex',
  'data',
  'control',
  'mobility',
  'description',
  'events',
  'priority',
  'methods',
  'schemes',
  'application',
  'video',
  'language',
  'type',
  'isfocus',
  'actor',
  'text',
  'extensions',
]);
/** "+" feature parameters that identify the device or flow rather than describe a capability (RFC 5626). */
const NOT_CAPABILITIES = new Set(['+sip.instance', '+reg-id']);

const FTAG_NAME = /^[A-Za-z][A-Za-z0-9!'.%-]*$/;
const TOKEN = /^[A-Za-z0-9\-.%*_+`'~]+$/;
const NUMBER = '[+-]?\\d+(?:\\.\\d*)?';
const NUMERIC = new RegExp(`^#(>=|<=|=)(${NUMBER})$|^#(${NUMBER}):(${NUMBER})$`);

function valueFilter(tag: string, raw: string, param: string): string {
  const negated = raw.startsWith('!');
  const value = negated ? raw.slice(1) : raw;
  let filter: string;
  const numeric = NUMERIC.exec(value);
  if (numeric) {
    if (numeric[1]) filter = `(${tag}${numeric[1] === '=' ? '=' : numeric[1]}${numeric[2]})`;
    else filter = `(&(${tag}>=${numeric[3]})(${tag}<=${numeric[4]}))`;
  } else if (TOKEN.test(value)) filter = `(${tag}=${value})`;
  else throw new ContactPrefsError(`contact.${param}`, `"${value.slice(0, 40)}" is not a token, boolean or numeric`);
  return negated ? `(!${filter})` : filter;
}

/** One feature parameter as a filter, or undefined when the parameter is not a feature tag. */
function featureFilter(name: string, value: string | null | undefined): string | undefined {
  const lower = name.toLowerCase();
  let tag: string;
  if (BASE_TAGS.has(lower)) tag = `sip.${lower}`;
  else if (lower.startsWith('+') && !NOT_CAPABILITIES.has(lower)) {
    const ftag = name.slice(1);
    if (!FTAG_NAME.test(ftag)) throw new ContactPrefsError(`contact.${name}`, 'is not an RFC 3840 feature tag name');
    // §9: "!" stands for ":" and "'" for "/" in the encoded name.
    tag = ftag.replace(/!/g, ':').replace(/'/g, '/');
  } else return undefined;
  if (value === null || value === undefined || value === '') return `(${tag}=TRUE)`;
  if (!(value.length >= 2 && value.startsWith('"') && value.endsWith('"')))
    throw new ContactPrefsError(`contact.${name}`, 'a feature tag value must be quoted');
  const inner = value.slice(1, -1);
  if (inner.startsWith('<')) {
    // string-value: <...> becomes an RFC 2533 quoted string; printable ASCII only, no quote or backslash.
    if (!inner.endsWith('>') || !/^[\x20-\x7e]*$/.test(inner) || /["\\]/.test(inner))
      throw new ContactPrefsError(`contact.${name}`, 'is not an RFC 3840 string value');
    return `(${tag}="${inner.slice(1, -1)}")`;
  }
  const items = inner.split(',').map((item) => item.trim());
  if (items.some((item) => item === '')) throw new ContactPrefsError(`contact.${name}`, 'has an empty list item');
  const filters = items.map((item) => valueFilter(tag, item, name));
  return filters.length === 1 ? filters[0] : `(|${filters.join('')})`;
}

/**
 * The contact_prefs string for one Contact: '' when it states nothing, one filter, or `(&F1F2…)`.
 * Throws ContactPrefsError for a malformed feature tag, too many, or a result over MAX_CONTACT_PREFS_LENGTH.
 */
export function contactPrefsFromContact(contact: ContactLike): string {
  const entries = Object.entries(contact.parameters ?? {});
  if (entries.length > MAX_FEATURE_PARAMS)
    throw new ContactPrefsError('contact', `more than ${MAX_FEATURE_PARAMS} parameters`);
  const filters: string[] = [];
  let schemes = false;
  for (const [name, value] of entries) {
    const filter = featureFilter(name, value);
    if (filter === undefined) continue;
    if (name.toLowerCase() === 'schemes') schemes = true;
    filters.push(filter);
  }
  const scheme = String(contact.uri?.scheme ?? '').toLowerCase();
  if (scheme !== 'sip' && scheme !== 'sips')
    throw new ContactPrefsError('contact.uri', `scheme "${scheme.slice(0, 10)}" is neither sip nor sips`);
  if (scheme === 'sips' && !schemes) filters.unshift('(sip.schemes=SIPS)');
  const prefs = filters.length === 0 ? '' : filters.length === 1 ? (filters[0] as string) : `(&${filters.join('')})`;
  if (prefs.length > MAX_CONTACT_PREFS_LENGTH)
    throw new ContactPrefsError('contact', `the feature tags make a predicate over ${MAX_CONTACT_PREFS_LENGTH} bytes`);
  return prefs;
}

/**
 * The predicate for one dictionary entry shared by several local bindings: any binding may take the call,
 * so it is their disjunction; a binding that states nothing makes the whole entry unconstrained ('').
 */
export function combineContactPrefs(prefs: readonly string[]): string {
  if (prefs.length === 0 || prefs.includes('')) return '';
  const distinct = [...new Set(prefs)].sort();
  return distinct.length === 1 ? (distinct[0] as string) : `(|${distinct.join('')})`;
}

const SIPS_ONLY = '(sip.schemes=sips)';

/**
 * True when a registration's contact_prefs require SIPS (RFC 7904 §5.3: the caller then uses Application-ID
 * 5061): the predicate is `(sip.schemes=SIPS)` itself or a conjunction with it at the top. A disjunction (two
 * bindings, one of them plain SIP) or a negation requires nothing.
 */
export function requiresSips(contactPrefs: string): boolean {
  const p = contactPrefs.trim().toLowerCase();
  if (p === SIPS_ONLY) return true;
  if (!p.startsWith('(&') || !p.endsWith(')')) return false;
  const inner = p.slice(2, -1);
  let depth = 0;
  let start = 0;
  for (let i = 0; i < inner.length; i++) {
    if (inner[i] === '(') {
      if (depth === 0) start = i;
      depth++;
    } else if (inner[i] === ')') {
      depth--;
      if (depth < 0) return false;
      if (depth === 0 && inner.slice(start, i + 1) === SIPS_ONLY) return true;
    }
  }
  return false;
}
