/**
 * Caller identity (issue 11 item 7). The trust boundary: this peer, its local SIP interface and the app's
 * UA form one trust domain (RFC 3325) whose identity is the peer certificate's user; every other peer is
 * outside it. Identities are never taken from a received P-Asserted-Identity — not from other peers and
 * not from local UAs either (any process on the machine can reach the local interface); the proxy strips
 * every received one and asserts only what it verified itself:
 *   - from an overlay peer: the From AOR must be the user of the peer's certificate or one of its aliases,
 *     otherwise 403; the verified AOR is asserted;
 *   - from a local UA or the app: the From AOR is asserted when it is this peer's own user (or alias),
 *     otherwise the request goes on unasserted (the next peer checks it against our certificate anyway).
 * An assertion is added only on requests delivered to UAs of this peer; towards other peers none is sent,
 * since they trust nothing but the connection's certificate.
 */
import type { SipParty } from '../transport/sip-transport';
import type { AliasesOf } from './proxy-interfaces';
import { normaliseAor } from './sip-text';

export type IdentityVerdict =
  | { readonly allowed: true; readonly asserted: string | undefined }
  | { readonly allowed: false; readonly reason: string };

async function mayUse(user: string, aor: string, aliasesOf: AliasesOf | undefined): Promise<boolean> {
  if (normaliseAor(user) === aor) return true;
  if (!aliasesOf) return false;
  const aliases = await aliasesOf(user);
  return aliases.some((a) => normaliseAor(a) === aor);
}

/** `fromAor` is the request's From AOR in `aorOf` form. */
export async function verifyCaller(
  party: SipParty,
  fromAor: string,
  ownUser: string | undefined,
  aliasesOf: AliasesOf | undefined,
): Promise<IdentityVerdict> {
  if (party.kind === 'overlay') {
    if (await mayUse(party.user, fromAor, aliasesOf)) return { allowed: true, asserted: fromAor };
    return { allowed: false, reason: `From ${fromAor} is not the certified user ${party.user} or its alias` };
  }
  if (ownUser !== undefined && (await mayUse(ownUser, fromAor, aliasesOf))) return { allowed: true, asserted: fromAor };
  return { allowed: true, asserted: undefined };
}
