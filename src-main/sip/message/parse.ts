/**
 * parseSipMessage: sip.js's core parser plus the checks a proxy needs that sip.js leaves out (it keeps the
 * last of repeated headers, accepts any SIP version, any URI scheme, CSeq numbers beyond 2^31, a CSeq method
 * that differs from the request method, Max-Forwards above 255, a top Via without branch, a Content-Length
 * larger than the body, and counts nothing). One typed error per refusal, naming the field.
 */
import {
  Grammar,
  IncomingRequestMessage,
  IncomingResponseMessage,
  Parser,
  type Logger,
} from 'sip.js/lib/core/index.js';
import {
  SipContentLengthError,
  SipCSeqMismatchError,
  SipLimitError,
  SipMessageTooLargeError,
  SipMissingHeaderError,
  SipSyntaxError,
  SipUnsupportedSchemeError,
  SipVersionError,
} from './errors';
import { countListEntries, firstListSeparator, scanHeaders, type RawHeader } from './header-scan';
import {
  DEFAULT_SIP_LIMITS,
  MAX_CSEQ,
  MAX_EXPIRES,
  MAX_MAX_FORWARDS,
  SUPPORTED_URI_SCHEMES,
  type SipLimits,
} from './limits';

export type SipMessage = IncomingRequestMessage | IncomingResponseMessage;
export { IncomingRequestMessage, IncomingResponseMessage };

/** Headers RFC 3261 §8.1.1 requires in every request; responses need all but Max-Forwards. */
const MANDATORY_REQUEST = ['To', 'From', 'Call-ID', 'CSeq', 'Via', 'Max-Forwards'] as const;
const MANDATORY_RESPONSE = ['To', 'From', 'Call-ID', 'CSeq', 'Via'] as const;
/** Single-valued headers sip.js would silently overwrite when repeated. */
const SINGLE = ['to', 'from', 'call-id', 'cseq', 'max-forwards', 'content-type', 'expires'];
const DIGITS = /^[0-9]+$/;

/** Parses one whole SIP message (one datagram, or one message a stream framer produced). */
export function parseSipMessage(text: string, limits: SipLimits = DEFAULT_SIP_LIMITS): SipMessage {
  const size = Buffer.byteLength(text, 'utf8');
  if (size > limits.maxMessageBytes) throw new SipMessageTooLargeError('message', size, limits.maxMessageBytes);
  const layout = scanHeaders(text, limits);

  const start = Grammar.parse(layout.startLine, 'Request_Response') as StartLine | -1;
  if (start === -1) throw new SipSyntaxError('start-line', 'not a Request-Line or Status-Line');
  if (typeof start.sip_version !== 'string' || start.sip_version.toUpperCase() !== 'SIP/2.0') {
    throw new SipVersionError(String(start.sip_version));
  }
  const status = start.status_code;
  const isRequest = status === undefined;
  if (isRequest) {
    const scheme = String(start.uri?.scheme ?? start.scheme ?? '').toLowerCase();
    if (!SUPPORTED_URI_SCHEMES.includes(scheme)) throw new SipUnsupportedSchemeError(scheme);
    // RFC 3261 §19.1.1: the headers part of a URI is not allowed in a Request-URI (RFC 4475 escruri).
    if (start.uri?.headers && Object.keys(start.uri.headers).length > 0) {
      throw new SipSyntaxError('Request-URI', 'carries a headers part');
    }
  } else if (status < 100 || status > 699) {
    throw new SipSyntaxError('Status-Code', `${status} is outside 100-699`);
  }

  checkRepeats(layout.headers, limits);
  for (const header of isRequest ? MANDATORY_REQUEST : MANDATORY_RESPONSE) {
    if (!layout.headers.some((h) => h.name === header.toLowerCase())) throw new SipMissingHeaderError(header);
  }

  let problem = 'rejected by the sip.js parser';
  const capture = { error: (m: string) => (problem = m), warn: (m: string) => (problem = m), log() {}, debug() {} };
  // RFC 3261 §10.2.2: a REGISTER may say "Contact: *" (remove every binding), which sip.js's Contact grammar
  // (name-addr / addr-spec only) refuses: parse without those lines and add them back as raw values.
  const wildcards =
    isRequest && String(start.method).toUpperCase() === 'REGISTER'
      ? layout.headers.filter((h) => h.name === 'contact' && h.value === '*')
      : [];
  let parsedText = text;
  for (const h of [...wildcards].reverse()) parsedText = parsedText.slice(0, h.start) + parsedText.slice(h.end + 2);
  let message: SipMessage | undefined;
  try {
    message = Parser.parseMessage(parsedText, capture as unknown as Logger);
  } catch {
    // sip.js dereferences the parsed CSeq of a response without checking it parsed (a TypeError).
    const cseq = layout.headers.find((h) => h.name === 'cseq')?.value ?? '';
    throw new SipSyntaxError(Grammar.parse(cseq, 'CSeq') === -1 ? 'CSeq' : 'headers', 'malformed value');
  }
  if (!message) throw fromSipJsProblem(problem);
  if (wildcards.length > 0) {
    for (const h of wildcards) message.addHeader('contact', h.value);
    message.data = text;
  }

  checkCSeq(message);
  const topVia = layout.headers.find((h) => h.name === 'via')?.value ?? '';
  const comma = firstListSeparator(topVia);
  const topEntry = comma < 0 ? topVia : topVia.slice(0, comma);
  // sip.js reads a top Via line that lists several entries ("a, b") as a mix of them, with the branch of the
  // last: the top entry is what identifies the transaction (RFC 3261 §17.2.3) and routes a response, so it
  // is parsed alone.
  if (comma >= 0) {
    const top = Grammar.parse(topEntry.trim(), 'Via') as (IncomingRequestMessage['via'] & { branch?: string }) | -1;
    if (top === -1) throw new SipSyntaxError('Via', 'top Via entry does not parse');
    message.via = top;
    message.viaBranch = top.branch ?? '';
  }
  if (message instanceof IncomingRequestMessage) {
    checkMaxForwards(message);
    // sip.js keeps the last of two branch parameters; elements that read the first would disagree.
    if ((topEntry.match(/;\s*branch\s*=/gi) ?? []).length > 1) {
      throw new SipSyntaxError('Via', 'top Via has the branch parameter twice');
    }
    const branch = message.viaBranch;
    // RFC 3261 §8.1.1.7: the branch is mandatory; a bare magic cookie identifies no transaction.
    if (typeof branch !== 'string' || branch === '' || branch === 'z9hG4bK') {
      throw new SipSyntaxError('Via', 'top Via has no usable branch parameter');
    }
  }
  checkExpires(layout.headers);
  message.body = exactBody(text, layout.bodyStart, layout.headers);
  return message;
}

