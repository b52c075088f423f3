/** Certificates of RELOAD identities: parsing, trust decisions, CSRs, issuance, self-signed identities. */
export * from './certificate-authority';
export * from './certificate-info';
export * from './errors';
export * from './keys';
export * from './key-strength';
export * from './node-id';
export * from './trust-policy';
export * from './user-name';
export * from './enrollment-client';
export * from './identity-file';
export { IDENTITY_FILE_KDF, MAX_KDF_ITERATIONS, type KeyEncryption } from './encrypted-key';
