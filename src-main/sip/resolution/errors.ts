/**
 * Why a call target cannot be resolved at all (bad input, not an overlay answer): one class per condition,
 * each naming the field. Overlay outcomes (not found, loop, …) are results, not errors (aor-resolver.ts).
 */
import { ServiceError } from '../../common/service-error';

export abstract class TargetError extends ServiceError {
  constructor(
    readonly field: string,
    readonly detail: string,
  ) {
    super(`${field}: ${detail}`);
  }
}

/** Empty, too long, not `user@domain`, a bad %-escape, a scheme other than sip:/sips:/tel:. */
export class InvalidTargetError extends TargetError {
  readonly reason = 'invalid-target';
}

/** A dialled number or tel: URI that cannot be mapped to E.164 (see telephone-number.ts for the rules). */
export class InvalidTelephoneNumberError extends TargetError {
  readonly reason = 'invalid-telephone-number';
}

/** A `gr` parameter that does not decode to a destination list. */
export class InvalidGruuError extends TargetError {
  readonly reason = 'invalid-gruu';
}

/** A GRUU of a domain this overlay does not serve: its destination list means nothing here. */
export class ForeignGruuError extends TargetError {
  readonly reason = 'foreign-gruu';
}