interface StartLine {
  method?: string;
  uri?: { scheme?: string; headers?: Record<string, unknown> };
  scheme?: string;
  sip_version?: string;
  status_code?: number;
  reason_phrase?: string;
}

function checkRepeats(headers: readonly RawHeader[], limits: SipLimits): void {
  const counts = new Map<string, number>();
  let vias = 0;
  for (const h of headers) {
    counts.set(h.name, (counts.get(h.name) ?? 0) + 1);
    if (h.name === 'via') vias += countListEntries(h.value);
  }
  if (vias > limits.maxVias) throw new SipLimitError('Via', vias, limits.maxVias);
  const contentLengths = counts.get('content-length') ?? 0;
  if (contentLengths > 1) throw new SipContentLengthError(`appears ${contentLengths} times`);
  for (const name of SINGLE) {
    const n = counts.get(name) ?? 0;
    if (n > 1) throw new SipSyntaxError(name, `appears ${n} times`);
  }
}

function fromSipJsProblem(problem: string): Error {
  const header = /error parsing header '([^']*)'/.exec(problem)?.[1];
  if (header !== undefined) {
    const lower = header.toLowerCase();
    if (lower === 'content-length' || lower === 'l') return new SipContentLengthError('not a decimal number');
    return new SipSyntaxError(header, 'malformed value');
  }
  if (problem.includes('first line')) return new SipSyntaxError('start-line', 'malformed');
  return new SipSyntaxError('headers', problem);
}

function checkCSeq(message: SipMessage): void {
  const cseq = message.parseHeader('cseq') as { value: number; method: string } | undefined;
  if (!cseq) throw new SipSyntaxError('CSeq', 'malformed value');
  if (!Number.isSafeInteger(cseq.value) || cseq.value < 0 || cseq.value > MAX_CSEQ) {
    throw new SipSyntaxError('CSeq', `sequence number must be below 2^31`);
  }
  if (message instanceof IncomingRequestMessage && cseq.method !== message.method) {
    throw new SipCSeqMismatchError(message.method, cseq.method);
  }
}

function checkMaxForwards(message: IncomingRequestMessage): void {
  const raw = (message.getHeader('max-forwards') ?? '').trim();
  if (!DIGITS.test(raw) || raw.length > 10 || Number(raw) > MAX_MAX_FORWARDS) {
    throw new SipSyntaxError('Max-Forwards', `must be 0-${MAX_MAX_FORWARDS}`);
  }
}

function checkExpires(headers: readonly RawHeader[]): void {
  const expires = headers.find((h) => h.name === 'expires');
  if (!expires) return;
  if (!DIGITS.test(expires.value) || expires.value.length > 10 || Number(expires.value) > MAX_EXPIRES) {
    throw new SipSyntaxError('Expires', `must be 0-${MAX_EXPIRES} seconds`);
  }
}

/**
 * The body by octets (sip.js cuts Content-Length characters, wrong for UTF-8 bodies). RFC 3261 §18.3: a
 * Content-Length beyond the bytes present is an error; bytes beyond it are discarded.
 */
function exactBody(text: string, bodyStart: number, headers: readonly RawHeader[]): string {
  const bytes = Buffer.from(text.slice(bodyStart), 'utf8');
  const header = headers.find((h) => h.name === 'content-length');
  if (!header) return bytes.toString('utf8');
  if (!DIGITS.test(header.value)) throw new SipContentLengthError('not a decimal number');
  const declared = Number(header.value);
  if (!Number.isSafeInteger(declared) || declared > bytes.length) {
    throw new SipContentLengthError(`declares ${header.value} bytes, ${bytes.length} present`);
  }
  return bytes.subarray(0, declared).toString('utf8');
}

/** True when the text's start line reads as a request (used to decide between a 400 and a silent drop). */
export function looksLikeRequest(text: string): boolean {
  return !/^SIP\//i.test(text.trimStart());
}
