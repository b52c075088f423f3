/**
 * The Probe method (RFC 6940 §6.4.2.5) as every CHORD-RELOAD node answers it: responsible_set (our share
 * of the ring in parts per billion), num_resources (from storage, through a callback) and uptime (seconds),
 * the recognised items in the order asked and never one that was not asked. With RFC 7363 self-tuning the
 * request's self_tuning_data extension is taken in and ours goes back in the answer.
 */
import { ErrorAnswer, answerProbe, type IncomingRequest, type RequestRouter } from '../../transport';
import {
  ErrorCode,
  findSelfTuningData,
  selfTuningExtension,
  type Body,
  type DecodeContext,
  type SelfTuningData,
} from '../../wire';
import type { ChordRoutingTable } from './chord-routing-table';

export interface ProbeResponderOptions {
  router: RequestRouter;
  table: ChordRoutingTable;
  ctx: DecodeContext;
  uptimeSeconds: () => number;
  /** Resources this node stores (num_resources). */
  storedResources: () => number;
  /** Self-tuning on: exchange SelfTuningData (extension 0x0003) with whoever probes us. */
  selfTuning?: {
    received: (from: Uint8Array, data: SelfTuningData) => void;
    current: () => SelfTuningData;
  };
}

/** Our share of the ring, (first predecessor, self], in parts per billion; alone, the whole ring. */
export function responsibleSetPpb(table: ChordRoutingTable): number {
  const predecessor = table.neighbours.predecessors[0];
  if (predecessor === undefined) return 1_000_000_000;
  const share = table.ring.distance(table.ring.toBig(predecessor), table.self);
  return Number((share * 1_000_000_000n) / table.ring.size);
}

export function answerChordProbe(request: IncomingRequest, o: ProbeResponderOptions): Body {
  if (request.body.method !== 'probe_req') throw new ErrorAnswer(ErrorCode.Invalid_Message, 'not a Probe');
  if (o.selfTuning) {
    let shared: SelfTuningData | undefined;
    try {
      shared = findSelfTuningData(request.message.contents.extensions, o.ctx);
    } catch {
      shared = undefined; // a malformed extension is not critical: answer the Probe without using it
    }
    if (shared) {
      o.selfTuning.received(request.from.nodeIds[0] as Uint8Array, shared);
      request.responseExtensions?.push(selfTuningExtension(o.selfTuning.current()));
    }
  }
  return answerProbe(request.body.value.requestedInfo, {
    responsibleSetPpb: () => responsibleSetPpb(o.table),
    storedResources: o.storedResources,
    uptimeSeconds: o.uptimeSeconds,
  });
}

/** Registers the Probe handler. */
export function serveProbe(o: ProbeResponderOptions): void {
  o.router.on('probe_req', (request) => answerChordProbe(request, o));
}
