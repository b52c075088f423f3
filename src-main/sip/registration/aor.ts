/**
 * The AOR as RFC 7904 uses it (§2): `user@domain` without scheme, compared with the certificate's user name
 * after removing a `sip:`/`sips:` prefix and decoding %-escapes. And the registering side's copy of the
 * sip:domain-restriction check (§3.4/§5) the storing peer applies in reload/storage/access-control.ts: same
 * semantics (absent: any domain; enable=false: the overlay's name; enable=true: a full, case-insensitive
 * match of one pattern; a pattern that does not compile matches nothing).
 */
import { sipDomainRefusal, type StorageKind } from '../../reload';
import { AorSyntaxError, DomainRestrictedError } from './errors';

/** RFC 5321's path limit, as the user-name rule uses: longer cannot be anyone's certificate user name. */
const MAX_AOR_LENGTH = 254;

/**
 * `sip:alice@example.com`, `alice@example.com`, `alice%40x@example.com` → the scheme-less AOR with
 * %-escapes decoded and the domain lowercased (SIP hosts compare case-insensitively; the user part does not).
 */
export function normalizeAor(input: string, field = 'aor'): string {
  if (typeof input !== 'string') throw new AorSyntaxError(field, 'must be a string');
  if (input.length > 3 * MAX_AOR_LENGTH + 5) throw new AorSyntaxError(field, 'is too long');
  const bare = input.replace(/^sips?:/i, '');
  let decoded: string;
  try {
    decoded = decodeURIComponent(bare);
  } catch {
    throw new AorSyntaxError(field, 'has a malformed %-escape');
  }
  if (decoded.length > MAX_AOR_LENGTH) throw new AorSyntaxError(field, `is longer than ${MAX_AOR_LENGTH} characters`);
  // One @, both sides non-empty, nothing a URI would treat as parameters, headers or a port.
  const at = decoded.lastIndexOf('@');
  if (at <= 0 || at === decoded.length - 1 || decoded.indexOf('@') !== at)
    throw new AorSyntaxError(field, 'is not of the form user@domain');
  if (/[\s;?<>:"\p{Cc}\p{Cf}]/u.test(decoded))
    throw new AorSyntaxError(field, 'contains white space, a control character or one of ; ? < > : "');
  return `${decoded.slice(0, at)}@${decoded.slice(at + 1).toLowerCase()}`;
}

/**
 * Throws DomainRestrictedError when the SIP-REGISTRATION Kind's sip:domain-restriction does not admit `aor`
 * in the overlay named `overlayName`.
 */
export function checkDomainRestriction(kind: StorageKind, overlayName: string, aor: string, field = 'aor'): void {
  const refusal = sipDomainRefusal(kind, overlayName, aor);
  if (refusal) throw new DomainRestrictedError(field, refusal);
}
