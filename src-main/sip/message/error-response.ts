/**
 * Error responses a UAS or proxy sends itself (RFC 3261 §8.2.6): Via (all, in order), From, Call-ID and CSeq
 * copied, To copied with a tag added when it has none. For a parsed request sip.js's
 * constructOutgoingResponse does it; for a request that failed parsing, `salvageErrorResponse` copies the
 * five headers verbatim when all are present, so the sender still learns why (RFC 4475 expects a 400).
 */
import { createHash } from 'node:crypto';
import { constructOutgoingResponse, type IncomingRequestMessage } from 'sip.js/lib/core/index.js';
import { scanHeaders } from './header-scan';
import { DEFAULT_SIP_LIMITS } from './limits';

/**
 * A Reason-Phrase RFC 3261 §25.1 allows (reserved, unreserved, escaped, UTF-8, SP, HTAB), so that the
 * Status-Line parses at the other end: control characters and the excluded ASCII (`"`, `<`, `\`, ...) become
 * spaces or `'`, a `%` that starts no escape is spelled out. Our refusals quote the offending value.
 */
export function cleanReason(reason: string): string {
  const clean = reason
    .replace(/"/g, "'")
    .replace(/%(?![0-9A-Fa-f]{2})/g, ' percent ')
    // eslint-disable-next-line no-control-regex -- removing control characters is the point
    .replace(/[\x00-\x08\x0a-\x1f\x7f#<>[\]\\^`{|}]+/g, ' ')
    .replace(/ {2,}/g, ' ')
    .trim();
  return clean.slice(0, 200).trim() || 'Error';
}

/**
 * A stateless To tag (RFC 3261 §8.2.7): the same request always gets the same tag, so a retransmitted
 * request gets an identical response.
 */
function statelessTag(callId: string, from: string, cseq: string, via: string): string {
  return createHash('sha256').update(`${callId}\n${from}\n${cseq}\n${via}`).digest('hex').slice(0, 16);
}

export function errorResponse(request: IncomingRequestMessage, status: number, reason: string): string {
  if (!Number.isInteger(status) || status < 300 || status > 699) throw new RangeError(`error status ${status}`);
  const tag = statelessTag(
    request.callId,
    request.getHeader('from') ?? '',
    `${request.cseq}`,
    request.getHeaders('via')[0] ?? '',
  );
  return constructOutgoingResponse(request, { statusCode: status, reasonPhrase: cleanReason(reason), toTag: tag })
    .message;
}

/**
 * An error response to the raw text of a request that could not be parsed, or undefined when the text lacks
 * any of Via, From, To, Call-ID and CSeq (then it is dropped: nobody can match an answer to it).
 */
export function salvageErrorResponse(text: string, status: number, reason: string): string | undefined {
  if (!Number.isInteger(status) || status < 300 || status > 699) throw new RangeError(`error status ${status}`);
  let headers;
  try {
    headers = scanHeaders(text, DEFAULT_SIP_LIMITS, true).headers;
  } catch {
    return undefined;
  }
  const one = (name: string): string | undefined => {
    const [first, ...more] = headers.filter((h) => h.name === name);
    return first && more.length === 0 && first.value !== '' ? first.value : undefined;
  };
  const vias = headers.filter((h) => h.name === 'via').map((h) => h.value);
  const from = one('from');
  const to = one('to');
  const callId = one('call-id');
  const cseq = one('cseq');
  const topVia = vias[0];
  if (!topVia || vias.some((v) => v === '') || !from || !to || !callId || !cseq) return undefined;
  const tagged = /;\s*tag\s*=/i.test(to) ? to : `${to};tag=${statelessTag(callId, from, cseq, topVia)}`;
  return (
    `SIP/2.0 ${status} ${cleanReason(reason)}\r\n` +
    vias.map((v) => `Via: ${v}\r\n`).join('') +
    `From: ${from}\r\nTo: ${tagged}\r\nCall-ID: ${callId}\r\nCSeq: ${cseq}\r\nContent-Length: 0\r\n\r\n`
  );
}
