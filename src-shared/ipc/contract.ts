/**
 * The one IPC contract between the renderer and the main-process services.
 *
 * Every request (renderer -> main, answered once) and every event (main -> renderer, pushed) is declared
 * here with a runtime schema. Both bridges (Electron preload and the browser-mode WebSocket) carry exactly
 * these channels; the main side validates requests, the renderer validates responses and events.
 */
import * as v from 'valibot';
import { AppInfoSchema } from '../model/app-info';
import { SettingsPatchSchema, SettingsSchema } from '../model/settings';
import {
  CertificateInfoSchema,
  IdentityFileTextSchema,
  IdentityStatusSchema,
  PassphraseSchema,
  PasswordSchema,
  TypedUserNameSchema,
} from '../model/identity';
import { OverlayOfferSchema, OverlaySourceSchema, OverlayStatusSchema } from '../model/overlay';

/** A request that takes no arguments still sends `{}`, so every payload is a JSON object. */
const NoArguments = v.strictObject({});

const certificateId = v.pipe(v.string('id must name a certificate'), v.minLength(1), v.maxLength(600));
/** The overlay an identity is made for: the zero-configuration local overlay, or an offer the user accepted. */
const operatorOverlay = v.strictObject({
  kind: v.literal('operator'),
  offer: OverlayOfferSchema.entries.offer,
  /** The fingerprint of the configuration signer the user was shown and accepted. */
  acceptSigner: v.pipe(v.string(), v.maxLength(200)),
});
const overlayChoice = v.variant('kind', [v.strictObject({ kind: v.literal('local') }), operatorOverlay]);

/** Requests that wait on the network (enrollment, joining) get longer than the bridge's default 30 s. */
export const SLOW_REQUEST_TIMEOUT_MS = 120_000;

export const requests = {
  /** Name, version and runtime of the backend the renderer is talking to. */
  'app.info': { request: NoArguments, response: AppInfoSchema },
  'settings.get': { request: NoArguments, response: SettingsSchema },
  /** Apply a partial update; answers the full new settings and pushes `settings.changed` to every window. */
  'settings.update': { request: SettingsPatchSchema, response: SettingsSchema },

  /** The overlay membership now (also pushed as `overlay.status`). */
  'overlay.status': { request: NoArguments, response: OverlayStatusSchema },
  /**
   * Finds an operator's overlay by name (DNS SRV / well-known URL) or configuration URL, fetches and verifies its
   * configuration, and offers it with its signers for the user to accept. Nothing is stored yet.
   */
  'overlay.discover': {
    request: v.strictObject({ source: OverlaySourceSchema }),
    response: OverlayOfferSchema,
    timeoutMs: SLOW_REQUEST_TIMEOUT_MS,
  },
  /**
   * Starts the peer with the active identity in its overlay; answers once it is a member of the ring (or
   * refuses with the reason), `overlay.status` events tell the steps on the way.
   */
  'overlay.join': { request: NoArguments, response: OverlayStatusSchema, timeoutMs: SLOW_REQUEST_TIMEOUT_MS },
  /** Hands our range to the successor, sends Leave and stops the peer (the identity is kept). */
  'overlay.leave': { request: NoArguments, response: OverlayStatusSchema },

  /** The certificates of this device (also pushed as `identity.changed`). */
  'identity.status': { request: NoArguments, response: IdentityStatusSchema },
  /** Enrolls with the offered overlay's enrollment server; the password is kept in the keychain for renewals. */
  'identity.enroll': {
    request: v.strictObject({ overlay: operatorOverlay, userName: TypedUserNameSchema, password: PasswordSchema }),
    response: CertificateInfoSchema,
    timeoutMs: SLOW_REQUEST_TIMEOUT_MS,
  },
  /** A key and a self-signed certificate made here (the local overlay, or an overlay that permits them). */
  'identity.createSelfSigned': {
    request: v.strictObject({ overlay: overlayChoice, userName: TypedUserNameSchema }),
    response: CertificateInfoSchema,
    timeoutMs: SLOW_REQUEST_TIMEOUT_MS,
  },
  /** A new certificate for the same user now (enrollment again with the kept password, or self-signed). */
  'identity.renew': {
    request: v.strictObject({ id: certificateId }),
    response: CertificateInfoSchema,
    timeoutMs: SLOW_REQUEST_TIMEOUT_MS,
  },
  /** The identity (key and certificate) encrypted with the passphrase, as the text of a file to save. */
  'identity.export': {
    request: v.strictObject({ id: certificateId, passphrase: PassphraseSchema }),
    response: v.strictObject({ fileName: v.string(), text: v.string() }),
  },
  /**
   * An exported identity for the remembered overlay (or the one chosen): it must pass that overlay's rules
   * before anything is stored. It becomes the active identity.
   */
  'identity.import': {
    request: v.strictObject({
      text: IdentityFileTextSchema,
      passphrase: v.pipe(v.string(), v.minLength(1, 'enter the passphrase'), v.maxLength(1024)),
      overlay: v.optional(overlayChoice),
    }),
    response: CertificateInfoSchema,
  },
  /** Deletes the key (and the enrollment password) from the keychain and the certificate; leaves first. */
  'identity.forget': {
    request: v.strictObject({ id: certificateId, confirm: v.literal(true, 'forgetting must be confirmed') }),
    response: IdentityStatusSchema,
  },
} as const;

export const events = {
  /** The settings changed (from any window or tab). */
  'settings.changed': SettingsSchema,
  /** The backend is shutting down (app quit, SIGTERM); the renderer should stop issuing requests. */
  'app.stopping': v.strictObject({ reason: v.string() }),
  /** The overlay membership changed (state, steps, neighbours, links, stored records, last error). */
  'overlay.status': OverlayStatusSchema,
  /** A certificate was added, renewed (or its renewal failed), imported or forgotten. */
  'identity.changed': IdentityStatusSchema,
} as const;

type Requests = typeof requests;
type Events = typeof events;

export type Channel = keyof Requests;
export type EventName = keyof Events;
/** What the caller passes (schema input). */
export type RequestOf<C extends Channel> = v.InferInput<Requests[C]['request']>;
/** What a handler receives after validation (schema output). */
export type ValidRequestOf<C extends Channel> = v.InferOutput<Requests[C]['request']>;
export type ResponseOf<C extends Channel> = v.InferOutput<Requests[C]['response']>;
export type EventOf<E extends EventName> = v.InferOutput<Events[E]>;

export const CHANNELS = Object.keys(requests) as Channel[];
export const EVENT_NAMES = Object.keys(events) as EventName[];

/** How long a client waits for the answer to `channel` (ms). */
export function requestTimeoutMs(channel: Channel, fallback: number): number {
  const entry = requests[channel];
  return 'timeoutMs' in entry ? entry.timeoutMs : fallback;
}

export function isChannel(name: unknown): name is Channel {
  return typeof name === 'string' && Object.hasOwn(requests, name);
}

export function isEventName(name: unknown): name is EventName {
  return typeof name === 'string' && Object.hasOwn(events, name);
}
