/** The public face of the RELOAD protocol (RFC 6940). The SIP usage and the app import only this file. */
export * from './wire';
export * from './crypto';
export * from './identity';
export * from './config';
export * from './clock';
export * from './link/link';
export * from './transport';
export * from './storage';
export * from './topology';
export * from './node';
export * from './discovery';
