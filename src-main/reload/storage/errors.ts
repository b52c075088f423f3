/**
 * Why the storage engine refuses a request: one class per condition, each carrying the RELOAD error code the
 * node answers with (RFC 6940 §7.4, §6.3.3.1) and a message naming the Kind, value or field at fault. A
 * refused request has changed nothing (StorageService is atomic per request).
 */
import {
  encodeWith,
  ErrorCode,
  toHex,
  writeStoreAns,
  writeUnknownKinds,
  type ErrorResponse,
  type StoreAns,
  type Writer,
} from '../wire';

const utf8 = new TextEncoder();
/** error_info is opaque<0..2^16-1>; our sentences stay far below that. */
const MAX_TEXT = 1000;
/** Error_Unknown_Kind's KindId unknown_kinds<0..2^8-1> holds at most 63 Kind-IDs. */
const MAX_UNKNOWN_KINDS = 63;

/** "Kind 1 (SIP-REGISTRATION)": how messages name a Kind. */
export function describeKind(kind: number, name?: string): string {
  return name ? `Kind ${kind} (${name})` : `Kind ${kind}`;
}

export abstract class StorageError extends Error {
  /** The RELOAD error code (wire/codes.ts ErrorCode) to answer the request with. */
  abstract readonly errorCode: number;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }

  /** error_info of the ErrorResponse: UTF-8 text, unless the condition defines a structure (below). */
  errorInfo(_nodeIdLength = 16): Uint8Array {
    return utf8.encode(this.message.slice(0, MAX_TEXT));
  }

  toErrorResponse(nodeIdLength = 16): ErrorResponse {
    return { errorCode: this.errorCode, errorInfo: this.errorInfo(nodeIdLength) };
  }
}

// ------------------------------------------------------------------------------------ the request as a whole

/** An original store (replica_number 0) or a Find for a Resource-ID this peer is not responsible for. */
export class NotResponsibleError extends StorageError {
  readonly errorCode = ErrorCode.Not_Found;
  constructor(readonly resourceId: Uint8Array) {
    super(`this peer is not responsible for Resource-ID ${toHex(resourceId)}`);
  }
}

/** A replica store (replica_number > 0) we do not expect, or from a peer not plausible as the data's holder. */
export class ReplicaRefusedError extends StorageError {
  readonly errorCode = ErrorCode.Forbidden;
  constructor(
    readonly resourceId: Uint8Array,
    readonly replicaNumber: number,
  ) {
    super(
      `replica store #${replicaNumber} for Resource-ID ${toHex(resourceId)} refused: we are not a replica holder, or the sender is not plausible as the responsible peer`,
    );
  }
}

/** A Kind-ID listed twice in one StoreReq or FindReq. */
export class DuplicateKindError extends StorageError {
  readonly errorCode = ErrorCode.Invalid_Message;
  constructor(
    readonly kind: number,
    readonly field: string,
  ) {
    super(`${field}: Kind-ID ${kind} appears more than once`);
  }
}

/** Kinds this overlay does not define; error_info is `KindId unknown_kinds<0..2^8-1>` listing all of them. */
export class UnknownKindError extends StorageError {
  readonly errorCode = ErrorCode.Unknown_Kind;
  constructor(readonly kinds: readonly number[]) {
    super(`unknown Kind-ID${kinds.length === 1 ? '' : 's'} ${kinds.join(', ')}`);
  }

  override errorInfo(): Uint8Array {
    const kinds = this.kinds.slice(0, MAX_UNKNOWN_KINDS);
    return encodeWith((w: Writer, k: readonly number[]) => writeUnknownKinds(w, k), kinds, 4 + 4 * kinds.length);
  }
}

