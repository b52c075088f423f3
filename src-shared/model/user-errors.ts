import * as v from 'valibot';

/**
 * Conditions of joining an overlay and managing an identity that a person can act on. The main side refuses
 * with one of these codes (HandlerFailedError.reason, and `lastError` in the overlay status); the renderer
 * shows the title and what to do next from USER_ERROR_ADVICE, never a stack trace or an internal field name.
 */
export const USER_ERROR_CODES = [
  'wrong-password',
  'unknown-user',
  'overlay-unreachable',
  'configuration-invalid',
  'signer-changed',
  'certificate-expired',
  'enrollment-refused',
  'clock-skew',
  'self-signed-not-permitted',
  'user-name-invalid',
  'identity-missing',
  'identity-file-invalid',
  'wrong-passphrase',
  'keychain-unavailable',
  'offer-expired',
  'not-joined',
  'busy',
  'internal',
] as const;
export type UserErrorCode = (typeof USER_ERROR_CODES)[number];

export const UserErrorSchema = v.strictObject({
  code: v.picklist(USER_ERROR_CODES),
  /** What happened, in words for a person (may name the overlay, the user or a URL). */
  message: v.pipe(v.string(), v.maxLength(1000)),
  /** When it happened (ms since the epoch). */
  at: v.number(),
});
export type UserError = v.InferOutput<typeof UserErrorSchema>;

export const USER_ERROR_ADVICE: Record<UserErrorCode, { title: string; action: string }> = {
  'wrong-password': {
    title: 'Wrong password',
    action: 'Check the password your overlay operator gave you and try again.',
  },
  'unknown-user': {
    title: 'Unknown user',
    action: 'Check the user name (it looks like name@overlay); your operator must add you before you can join.',
  },
  'overlay-unreachable': {
    title: 'The overlay cannot be reached',
    action: 'Check the overlay name or address and your network connection, then try again.',
  },
  'configuration-invalid': {
    title: 'The overlay’s configuration is not valid',
    action: 'Ask the overlay’s operator to check its configuration; nothing was changed here.',
  },
  'signer-changed': {
    title: 'The overlay’s signer is not the one you accepted',
    action: 'Look at the configuration again and accept its signer only if your operator confirms it.',
  },
  'certificate-expired': {
    title: 'Your certificate has expired',
    action: 'Renew it in Settings → Identity, or join again with your user name and password.',
  },
  'enrollment-refused': {
    title: 'The enrollment server refused the request',
    action: 'Wait a minute and try again; if it keeps refusing, contact the overlay’s operator.',
  },
  'clock-skew': {
    title: 'This computer’s clock is wrong',
    action: 'Set the date and time automatically in your system settings, then try again.',
  },
  'self-signed-not-permitted': {
    title: 'This overlay needs an account',
    action: 'Enter the user name and password your overlay operator gave you.',
  },
  'user-name-invalid': {
    title: 'That user name cannot be used',
    action: 'Use lowercase letters, digits, dots, dashes or underscores (for example alice or alice@example.org).',
  },
  'identity-missing': {
    title: 'No identity for this overlay',
    action: 'Join the overlay again, or import an identity you exported earlier.',
  },
  'identity-file-invalid': {
    title: 'That file is not an identity exported by this app',
    action: 'Choose the .reload-identity file you exported from Settings → Identity.',
  },
  'wrong-passphrase': {
    title: 'Wrong passphrase',
    action: 'Type the passphrase you chose when you exported the identity.',
  },
  'keychain-unavailable': {
    title: 'The system keychain is not available',
    action: 'Unlock your keychain (on Linux: the login keyring) and try again; secrets are never stored elsewhere.',
  },
  'offer-expired': {
    title: 'The overlay’s configuration was fetched too long ago',
    action: 'Start again: the configuration is fetched anew.',
  },
  'not-joined': {
    title: 'Not a member of an overlay yet',
    action: 'Join an overlay first.',
  },
  busy: {
    title: 'Another change is in progress',
    action: 'Wait until it has finished, then try again.',
  },
  internal: {
    title: 'Something went wrong inside the app',
    action: 'Try again; if it happens again, the app’s log has the details for a bug report.',
  },
};
