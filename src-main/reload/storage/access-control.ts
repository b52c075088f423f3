/**
 * The access control policies (RFC 6940 §7.3, behaviour digest §7.7): who may write a value at a
 * Resource-ID. H is the overlay's Resource-ID hash (CHORD-RELOAD: SHA-1 truncated to the Resource-ID's
 * length); names are hashed as their UTF-8 bytes. Each check returns why it refuses, or undefined.
 */
import { resourceIdFor } from '../crypto';
import { bytesEqual, toHex, type StoredDataValue } from '../wire';
import type { StorageKind } from './kinds';
import type { DataSigner } from './signers';

/** NODE-MULTIPLE's i is hashed as one byte (docs/decisions.md), so it cannot go beyond 255. */
export const MAX_NODE_MULTIPLE_INDEX = 255;

function h(name: string | Uint8Array, resourceId: Uint8Array): Uint8Array {
  return resourceIdFor(name, resourceId.length);
}

function userMatch(resourceId: Uint8Array, signer: DataSigner): string | undefined {
  const user = signer.identity.userName;
  return bytesEqual(h(user, resourceId), resourceId)
    ? undefined
    : `H(user name "${user}") is not Resource-ID ${toHex(resourceId)}`;
}

function namedNode(signer: DataSigner): Uint8Array | string {
  return signer.nodeId ?? 'the SignerIdentity names no single Node-ID (cert_hash on a certificate with several)';
}

/**
 * RFC 7904 §3.4 sip:domain-restriction, a parameter of the SIP-REGISTRATION kind-block: the AOR must be in the
 * overlay's domain, or match one of the patterns (full match, case-insensitive) when `enable` is true. Why
 * `aor` is not admitted, or undefined when it is (or the Kind has no restriction). The storing peer applies it
 * to the signer's user name; the SIP usage applies it before it stores (one rule for both sides).
 */
export function sipDomainRefusal(kind: StorageKind, overlay: string | undefined, aor: string): string | undefined {
  const restriction = kind.sipDomainRestriction;
  if (!restriction) return undefined;
  const domain = aor.slice(aor.lastIndexOf('@') + 1).toLowerCase();
  if (!restriction.enabled) {
    if (overlay !== undefined && domain === overlay.toLowerCase()) return undefined;
    return `the domain of "${aor}" is not the overlay's (${overlay ?? 'unknown'})`;
  }
  for (const pattern of restriction.patterns) {
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${pattern})$`, 'i');
    } catch {
      continue;
    }
    if (re.test(domain)) return undefined;
  }
  return `the domain of "${aor}" matches no sip:domain-restriction pattern`;
}

/** The AOR a SIP-REGISTRATION value is stored under is the certificate's user name (USER-NODE-MATCH). */
function domainAllowed(kind: StorageKind, overlay: string | undefined, signer: DataSigner): string | undefined {
  return sipDomainRefusal(kind, overlay, signer.identity.userName);
}

/**
 * Why `signer` may not write `value` of `kind` at `resourceId`, or undefined when the policy allows it.
 * `overlay` (the instance name) is needed only for a SIP-REGISTRATION domain restriction without patterns.
 */
export function accessRefusal(
  kind: StorageKind,
  resourceId: Uint8Array,
  value: StoredDataValue,
  signer: DataSigner,
  overlay?: string,
): string | undefined {
  switch (kind.accessControl) {
    case 'USER-MATCH':
      return userMatch(resourceId, signer) ?? domainAllowed(kind, overlay, signer);
    case 'NODE-MATCH': {
      const node = namedNode(signer);
      if (typeof node === 'string') return node;
      return bytesEqual(h(node, resourceId), resourceId)
        ? undefined
        : `H(Node-ID ${toHex(node)}) is not Resource-ID ${toHex(resourceId)}`;
    }
    case 'USER-NODE-MATCH': {
      if (value.model !== 'dictionary') return 'USER-NODE-MATCH applies to dictionary Kinds only';
      const user = userMatch(resourceId, signer);
      if (user) return user;
      const node = namedNode(signer);
      if (typeof node === 'string') return node;
      if (!bytesEqual(value.key, node))
        return `dictionary key ${toHex(value.key)} is not the signer's Node-ID ${toHex(node)}`;
      return domainAllowed(kind, overlay, signer);
    }
    case 'NODE-MULTIPLE': {
      const node = namedNode(signer);
      if (typeof node === 'string') return node;
      const max = Math.min(kind.maxNodeMultiple ?? 0, MAX_NODE_MULTIPLE_INDEX);
      if (max < 1) return 'the Kind has no max-node-multiple (it must be > 0)';
      const input = new Uint8Array(node.length + 1);
      input.set(node);
      for (let i = 1; i <= max; i++) {
        input[node.length] = i;
        if (bytesEqual(h(input, resourceId), resourceId)) return undefined;
      }
      return `H(Node-ID ${toHex(node)} ‖ i) is not Resource-ID ${toHex(resourceId)} for any i in 1..${max}`;
    }
    default:
      return `unknown access control policy ${String((kind as { accessControl: unknown }).accessControl)}`;
  }
}
