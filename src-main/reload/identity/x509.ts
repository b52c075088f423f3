/**
 * @peculiar/x509 set up once: it needs the reflect-metadata polyfill (tsyringe) and a WebCrypto provider.
 * Every module of this folder imports x509 from here, never from the package directly.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
export const subtle = webcrypto.subtle;
