/** Message and stored-data signatures, Node-ID and Resource-ID hashing. */
export * from './algorithms';
export * from './data-signature';
export * from './hashes';
export * from './message-signature';
export * from './signed-bytes';
export * from './signer';
