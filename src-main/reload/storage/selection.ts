/**
 * Which values a Fetch or Stat returns for one StoredDataSpecifier (RFC 6940 §7.4.2, wire digest §7.8,
 * §11.4): live values only, in wire order; an array index inside the array or a dictionary key asked for by
 * name that holds nothing (never stored, or expired) comes back synthesized as a nonexistent value.
 */
import { toHex, type ArrayRange, type ModelSpecifier, type StoredDataValue } from '../wire';
import { MalformedStorageRequestError } from './errors';
import { isLive, liveValues, type KindRecord, type StoredValue } from './records';

/** ArrayRange's "last element". */
export const ARRAY_LAST = 0xffffffff;

export type Selected = { stored: StoredValue } | { synthesized: StoredDataValue };

const EMPTY = new Uint8Array(0);

function missingIndex(index: number): StoredDataValue {
  return { model: 'array', index, value: { exists: false, value: EMPTY } };
}

function missingKey(key: Uint8Array): StoredDataValue {
  return { model: 'dictionary', key: key.slice(), value: { exists: false, value: EMPTY } };
}

/** Refuses ranges the digest forbids: first > last, or ranges that overlap. */
export function checkRanges(ranges: readonly ArrayRange[], field: string): void {
  const sorted = [...ranges].sort((a, b) => a.first - b.first);
  for (let i = 0; i < sorted.length; i++) {
    const r = sorted[i] as ArrayRange;
    if (r.first > r.last)
      throw new MalformedStorageRequestError(field, `array range first ${r.first} > last ${r.last}`);
    const prev = sorted[i - 1];
    if (prev && prev.last >= r.first)
      throw new MalformedStorageRequestError(
        field,
        `array ranges [${prev.first}, ${prev.last}] and [${r.first}, ${r.last}] overlap`,
      );
  }
}

export function selectValues(record: KindRecord | undefined, spec: ModelSpecifier, now: number): Selected[] {
  const live = record ? liveValues(record, now) : [];
  switch (spec.model) {
    case 'single':
      return live.map((stored) => ({ stored }));
    case 'array': {
      const byIndex = new Map<number, StoredValue>();
      let length = 0;
      for (const v of live) {
        if (v.data.value.model !== 'array') continue;
        byIndex.set(v.data.value.index, v);
        length = Math.max(length, v.data.value.index + 1);
      }
      const out: Selected[] = [];
      if (length === 0) return out;
      for (const range of spec.indices) {
        const lo = range.first === ARRAY_LAST ? length - 1 : range.first;
        const hi = Math.min(range.last === ARRAY_LAST ? length - 1 : range.last, length - 1);
        for (let index = lo; index <= hi; index++) {
          const stored = byIndex.get(index);
          out.push(stored ? { stored } : { synthesized: missingIndex(index) });
        }
      }
      return out;
    }
    case 'dictionary': {
      if (spec.keys.length === 0) return live.map((stored) => ({ stored }));
      const out: Selected[] = [];
      const seen = new Set<string>();
      for (const key of spec.keys) {
        const hex = toHex(key);
        if (seen.has(hex)) continue;
        seen.add(hex);
        const stored = record?.values.get(`k${hex}`);
        out.push(stored && isLive(stored, now) ? { stored } : { synthesized: missingKey(key) });
      }
      return out;
    }
    case 'opaque':
      return [];
  }
}
