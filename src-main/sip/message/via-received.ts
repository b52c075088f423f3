/**
 * RFC 3261 §18.2.1 and RFC 3581: the server stamps the top Via of a received request with the address the
 * packet came from (`received`) and, when the client asked with a bare `rport`, the source port. Responses
 * then go back to where the request really came from, through NATs and to phones that put a wrong sent-by.
 */
import { Grammar, type IncomingRequestMessage } from 'sip.js/lib/core/index.js';
import { firstListSeparator, scanHeaders } from './header-scan';
import { DEFAULT_SIP_LIMITS, type SipLimits } from './limits';

export interface PacketSource {
  readonly address: string;
  readonly port: number;
}

/** Stamps one via-parm (the value of a single Via entry, without the header name). */
export function stampViaParm(viaParm: string, source: PacketSource): string {
  const params = viaParm.split(';');
  const sentBy = params[0] ?? '';
  const rest = params.slice(1).map((p) => p.trim());
  const hasRport = rest.some((p) => /^rport\s*(=.*)?$/i.test(p));
  const kept = rest.filter((p) => !/^(rport|received)\s*(=.*)?$/i.test(p));
  // sent-by is "SIP/2.0/UDP host[:port]"; the host is what received is compared with (IPv6 in brackets).
  const host = /^\s*\S+\s+(\[[^\]]*\]|[^:\s]+)/.exec(sentBy)?.[1]?.replace(/^\[|\]$/g, '') ?? '';
  const stamped = [...kept];
  // RFC 3581 §4: with rport present, received is added even when it equals sent-by.
  if (hasRport || host.toLowerCase() !== source.address.toLowerCase()) stamped.push(`received=${source.address}`);
  if (hasRport) stamped.push(`rport=${source.port}`);
  return [sentBy.trimEnd(), ...stamped].join(';');
}

/**
 * The message text with its top Via entry stamped. The text must already have passed parseSipMessage;
 * everything but that one entry is left byte for byte.
 */
export function stampTopVia(text: string, source: PacketSource, limits: SipLimits = DEFAULT_SIP_LIMITS): string {
  const via = scanHeaders(text, limits).headers.find((h) => h.name === 'via');
  if (!via) return text;
  const line = text.slice(via.start, via.end);
  const colon = line.indexOf(':');
  const value = line
    .slice(colon + 1)
    .replace(/\r\n[ \t]+/g, ' ')
    .trim();
  const comma = firstListSeparator(value);
  const top = comma < 0 ? value : value.slice(0, comma);
  const tail = comma < 0 ? '' : value.slice(comma);
  return `${text.slice(0, via.start)}Via: ${stampViaParm(top, source)}${tail}${text.slice(via.end)}`;
}

/**
 * stampTopVia for a request parseSipMessage already accepted from `text`: returns the stamped text and makes
 * the parsed message say the same (its first Via value and parsed top Via), without parsing it all again.
 */
export function stampParsedRequest(
  request: IncomingRequestMessage,
  text: string,
  source: PacketSource,
  limits: SipLimits = DEFAULT_SIP_LIMITS,
): string {
  const stamped = stampTopVia(text, source, limits);
  const via = scanHeaders(stamped, limits).headers.find((h) => h.name === 'via');
  const values = request.headers.Via;
  if (!via || !values || values.length === 0) return stamped;
  values[0] = { raw: via.value };
  const comma = firstListSeparator(via.value);
  const top = Grammar.parse(comma < 0 ? via.value : via.value.slice(0, comma), 'Via') as unknown;
  if (top === -1) throw new SyntaxError('stamped top Via does not parse');
  request.via = top as IncomingRequestMessage['via'];
  request.data = stamped;
  return stamped;
}
