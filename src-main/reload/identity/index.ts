/** Certificates of RELOAD identities: parsing, trust decisions, CSRs, issuance, self-signed identities. */
export * from './certificate-authority';
export * from './certificate-info';
export * from './errors';
export * from './keys';
export * from './node-id';
export * from './trust-policy';
export * from './enrollment-client';
export * from './identity-file';
