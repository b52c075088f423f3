import * as v from 'valibot';
import { UserErrorSchema } from './user-errors';

/**
 * The app's overlay membership as the renderer sees it (`overlay.status` answers and events).
 * - no-identity: first run, or the identity was forgotten: the renderer shows onboarding.
 * - joining: links and the ring are being set up (`steps` says how far).
 * - joined: a member of the ring.
 * - partitioned: running, but cut off from the rest of the overlay (no neighbours, or a partition check
 *   answered by another ring); the peer keeps trying.
 * - offline: not running (left by the user, or a failure: `reason`, `lastError`).
 */
export const OVERLAY_STATES = ['no-identity', 'joining', 'joined', 'partitioned', 'offline'] as const;
export type OverlayState = (typeof OVERLAY_STATES)[number];

/** The steps of joining, in order, as onboarding shows them. */
export const JOIN_STEPS = ['configuration', 'key-pair', 'certificate', 'links', 'ring', 'registered'] as const;
export type JoinStep = (typeof JOIN_STEPS)[number];
export const STEP_STATES = ['pending', 'active', 'done', 'failed', 'skipped'] as const;

export const JOIN_STEP_LABELS: Record<JoinStep, string> = {
  configuration: 'Overlay configuration',
  'key-pair': 'Key pair',
  certificate: 'Certificate',
  links: 'Links to other peers',
  ring: 'Ring joined',
  registered: 'Identity published in the overlay',
};

const hex = v.pipe(v.string(), v.regex(/^[0-9a-f]{2,128}$/));
const count = v.pipe(v.number(), v.integer(), v.minValue(0));

export const JoinStepStatusSchema = v.strictObject({
  step: v.picklist(JOIN_STEPS),
  status: v.picklist(STEP_STATES),
  /** A short fact about the step (e.g. "3 links", "sequence 4"). */
  detail: v.optional(v.pipe(v.string(), v.maxLength(200))),
});
export type JoinStepStatus = v.InferOutput<typeof JoinStepStatusSchema>;

export const OverlayStatusSchema = v.strictObject({
  state: v.picklist(OVERLAY_STATES),
  /** Why the state is what it is, for a person (offline and partitioned always have one). */
  reason: v.nullable(v.pipe(v.string(), v.maxLength(500))),
  /** When the state last changed (ms since the epoch). */
  since: v.number(),
  /** The overlay's name (instance-name); null before one was chosen. */
  overlay: v.nullable(v.string()),
  /** True for the zero-configuration local overlay (LAN, no operator). */
  local: v.boolean(),
  configuration: v.nullable(
    v.strictObject({
      /** Where it came from: an https URL, or "embedded" for the local overlay. */
      source: v.string(),
      sequence: count,
      /** SHA-256 fingerprint of the configuration signer's certificate the user accepted (null: none). */
      signer: v.nullable(v.string()),
    }),
  ),
  userName: v.nullable(v.string()),
  nodeId: v.nullable(hex),
  predecessors: v.array(hex),
  successors: v.array(hex),
  /** Open links by transport (e.g. DTLS-UDP-SR, TLS-TCP-FH-NO-ICE). */
  links: v.array(v.strictObject({ transport: v.string(), count })),
  storedRecords: count,
  storedBytes: count,
  steps: v.array(JoinStepStatusSchema),
  lastError: v.nullable(UserErrorSchema),
});
export type OverlayStatus = v.InferOutput<typeof OverlayStatusSchema>;

/** The longest overlay name or configuration URL the app accepts from a person. */
export const OVERLAY_SOURCE_MAX = 2048;

/**
 * What a person types to find an operator's overlay: its name (resolved by DNS SRV / the well-known URL,
 * RFC 6940 §11.2) or an https configuration URL.
 */
export const OverlaySourceSchema = v.pipe(
  v.string('the overlay must be a name or an https URL'),
  v.trim(),
  v.minLength(1, 'enter the overlay’s name or configuration URL'),
  v.maxLength(OVERLAY_SOURCE_MAX, `the overlay’s name or URL is longer than ${OVERLAY_SOURCE_MAX} characters`),
  v.check(
    (s) => /^https:\/\/\S+$/i.test(s) || /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/i.test(s),
    'enter an overlay name like example.org or an https:// configuration URL',
  ),
);

/**
 * An operator's overlay found and its configuration verified, waiting for the user to accept its signer.
 * The document stays in main; `offer` names it for the next request (valid for 10 minutes).
 */
export const OverlayOfferSchema = v.strictObject({
  offer: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{16,64}$/)),
  overlay: v.string(),
  url: v.string(),
  sequence: count,
  /** The configuration signers' certificates: who vouches for this configuration. */
  signers: v.array(
    v.strictObject({
      fingerprint: v.string(),
      subject: v.string(),
      notAfter: v.string(),
    }),
  ),
  /** The overlay has an enrollment server (accounts with user name and password). */
  enrollment: v.boolean(),
  selfSignedPermitted: v.boolean(),
  /** ISO date the configuration expires, if it does. */
  expires: v.nullable(v.string()),
});
export type OverlayOffer = v.InferOutput<typeof OverlayOfferSchema>;
