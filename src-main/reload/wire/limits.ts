/**
 * What a decoder accepts. The configuration supplies these (max-message-size, node-id-length); nothing in
 * the codec hard-codes them.
 */
export type DataModel = 'single' | 'array' | 'dictionary';

export interface DecodeLimits {
  /** Largest message (or reassembled message) accepted, in bytes. Config `max-message-size`. */
  maxMessageSize: number;
  /** Most entries accepted in any one list (destinations, candidates, values, …). */
  maxListEntries: number;
  /** Deepest nesting of length-delimited structures. */
  maxDepth: number;
}

export interface DecodeContext extends DecodeLimits {
  /** Config `node-id-length`: 16..20 bytes (CHORD-RELOAD: 16). */
  nodeIdLength: number;
  /** The data model of a Kind; it is not on the wire. Undefined: the Kind is unknown here. */
  dataModelOf(kind: number): DataModel | undefined;
}

export interface EncodeContext {
  nodeIdLength: number;
}

/** RFC 6940 defaults: max-message-size 5000, Node-IDs of 128 bits. */
export const DEFAULT_LIMITS: DecodeLimits = { maxMessageSize: 5000, maxListEntries: 4096, maxDepth: 16 };

/** The Kinds RFC 6940 and RFC 7904 register, with their data models. */
export const REGISTERED_DATA_MODELS: ReadonlyMap<number, DataModel> = new Map<number, DataModel>([
  [0x1, 'dictionary'], // SIP-REGISTRATION (RFC 7904)
  [0x2, 'single'], // TURN-SERVICE
  [0x3, 'array'], // CERTIFICATE_BY_NODE
  [0x10, 'array'], // CERTIFICATE_BY_USER
  [0x104, 'dictionary'], // REDIR (RFC 7374)
]);

/** A decode context whose numbers make no sense (they come from configuration). */
export class DecodeContextError extends RangeError {
  constructor(field: string, value: unknown, range: string) {
    super(`${field} must be ${range} (got ${String(value)})`);
    this.name = 'DecodeContextError';
  }
}

export function decodeContext(overrides: Partial<DecodeContext> = {}): DecodeContext {
  const ctx: DecodeContext = {
    ...DEFAULT_LIMITS,
    nodeIdLength: 16,
    dataModelOf: (kind) => REGISTERED_DATA_MODELS.get(kind),
    ...overrides,
  };
  const int = (v: number, lo: number, hi: number) => Number.isInteger(v) && v >= lo && v <= hi;
  if (!int(ctx.nodeIdLength, 16, 20))
    throw new DecodeContextError('nodeIdLength', ctx.nodeIdLength, '16..20 (node-id-length)');
  if (!int(ctx.maxMessageSize, 38, 0xffffffff))
    throw new DecodeContextError('maxMessageSize', ctx.maxMessageSize, '38..2^32-1');
  if (!int(ctx.maxListEntries, 1, 1 << 24))
    throw new DecodeContextError('maxListEntries', ctx.maxListEntries, '1..2^24');
  if (!int(ctx.maxDepth, 1, 64)) throw new DecodeContextError('maxDepth', ctx.maxDepth, '1..64');
  return ctx;
}
