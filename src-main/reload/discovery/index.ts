/** Zero-configuration local overlays: DNS-SD over multicast DNS (see local-discovery.ts). */
export * from './errors';
export * from './local-discovery';
export { SERVICE_TYPES, TXT_KEYS } from './dns-sd';
export * from './local-overlay';
