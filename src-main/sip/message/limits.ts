/**
 * Bounds on one SIP message. Every message from a phone or a peer is hostile; these keep parsing cost and
 * buffered bytes small. Values are generous for real SIP (a REGISTER or INVITE with SDP is 1–4 KiB).
 */
export interface SipLimits {
  /** Whole message, start line + headers + body, in bytes. RFC 3261 §18.1.1 puts UDP near 1300; TCP allows more. */
  readonly maxMessageBytes: number;
  /** Start line + headers + the blank line, in bytes (stream framing gives up after this without CRLFCRLF). */
  readonly maxHeaderBlockBytes: number;
  /** Header fields (after unfolding; a comma list counts once per line). */
  readonly maxHeaders: number;
  /** One header field including folded continuation lines, in bytes. */
  readonly maxHeaderLineBytes: number;
  /** Via entries (lines and comma-separated values together): a loop or amplification guard for the proxy. */
  readonly maxVias: number;
}

export const DEFAULT_SIP_LIMITS: SipLimits = Object.freeze({
  maxMessageBytes: 64 * 1024,
  maxHeaderBlockBytes: 16 * 1024,
  maxHeaders: 128,
  maxHeaderLineBytes: 4 * 1024,
  maxVias: 32,
});

/** RFC 3261 §8.1.1.5: a CSeq number is a 32-bit unsigned integer below 2^31. */
export const MAX_CSEQ = 2 ** 31 - 1;
/** RFC 3261 §20.22 / RFC 4475 scalar02: Max-Forwards is 0–255. */
export const MAX_MAX_FORWARDS = 255;
/** RFC 3261 §20.19: Expires is 0 to 2^32-1 seconds. */
export const MAX_EXPIRES = 2 ** 32 - 1;
/** Request-URI schemes this node routes; anything else gets 416 (RFC 3261 §8.2.2.1). */
export const SUPPORTED_URI_SCHEMES: readonly string[] = ['sip', 'sips', 'tel'];
