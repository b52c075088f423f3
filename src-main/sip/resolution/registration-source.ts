/**
 * Where registrations come from: a wildcard Fetch of SIP-REGISTRATION (Kind 0x1) at H(AOR) (RFC 7904 §4.2),
 * each value checked on its own — signature against its signer's certificate from the answer (judged by the
 * overlay's trust policy) and, caller-side, USER-NODE-MATCH again: the signer's user name hashes to the
 * Resource-ID and the dictionary key is the Node-ID its SignerIdentity names. A misbehaving storing peer can
 * so neither forge nor plant values; a bad value is discarded (and counted), never the whole answer.
 */
import {
  bytesEqual,
  certificateSigners,
  isOpaqueStoredData,
  resourceIdFor,
  verifyStoredData,
  type DecodeContext,
  type OpaqueStoredData,
  type ReloadNode,
  type SignerLookup,
  type StoredData,
  type TrustPolicy,
} from '../../reload';
import { decodeSipRegistration, SIP_REGISTRATION_KIND, type SipRegistration } from '../sip-registration';

export interface FetchedRegistration {
  /** The dictionary key: the Node-ID of the registering device. */
  key: Uint8Array;
  registration: SipRegistration;
  /** Wall-clock ms (since 1970) at which the value stops being valid: storage_time + lifetime. */
  expiresAt: number;
}

export interface FetchedRegistrations {
  /** Live values that passed every check; deregistrations (exists = false) are left out. */
  values: FetchedRegistration[];
  /** Values thrown away, with why (for logs and tests). */
  discarded: string[];
}

export interface RegistrationSource {
  /** False while the node is not part of an overlay (no Fetch can succeed). */
  readonly joined: boolean;
  /** Wall-clock ms since 1970 (storage times and lifetimes are in wall time). */
  now(): number;
  fetch(aor: string): Promise<FetchedRegistrations>;
}

/** The answer was not a FetchAns, or the Fetch failed in the overlay (timeout, error response). */
export class RegistrationFetchError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RegistrationFetchError';
  }
}

export interface OverlayRegistrationSourceOptions {
  node: Pick<ReloadNode, 'transport' | 'ctx' | 'ready'>;
  /** The overlay's trust policy (root certificates): judges the signers' certificates. */
  policy: TrustPolicy;
  now: () => number;
}

/** Checks one fetched value; the reason it is discarded, or the registration. */
function check(
  resourceId: Uint8Array,
  data: StoredData | OpaqueStoredData,
  signers: SignerLookup,
  ctx: DecodeContext,
  now: number,
): FetchedRegistration | string | undefined {
  if (isOpaqueStoredData(data)) return 'a value of unknown shape';
  if (data.value.model !== 'dictionary') return `a ${data.value.model} value (SIP-REGISTRATION is a dictionary)`;
  if (!data.value.value.exists) return undefined; // deregistered
  const expiresAt = Number(data.storageTime) + data.lifetime * 1000;
  if (expiresAt <= now) return undefined; // expired: as good as deregistered
  const signer = signers(data.signature.identity);
  if (!signer) return 'no acceptable certificate for its signer';
  if (!verifyStoredData(resourceId, SIP_REGISTRATION_KIND, data, signer.identity.certificate.publicKey))
    return 'its signature does not verify';
  const user = signer.identity.userName;
  if (!bytesEqual(resourceIdFor(user, resourceId.length), resourceId))
    return `signed by "${user}", whose name does not hash to the Resource-ID (USER-NODE-MATCH)`;
  if (!signer.nodeId || !bytesEqual(signer.nodeId, data.value.key))
    return 'its dictionary key is not the Node-ID of its signer (USER-NODE-MATCH)';
  try {
    return { key: data.value.key, registration: decodeSipRegistration(data.value.value.value, ctx), expiresAt };
  } catch (error) {
    return `not a SipRegistration: ${(error as Error).message}`;
  }
}

export function overlayRegistrationSource(o: OverlayRegistrationSourceOptions): RegistrationSource {
  return {
    get joined() {
      return o.node.ready;
    },
    now: o.now,
    async fetch(aor) {
      const resourceId = resourceIdFor(aor, o.node.ctx.nodeIdLength);
      let answer;
      try {
        answer = await o.node.transport.request([{ type: 'resource', id: resourceId }], {
          method: 'fetch_req',
          // No dictionary keys: every device's entry (RFC 7904 §4.2 step 1).
          value: {
            resource: resourceId,
            specifiers: [{ kind: SIP_REGISTRATION_KIND, generation: 0n, specifier: { model: 'dictionary', keys: [] } }],
          },
        });
      } catch (error) {
        throw new RegistrationFetchError((error as Error).message, { cause: error });
      }
      if (answer.body.method !== 'fetch_ans')
        throw new RegistrationFetchError(`expected fetch_ans, got ${answer.body.method}`);
      const now = o.now();
      const signers = certificateSigners(answer.message.security.certificates, o.policy, now);
      const result: FetchedRegistrations = { values: [], discarded: [] };
      for (const response of answer.body.value.kindResponses) {
        if (response.kind !== SIP_REGISTRATION_KIND) continue;
        for (const value of response.values) {
          const checked = check(resourceId, value, signers, o.node.ctx, now);
          if (typeof checked === 'string') result.discarded.push(checked);
          else if (checked) result.values.push(checked);
        }
      }
      return result;
    },
  };
}
