/**
 * Via branches this proxy writes (RFC 3261 §16.6 step 8): the magic cookie, a hash of the fields that
 * identify the request as received (for loop detection, §16.3 step 4), then a part unique per branch.
 * Route is left out of the hash: every hop strips its own Route entry, so a looped request never carries
 * the Route it first arrived with and a hash over it would miss every loop (RFC 5393 makes the same point
 * about the topmost Via, which is likewise excluded).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingRequestMessage } from 'sip.js/lib/core/index.js';

export const MAGIC_COOKIE = 'z9hG4bK';

export function loopHash(request: IncomingRequestMessage): string {
  const h = createHash('sha256');
  const parts = [
    request.ruri?.toString() ?? '',
    request.fromTag ?? '',
    request.toTag ?? '',
    request.callId,
    String(request.cseq),
    request.getHeaders('proxy-require').join(','),
    request.getHeaders('proxy-authorization').join(','),
  ];
  for (const p of parts) h.update(p).update('\u0000');
  return h.digest('hex').slice(0, 16);
}

/** Unique branch suffixes: a random per-instance prefix and a counter. */
export class BranchFactory {
  private readonly prefix = randomBytes(4).toString('hex');
  private counter = 0;

  next(hash: string): string {
    this.counter = (this.counter + 1) % Number.MAX_SAFE_INTEGER;
    return `${MAGIC_COOKIE}${hash}.${this.prefix}${this.counter.toString(36)}`;
  }
}

/** True when `branch` is one of ours written for a request with this loop hash. */
export function branchCarriesHash(branch: string | undefined, hash: string): boolean {
  return branch !== undefined && branch.startsWith(`${MAGIC_COOKIE}${hash}.`);
}
