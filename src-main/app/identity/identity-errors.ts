/**
 * From what the protocol layer, the keychain and the identity service throw to the refusals a person can act
 * on (UserFacingError with a UserErrorCode). Messages name the overlay, the user or the server, never an
 * internal field. Anything not listed here is a bug and stays an internal error (its details in the log).
 */
import type { UserErrorCode } from '../../../src-shared/model/user-errors';
import {
  CertificateRejectedError,
  ConfigurationError,
  ConfigurationFetchError,
  EnrollmentRefusedError,
  EnrollmentTransportError,
  IdentityFileError,
  UserNameError,
} from '../../reload';
import { KeychainOperationError, KeychainUnavailableError } from '../credentials/credential-store';
import { InstallationIdInvalidError } from '../credentials/installation-id';
import { UserFacingError } from '../user-facing-error';
import { ClockSkewError, IdentityMissingError } from './identity-service';

/** What was being done, which decides what some conditions mean. */
export type IdentityAction = 'discover' | 'enroll' | 'self-signed' | 'renew' | 'import' | 'export' | 'load' | 'forget';

export interface ErrorContext {
  action: IdentityAction;
  overlay?: string;
  userName?: string;
}

const refuse = (code: UserErrorCode, message: string, cause: unknown) => new UserFacingError(code, message, { cause });

/** A ConfigurationError's message without its element prefix ("configuration-url: cannot fetch …"). */
function withoutField(error: ConfigurationError): string {
  const prefix = `${error.field}: `;
  return error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
}

/** The UserFacingError for `error`, or `error` itself when it is not a condition a person can act on. */
export function toUserFacing(error: unknown, context: ErrorContext): unknown {
  if (error instanceof UserFacingError) return error;
  const overlay = context.overlay ?? 'the overlay';
  if (error instanceof KeychainUnavailableError)
    return refuse('keychain-unavailable', `The system keychain cannot be used: ${error.missing}.`, error);
  if (error instanceof KeychainOperationError)
    return refuse(
      'keychain-unavailable',
      `The system keychain refused to ${error.operation === 'set' ? 'store' : error.operation} a secret.`,
      error,
    );
  if (error instanceof InstallationIdInvalidError)
    return refuse(
      'keychain-unavailable',
      `This installation's keychain entries cannot be found: ${error.message}.`,
      error,
    );
  if (error instanceof ConfigurationFetchError)
    return refuse(
      'overlay-unreachable',
      `The configuration of ${overlay} could not be fetched: ${withoutField(error)}.`,
      error,
    );
  if (error instanceof ConfigurationError)
    return refuse('configuration-invalid', `The configuration of ${overlay} was refused: ${error.message}.`, error);
  if (error instanceof UserNameError) {
    if (context.action === 'discover')
      return refuse(
        'configuration-invalid',
        `The configuration names an overlay that cannot be used: ${error.detail}.`,
        error,
      );
    if (context.action === 'import')
      return refuse(
        'identity-file-invalid',
        `The identity in this file has a user name this app refuses: ${error.detail}.`,
        error,
      );
    return refuse('user-name-invalid', `That user name cannot be used: ${error.detail}.`, error);
  }
  if (error instanceof EnrollmentRefusedError) return enrollmentRefused(error, overlay, context);
  if (error instanceof EnrollmentTransportError)
    return refuse(
      'overlay-unreachable',
      `The enrollment server of ${overlay} could not be reached: ${error.message}.`,
      error,
    );
  if (error instanceof ClockSkewError) return refuse('clock-skew', `${capitalize(error.message)}.`, error);
  if (error instanceof CertificateRejectedError) return certificateRejected(error, overlay, context);
  if (error instanceof IdentityFileError) {
    if (error.reason === 'passphrase')
      return refuse(
        'wrong-passphrase',
        'The passphrase does not open this identity file (or the file is damaged).',
        error,
      );
    if (error.reason === 'weak-passphrase')
      return refuse('wrong-passphrase', 'Choose a longer passphrase for the identity file.', error);
    return refuse('identity-file-invalid', `This is not an identity file this app can read: ${error.message}.`, error);
  }
  if (error instanceof IdentityMissingError) return refuse('identity-missing', `${capitalize(error.message)}.`, error);
  return error;
}

function enrollmentRefused(error: EnrollmentRefusedError, overlay: string, context: ErrorContext): UserFacingError {
  switch (error.token) {
    // The server answers wrong passwords and unknown users alike on purpose (enrollment-handler.ts), so this
    // cannot say which it was.
    case 'failed_authentication':
      return refuse('wrong-password', `The user name or password is wrong for ${overlay}.`, error);
    case 'username_not_available':
      return refuse(
        'user-name-invalid',
        `The enrollment server of ${overlay} does not accept the user name ${context.userName ?? ''}`.trimEnd() + '.',
        error,
      );
    case 'rate_limited':
      return refuse(
        'enrollment-refused',
        `The enrollment server of ${overlay} saw too many attempts; ${retryHint(error)}.`,
        error,
      );
    default:
      return refuse(
        'enrollment-refused',
        `The enrollment server of ${overlay} refused the request (${error.token}).`,
        error,
      );
  }
}

function retryHint(error: EnrollmentRefusedError): string {
  const seconds = /try again in (\d+) s/.exec(error.message)?.[1];
  return seconds ? `try again in ${seconds} seconds` : 'try again later';
}

function certificateRejected(error: CertificateRejectedError, overlay: string, context: ErrorContext): UserFacingError {
  if (error.reason === 'not-yet-valid')
    return refuse('clock-skew', `The certificate is not valid yet by this computer's clock (${error.message}).`, error);
  if (error.reason === 'expired') {
    const who = context.userName ? `The certificate of ${context.userName}` : 'The certificate';
    return refuse('certificate-expired', `${who} has expired (${error.message}).`, error);
  }
  if (context.action === 'import')
    return refuse(
      'identity-file-invalid',
      `The identity in this file does not belong to ${overlay}: ${error.message}.`,
      error,
    );
  if (context.action === 'load')
    return refuse(
      'identity-missing',
      `The certificate of ${context.userName ?? 'this identity'} is no longer accepted by ${overlay} (${error.message}); join again.`,
      error,
    );
  if (error.reason === 'self-signed-not-permitted')
    return refuse('self-signed-not-permitted', `${capitalize(overlay)} does not permit self-signed identities.`, error);
  return refuse(
    'enrollment-refused',
    `${capitalize(overlay)} does not accept the certificate it issued: ${error.message}.`,
    error,
  );
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
