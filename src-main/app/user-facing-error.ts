/**
 * A refusal a person can act on: `reason` is one of USER_ERROR_CODES (src-shared/model/user-errors.ts), which
 * the renderer turns into a title and what to do next; the message names the overlay, user or server involved
 * and never an internal field, a schema path or a stack.
 */
import { ServiceError } from '../common/service-error';
import { USER_ERROR_CODES, type UserError, type UserErrorCode } from '../../src-shared/model/user-errors';

export class UserFacingError extends ServiceError {
  constructor(
    readonly reason: UserErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const isUserErrorCode = (reason: string): reason is UserErrorCode =>
  (USER_ERROR_CODES as readonly string[]).includes(reason);

/**
 * For an overlay status's lastError: a UserFacingError as it is, as is a service's own condition whose reason is
 * a user error code (the keychain's `keychain-unavailable`); anything else as an internal error.
 */
export function toUserError(error: unknown, now: number = Date.now()): UserError {
  if (error instanceof ServiceError && isUserErrorCode(error.reason))
    return { code: error.reason, message: error.message.slice(0, 1000), at: now };
  return { code: 'internal', message: 'Something went wrong inside the app; the log has the details.', at: now };
}
