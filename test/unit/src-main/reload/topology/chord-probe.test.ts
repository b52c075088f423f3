/** The Probe answer (RFC 6940 §6.4.2.5) and the self-tuning data exchanged with it (RFC 7363). */
import { describe, expect, it } from 'vitest';
import {
  answerChordProbe,
  ChordRoutingTable,
  responsibleSetPpb,
  Ring,
  type ProbeResponderOptions,
} from '../../../../../src-main/reload/topology';
import type { IncomingRequest, RequestRouter } from '../../../../../src-main/reload/transport';
import {
  decodeContext,
  findSelfTuningData,
  selfTuningExtension,
  type MessageExtension,
  type SelfTuningData,
} from '../../../../../src-main/reload/wire';

const ring = new Ring(128);
const id = (v: bigint) => ring.fromBig(v);
const self = 1n << 127n;
const prober = id(42n);

function request(requestedInfo: number[], extensions: MessageExtension[] = []): IncomingRequest {
  return {
    message: { contents: { extensions } },
    body: { method: 'probe_req', value: { requestedInfo } },
    from: { nodeIds: [prober] },
    responseCertificates: [],
    responseExtensions: [],
  } as unknown as IncomingRequest;
}

function options(extra: Partial<ProbeResponderOptions> = {}): ProbeResponderOptions {
  const table = new ChordRoutingTable(ring, id(self));
  table.add(id(1n << 126n)); // first predecessor a quarter of the ring back
  return {
    router: {} as RequestRouter,
    table,
    ctx: decodeContext(),
    uptimeSeconds: () => 3600,
    storedResources: () => 17,
    ...extra,
  };
}

describe('Probe', () => {
  it('answers the recognised items in the order asked, and nothing that was not asked', () => {
    expect(answerChordProbe(request([3, 9, 1, 2]), options())).toEqual({
      method: 'probe_ans',
      value: {
        probeInfo: [
          { type: 'uptime', value: 3600 },
          { type: 'responsible_set', value: 250_000_000 },
          { type: 'num_resources', value: 17 },
        ],
      },
    });
    expect(answerChordProbe(request([2]), options())).toEqual({
      method: 'probe_ans',
      value: { probeInfo: [{ type: 'num_resources', value: 17 }] },
    });
    expect(answerChordProbe(request([4, 200]), options())).toEqual({ method: 'probe_ans', value: { probeInfo: [] } });
  });

  it('responsible_set is our share of the ring in parts per billion; alone, all of it', () => {
    expect(responsibleSetPpb(options().table)).toBe(250_000_000);
    expect(responsibleSetPpb(new ChordRoutingTable(ring, id(self)))).toBe(1_000_000_000);
  });

  it('with self-tuning, takes in the self_tuning_data of the request and answers with ours', () => {
    const received: [Uint8Array, SelfTuningData][] = [];
    const ours = { networkSize: 200, joinRate: 10_628, leaveRate: 99 };
    const o = options({ selfTuning: { received: (from, d) => received.push([from, d]), current: () => ours } });
    const theirs = { networkSize: 180, joinRate: 5, leaveRate: 6 };
    const r = request([3], [selfTuningExtension(theirs)]);
    expect(answerChordProbe(r, o)).toEqual({
      method: 'probe_ans',
      value: { probeInfo: [{ type: 'uptime', value: 3600 }] },
    });
    expect(received).toEqual([[prober, theirs]]);
    expect(r.responseExtensions).toHaveLength(1);
    expect(r.responseExtensions?.[0]).toMatchObject({ type: 3, critical: false });
    expect(findSelfTuningData(r.responseExtensions ?? [], decodeContext())).toEqual(ours);
  });

  it('sends no self_tuning_data to a prober that sent none, ignores a malformed one, and ignores it when off', () => {
    const ours = { networkSize: 200, joinRate: 1, leaveRate: 1 };
    const received: SelfTuningData[] = [];
    const on = options({ selfTuning: { received: (_, d) => received.push(d), current: () => ours } });
    const plain = request([3]);
    answerChordProbe(plain, on);
    expect(plain.responseExtensions).toEqual([]);
    const malformed = request([3], [{ type: 3, critical: false, contents: Uint8Array.of(1, 2, 3, 4, 5) }]);
    expect(answerChordProbe(malformed, on)).toMatchObject({ method: 'probe_ans' });
    expect(malformed.responseExtensions).toEqual([]);
    const off = request([3], [selfTuningExtension(ours)]);
    answerChordProbe(off, options());
    expect(off.responseExtensions).toEqual([]);
    expect(received).toEqual([]);
  });
});