/** A request the engine cannot interpret: wrong data model, bad array ranges, a zero replica generation, … */
export class MalformedStorageRequestError extends StorageError {
  readonly errorCode = ErrorCode.Invalid_Message;
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

// ------------------------------------------------------------------------------ signatures and access control

/** A stored value with identity_type none or algorithm {0,0} (only synthesized FetchAns values may have them). */
export class UnsignedValueError extends StorageError {
  readonly errorCode = ErrorCode.Forbidden;
  constructor(
    readonly kind: number,
    readonly index: number,
    kindName?: string,
  ) {
    super(`value #${index} of ${describeKind(kind, kindName)} is unsigned (identity none or algorithm {0,0})`);
  }
}

/** No trusted certificate for the SignerIdentity of a value (or of the StoreReq). */
export class UnknownSignerError extends StorageError {
  readonly errorCode = ErrorCode.Forbidden;
  constructor(
    readonly what: string,
    kind?: number,
    kindName?: string,
  ) {
    super(
      `no trusted certificate for the signer of ${what}${kind === undefined ? '' : ` of ${describeKind(kind, kindName)}`}`,
    );
  }
}

/** A value whose data signature does not verify with its signer's certificate. */
export class BadSignatureError extends StorageError {
  readonly errorCode = ErrorCode.Forbidden;
  constructor(
    readonly kind: number,
    readonly index: number,
    kindName?: string,
  ) {
    super(`the signature of value #${index} of ${describeKind(kind, kindName)} does not verify`);
  }
}

/** The Kind's access control policy does not allow this signer to write this value at this Resource-ID. */
export class AccessDeniedError extends StorageError {
  readonly errorCode = ErrorCode.Forbidden;
  constructor(
    readonly kind: number,
    readonly policy: string,
    readonly who: string,
    readonly reason: string,
    kindName?: string,
  ) {
    super(`${policy} refuses the ${who} of ${describeKind(kind, kindName)}: ${reason}`);
  }
}

// ---------------------------------------------------------------------------------------- state conflicts

/**
 * An original store whose nonzero generation_counter is not the stored one. error_info is a StoreAns with the
 * current generation of every Kind of the request and empty replica lists (RFC 6940 §7.4.1.1).
 */
export class GenerationCounterTooLowError extends StorageError {
  readonly errorCode = ErrorCode.Generation_Counter_Too_Low;
  constructor(
    readonly kind: number,
    readonly sent: bigint,
    readonly current: bigint,
    readonly answer: StoreAns,
    kindName?: string,
  ) {
    super(`generation_counter ${sent} of ${describeKind(kind, kindName)} is not the current one (${current})`);
  }

  override errorInfo(nodeIdLength = 16): Uint8Array {
    return encodeWith((w: Writer, a: StoreAns) => writeStoreAns(w, a, nodeIdLength), this.answer);
  }
}

/** A storage_time not newer than the one of the value it would replace. */
export class DataTooOldError extends StorageError {
  readonly errorCode = ErrorCode.Data_Too_Old;
  constructor(
    readonly kind: number,
    readonly index: number,
    readonly storageTime: bigint,
    readonly storedTime: bigint,
    kindName?: string,
  ) {
    super(
      `value #${index} of ${describeKind(kind, kindName)}: storage_time ${storageTime} is not newer than the stored ${storedTime}`,
    );
  }
}

// ------------------------------------------------------------------------------------------------- quotas

/** A value longer than the Kind's max-size (the length of DataValue.value, docs/decisions.md). */
export class ValueTooLargeError extends StorageError {
  readonly errorCode = ErrorCode.Data_Too_Large;
  constructor(
    readonly kind: number,
    readonly index: number,
    readonly size: number,
    readonly maxSize: number,
    kindName?: string,
  ) {
    super(`value #${index} of ${describeKind(kind, kindName)} has ${size} bytes, max-size is ${maxSize}`);
  }
}

/** More values than the Kind's max-count at one Resource-ID (arrays: highest index + 1). */
export class TooManyValuesError extends StorageError {
  readonly errorCode = ErrorCode.Data_Too_Large;
  constructor(
    readonly kind: number,
    readonly count: number,
    readonly maxCount: number,
    kindName?: string,
  ) {
    super(`${describeKind(kind, kindName)} would hold ${count} values, max-count is ${maxCount}`);
  }
}

/**
 * This peer's storage bound (bytes or entries) would be exceeded. RFC 6940 has no "storage full" code;
 * Error_Data_Too_Large is the one that says "this peer will not hold that much" (docs/decisions.md).
 */
export class StorageFullError extends StorageError {
  readonly errorCode = ErrorCode.Data_Too_Large;
  constructor(
    readonly limit: 'bytes' | 'entries',
    readonly wouldHold: number,
    readonly max: number,
  ) {
    super(`storage full: this peer would hold ${wouldHold} ${limit}, its limit is ${max}`);
  }
}
