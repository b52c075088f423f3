/** The identity a node process gets from its test (a JSON setup file): key, certificate, Node-ID, trust. */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { TrustPolicy } from '../../src-main/reload/identity';
import { fromHex } from '../../src-main/reload/wire';

export interface ProcessIdentitySetup {
  overlay: string;
  privateKeyPem: string;
  /** Base64 DER. */
  certificate: string;
  /** Base64 DER of the overlay's CA. */
  rootCert: string;
  nodeId: string;
}

export interface ProcessIdentity {
  policy: TrustPolicy;
  privateKey: KeyObject;
  certificate: Uint8Array;
  nodeId: Uint8Array;
}

const b64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

export function processIdentity(setup: ProcessIdentitySetup): ProcessIdentity {
  return {
    policy: new TrustPolicy({
      overlay: setup.overlay,
      nodeIdLength: 16,
      rootCerts: [b64(setup.rootCert)],
      badNodes: [],
    }),
    privateKey: createPrivateKey(setup.privateKeyPem),
    certificate: b64(setup.certificate),
    nodeId: fromHex(setup.nodeId),
  };
}
