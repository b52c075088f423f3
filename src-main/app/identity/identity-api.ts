/**
 * What the app's identity side offers the rest of the backend (issue 12): the IPC handlers for identities and
 * overlay discovery, and the identity the peer runs with. Implemented by createIdentityApi
 * (identity-manager.ts); the peer service (app/peer) consumes `active()` and the events.
 */
import type { KeyObject } from 'node:crypto';
import type { OverlayConfiguration } from '../../reload';
import type { IdentityStatus } from '../../../src-shared/model/identity';
import type { Handlers } from '../../ipc/dispatcher';

/** The identity the peer runs with, and the overlay it belongs to. Keys never leave main. */
export interface ActiveIdentity {
  /** The certificate's id in IdentityStatus. */
  id: string;
  overlay: string;
  /** The zero-configuration local overlay (embedded configuration, LAN discovery). */
  local: boolean;
  userName: string;
  privateKey: KeyObject;
  /** Our certificate first, then any chain. */
  chain: Uint8Array[];
  config: OverlayConfiguration;
  /** The configuration document as fetched (undefined for the local overlay's embedded one). */
  configDocument: string | undefined;
  /** An https URL, or "embedded" for the local overlay. */
  source: string;
  /** SHA-256 fingerprint of the configuration signer the user accepted (null for the local overlay). */
  signer: string | null;
}

export type IdentityChannel =
  | 'overlay.discover'
  | 'identity.status'
  | 'identity.enroll'
  | 'identity.createSelfSigned'
  | 'identity.renew'
  | 'identity.export'
  | 'identity.import'
  | 'identity.forget';

export type IdentityStepName = 'configuration' | 'key-pair' | 'certificate';
export type IdentityChangeCause = 'created' | 'renewed' | 'imported' | 'forgotten';

export interface IdentityApi {
  readonly handlers: Pick<Handlers, IdentityChannel>;
  /** The identity the peer should run with now, or undefined (first run, or forgotten). */
  active(): Promise<ActiveIdentity | undefined>;
  /** After the active identity changed; the peer service restarts (or stops) the peer. */
  onActiveChanged(listener: (active: ActiveIdentity | undefined, cause: IdentityChangeCause) => void): () => void;
  /** Progress of the steps that happen on this side of joining (configuration, key pair, certificate). */
  onStep(
    listener: (step: IdentityStepName, status: 'active' | 'done' | 'failed' | 'skipped', detail?: string) => void,
  ): () => void;
  status(): Promise<IdentityStatus>;
  /** Starts the automatic renewal checks. */
  start(): void;
  /** Stops timers; nothing else (keys stay in the keychain). */
  stop(): void;
}
