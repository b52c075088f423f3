/**
 * Why this node refuses or fails to put a SIP registration into the overlay: one class per condition, each
 * naming the field at fault. The local SIP interface maps them to SIP answers (403 for the two refusals of
 * the AOR, 400 for bad Contact feature tags, 5xx for a failed Store).
 */
import { ServiceError } from '../../common/service-error';

export abstract class SipRegistrationError extends ServiceError {
  constructor(
    /** The argument or protocol field at fault, e.g. "aor", "contactPrefs", "expiresSec". */
    readonly field: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`${field}: ${message}`, options);
  }
}

/** The AOR is not this node's certificate user name (USER-NODE-MATCH would refuse it: 403 locally). */
export class AorNotAllowedError extends SipRegistrationError {
  readonly reason = 'aor-not-allowed';
}

/** The AOR is not written as `user@domain` (optionally with a sip:/sips: scheme), or has a bad %-escape. */
export class AorSyntaxError extends SipRegistrationError {
  readonly reason = 'aor-syntax';
}

/** The configuration's sip:domain-restriction (RFC 7904 §5) does not admit the AOR's domain. */
export class DomainRestrictedError extends SipRegistrationError {
  readonly reason = 'domain-restricted';
}

/** The overlay configuration has no SIP-REGISTRATION Kind (0x1), so nothing can be registered. */
export class RegistrationKindMissingError extends SipRegistrationError {
  readonly reason = 'registration-kind-missing';
}

/** A register/unregister argument is out of range (expiry, binding id, destination list). */
export class RegistrationArgumentError extends SipRegistrationError {
  readonly reason = 'registration-argument';
}

/** A Contact feature parameter that cannot become an RFC 3840 contact predicate, or too many/too long. */
export class ContactPrefsError extends SipRegistrationError {
  readonly reason = 'contact-prefs';
}

/** The AOR already has as many local bindings as allowed. */
export class TooManyBindingsError extends SipRegistrationError {
  readonly reason = 'too-many-bindings';
}

/** The SipRegistration value would exceed the Kind's max-size from the configuration. */
export class RegistrationTooLargeError extends SipRegistrationError {
  readonly reason = 'registration-too-large';
}

/** The Store carrying the record failed (error answer, timeout, no route); `cause` has the transport error. */
export class RegistrationStoreError extends SipRegistrationError {
  readonly reason = 'registration-store-failed';
}

/** The service was stopped (the peer is shutting down). */
export class RegistrationsStoppedError extends SipRegistrationError {
  readonly reason = 'registrations-stopped';
}
