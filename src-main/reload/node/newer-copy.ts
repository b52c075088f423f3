/**
 * Re-storing others' data that a peer refuses as Error_Data_Too_Old or Error_Generation_Counter_Too_Low
 * means that peer holds newer data; RFC 6940 §7.4 (checklist D7): we MUST fetch it from the peer that
 * complained and replace our copy. The fetched values are checked like any Fetch answer (each value's
 * signature against its signer's certificate under the overlay's trust policy) and then stored into our own
 * service as a replica store: each value alone, so that a value of ours that is newer stays (storage_time
 * decides, as after a partition merge) while every newer one of theirs replaces ours.
 */
import type { TrustPolicy, ValidatedIdentity } from '../identity';
import { certificateSigners, StorageError, type StorageKind, type StorageService } from '../storage';
import { ErrorResponseError, type MessageTransport } from '../transport';
import { ErrorCode, isOpaqueStoredData, type ModelSpecifier, type StoredData } from '../wire';
import { verifyStoredData } from '../crypto';

/** The refusals that mean "I hold something newer than what you sent". */
export function meansNewerCopy(error: unknown): error is ErrorResponseError {
  return (
    error instanceof ErrorResponseError &&
    (error.errorCode === ErrorCode.Data_Too_Old || error.errorCode === ErrorCode.Generation_Counter_Too_Low)
  );
}

export interface NewerCopyOptions {
  transport: MessageTransport;
  service: StorageService;
  policy: TrustPolicy;
  /** Our own validated identity: the adopted values enter our store as a replica store from us. */
  self: ValidatedIdentity;
  now: () => number;
}

/** Everything a Kind's data model holds at one Resource-ID. */
function everything(kind: StorageKind): ModelSpecifier {
  if (kind.dataModel === 'ARRAY') return { model: 'array', indices: [{ first: 0, last: 0xffffffff }] };
  if (kind.dataModel === 'DICTIONARY') return { model: 'dictionary', keys: [] };
  return { model: 'single' };
}

/**
 * Fetches the Kinds at `resource` from `peer` (destination: that node, which answers from its own copy)
 * and adopts every value newer than ours. Returns how many values were adopted.
 */
export async function adoptNewerCopy(
  o: NewerCopyOptions,
  peer: Uint8Array,
  resource: Uint8Array,
  kindIds: readonly number[],
): Promise<number> {
  // The Kinds as configured now (a ConfigUpdate may have changed them since the node started).
  const kinds = kindIds.flatMap((id) => o.service.kind(id) ?? []);
  if (kinds.length === 0) return 0;
  const answer = await o.transport.request([{ type: 'node', id: peer }], {
    method: 'fetch_req',
    value: { resource, specifiers: kinds.map((k) => ({ kind: k.id, generation: 0n, specifier: everything(k) })) },
  });
  if (answer.body.method !== 'fetch_ans') return 0;
  const now = o.now();
  const signers = certificateSigners(answer.message.security.certificates, o.policy, now);
  const requester = { identity: o.self, nodeId: o.self.nodeIds[0] };
  let adopted = 0;
  for (const response of answer.body.value.kindResponses) {
    for (const value of response.values) {
      if (isOpaqueStoredData(value) || value.signature.value.length === 0) continue; // synthesized gaps
      const signer = signers(value.signature.identity);
      if (!signer || !verifyStoredData(resource, response.kind, value, signer.identity.certificate.publicKey)) continue;
      try {
        o.service.store(
          {
            resource,
            replicaNumber: 1,
            kindData: [{ kind: response.kind, generationCounter: response.generation, values: [value as StoredData] }],
          },
          { requester, signers },
          now,
        );
        adopted++;
      } catch (error) {
        // Ours is as new or newer (Data_Too_Old), or the value breaks a rule here: keep what we have.
        if (!(error instanceof StorageError)) throw error;
      }
    }
  }
  return adopted;
}
