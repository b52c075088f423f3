/** The storage engine of a RELOAD peer (RFC 6940 §7): Store, Fetch, Stat, Find, expiry, replication helpers. */
export { accessRefusal, MAX_NODE_MULTIPLE_INDEX, sipDomainRefusal } from './access-control';
export type { DataStore, StoreLimits, StoreUsage } from './data-store';
export * from './errors';
export { wireDataModel, type StorageKind } from './kinds';
export { DEFAULT_STORE_LIMITS, MemoryDataStore } from './memory-data-store';
export { isLive, liveValues, remainingLifetime, storedDataLength, type KindRecord, type StoredValue } from './records';
export {
  dropOutsideArc,
  exportArc,
  exportRecords,
  exportResource,
  toStoreReq,
  type ResourceExport,
} from './replication';
export { ARRAY_LAST } from './selection';
export { certificateSigners, dataSignerFor, type DataSigner, type SignerLookup } from './signers';
export {
  StorageService,
  type FetchResult,
  type StorageServiceOptions,
  type StoreContext,
  type StoreResult,
} from './storage-service';
