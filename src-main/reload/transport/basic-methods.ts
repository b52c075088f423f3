/**
 * The methods every node answers the same way (RFC 6940 §6.4.2.5, §6.5.3): Ping (a random response id and
 * the time) and Probe (the requested items, in the order asked; the overlay supplies the values).
 */
import { randomBytes } from 'node:crypto';
import type { Body, ProbeInformation, ProbeInformationType } from '../wire';

export interface ProbeSource {
  responsibleSetPpb(): number;
  storedResources(): number;
  uptimeSeconds(): number;
}

const PROBE_CODES: Record<number, ProbeInformationType> = { 1: 'responsible_set', 2: 'num_resources', 3: 'uptime' };

export function answerPing(wallClockMs: number = Date.now()): Body {
  return {
    method: 'ping_ans',
    value: { responseId: randomBytes(8).readBigUInt64BE(0), time: BigInt(Math.floor(wallClockMs)) },
  };
}

export function answerProbe(requested: readonly number[], source: ProbeSource): Body {
  const info: ProbeInformation[] = [];
  for (const code of requested) {
    const type = PROBE_CODES[code];
    if (!type) continue; // unknown items are left out
    const value =
      type === 'responsible_set'
        ? source.responsibleSetPpb()
        : type === 'num_resources'
          ? source.storedResources()
          : source.uptimeSeconds();
    info.push({ type, value: Math.max(0, Math.min(0xffffffff, Math.floor(value))) });
  }
  return { method: 'probe_ans', value: { probeInfo: info } };
}
