import * as v from 'valibot';
import { UserErrorSchema } from './user-errors';

/** One identity certificate of this device, as Settings → Identity shows it. Public data only. */
export const CertificateInfoSchema = v.strictObject({
  /** Opaque handle for requests about this certificate. */
  id: v.pipe(v.string(), v.minLength(1), v.maxLength(600)),
  overlay: v.string(),
  userName: v.string(),
  nodeIds: v.array(v.pipe(v.string(), v.regex(/^[0-9a-f]{2,128}$/))),
  /** The issuer's distinguished name ("self-signed" certificates name themselves). */
  issuer: v.string(),
  selfSigned: v.boolean(),
  /** ISO dates. */
  notBefore: v.string(),
  notAfter: v.string(),
  /** Whole days until notAfter (negative once expired). */
  daysLeft: v.pipe(v.number(), v.integer()),
  /** SHA-256 of the DER certificate, upper-case hex pairs separated by colons. */
  fingerprint: v.pipe(v.string(), v.regex(/^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/)),
  /** e.g. "ECDSA P-256", "RSA 2048". */
  keyAlgorithm: v.string(),
  /** The identity the running peer uses. */
  active: v.boolean(),
  /** When automatic renewal is due (ISO), and why the last attempt failed (null: none failed). */
  renewal: v.strictObject({
    due: v.string(),
    lastError: v.nullable(UserErrorSchema),
  }),
});
export type CertificateInfo = v.InferOutput<typeof CertificateInfoSchema>;

export const IdentityStatusSchema = v.strictObject({
  certificates: v.array(CertificateInfoSchema),
  /** What forgetting would lose, per certificate id, is said by the renderer from `selfSigned`. */
  keychain: v.picklist(['available', 'unavailable']),
});
export type IdentityStatus = v.InferOutput<typeof IdentityStatusSchema>;

/** A user name as typed: "alice" (the overlay's domain is added) or "alice@example.org". */
export const TypedUserNameSchema = v.pipe(
  v.string('the user name must be text'),
  v.trim(),
  v.toLowerCase(),
  v.minLength(1, 'enter a user name'),
  v.maxLength(254, 'the user name is longer than 254 characters'),
);

export const PasswordSchema = v.pipe(
  v.string('the password must be text'),
  v.minLength(1, 'enter the password'),
  v.maxLength(1024, 'the password is longer than 1024 characters'),
);

/** Protects an exported identity file; long enough that the file is not the weak point. */
export const PASSPHRASE_MIN = 10;
export const PassphraseSchema = v.pipe(
  v.string('the passphrase must be text'),
  v.minLength(PASSPHRASE_MIN, `the passphrase must be at least ${PASSPHRASE_MIN} characters`),
  v.maxLength(1024, 'the passphrase is longer than 1024 characters'),
);

/** An exported identity file's text (an encrypted PKCS#8 key and its certificates: a few KB). */
export const IDENTITY_FILE_MAX = 256 * 1024;
export const IdentityFileTextSchema = v.pipe(
  v.string('the identity file must be text'),
  v.minLength(1, 'choose an identity file'),
  v.maxLength(IDENTITY_FILE_MAX, `an identity file is at most ${IDENTITY_FILE_MAX / 1024} KB`),
);
