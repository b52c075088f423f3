/**
 * Telephone numbers as call targets (issue 11 item 6). RFC 7904 defines no tel mapping; this overlay maps a
 * number to the AOR `+<E.164 digits>@<overlay domain>`, which a user registers like any other AOR.
 *
 * Rules: a `tel:` prefix is removed; visual separators `- . ( )` and spaces are removed; what remains must be
 * `+` and 1..15 digits (E.164's maximum), or, when a default country code is configured, digits alone:
 * one leading trunk prefix (default "0") is dropped and the country code put in front. Anything else — a
 * letter, `*`, `#`, a tel URI parameter (`;phone-context=`, `;ext=`), a `+` without a country code, too
 * many digits — is refused with InvalidTelephoneNumberError.
 */
import { InvalidTelephoneNumberError } from './errors';

export interface TelephoneNumberOptions {
  /** Country calling code (1..3 digits, no `+`) for numbers dialled without `+`; none: they are refused. */
  defaultCountryCode?: string;
  /** The national trunk prefix dropped before the country code is added (default "0"; "" for none). */
  trunkPrefix?: string;
}

const MAX_INPUT = 64;
export const MAX_E164_DIGITS = 15;

/** Does `target` look like a telephone number rather than an AOR (a tel: URI, or `+`/digits/separators)? */
export function looksLikeTelephoneNumber(target: string): boolean {
  return /^tel:/i.test(target) || /^[+0-9(][0-9\-.() ]*$/.test(target);
}

/** `+<digits>` (E.164) for a dialled number or tel: URI; throws InvalidTelephoneNumberError otherwise. */
export function normaliseTelephoneNumber(
  input: string,
  options: TelephoneNumberOptions = {},
  field = 'target',
): string {
  if (input.length > MAX_INPUT) throw new InvalidTelephoneNumberError(field, `longer than ${MAX_INPUT} characters`);
  let text = input.trim();
  if (/^tel:/i.test(text)) text = text.slice(4);
  if (text.includes(';'))
    throw new InvalidTelephoneNumberError(field, 'tel URI parameters (phone-context, ext, …) are not supported');
  const compact = text.replace(/[-.() ]/g, '');
  const bad = /[^+0-9]/.exec(compact);
  if (bad) throw new InvalidTelephoneNumberError(field, `the character ${JSON.stringify(bad[0])} is not a digit`);
  let digits: string;
  if (compact.startsWith('+')) {
    digits = compact.slice(1);
    if (digits.includes('+')) throw new InvalidTelephoneNumberError(field, '"+" only at the start');
    if (digits.startsWith('0')) throw new InvalidTelephoneNumberError(field, 'a country code never starts with 0');
  } else {
    if (compact.includes('+')) throw new InvalidTelephoneNumberError(field, '"+" only at the start');
    const cc = options.defaultCountryCode;
    if (cc === undefined)
      throw new InvalidTelephoneNumberError(
        field,
        'needs a leading "+" and country code (no default country code set)',
      );
    if (!/^[1-9][0-9]{0,2}$/.test(cc))
      throw new InvalidTelephoneNumberError('defaultCountryCode', 'must be 1..3 digits, not starting with 0');
    const trunk = options.trunkPrefix ?? '0';
    const national = trunk !== '' && compact.startsWith(trunk) ? compact.slice(trunk.length) : compact;
    digits = cc + national;
  }
  if (digits.length === 0 || digits.length > MAX_E164_DIGITS)
    throw new InvalidTelephoneNumberError(
      field,
      `an E.164 number has 1..${MAX_E164_DIGITS} digits, not ${digits.length}`,
    );
  if (digits.length < 3) throw new InvalidTelephoneNumberError(field, 'too short for a telephone number');
  return `+${digits}`;
}
