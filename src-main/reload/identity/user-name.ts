/**
 * The one user-name rule: what a RELOAD user name (a certificate's rfc822Name) and so a SIP AOR without scheme
 * (RFC 7904: the Resource Name is `user@domain`, hashed byte for byte) may be. The operator's add-user, the
 * enrollment server and the self-signed identities all check names here.
 *
 * Policy (docs/decisions.md, "User names"): `local@domain`, lowercase ASCII only. The local part is letters,
 * digits and `. _ + -` (no leading, trailing or doubled dot; at most 64 characters); the domain is LDH labels
 * of 1..63 characters (no leading or trailing hyphen; at most 253 characters); the whole at most 254 (RFC 5321's
 * path limit). So a name has one spelling (H(AOR) is byte-exact, and RFC 7904 decodes %-escapes before
 * comparing, so `%` is refused), carries no markup for any UI or log that shows it, no control, space or
 * bidirectional characters, and no Unicode look-alikes (`аlice` with a Cyrillic а is refused, not folded).
 * Where an overlay serves its own domain, the domain must be the overlay's name exactly.
 */

export const MAX_LOCAL_PART_LENGTH = 64;
export const MAX_DOMAIN_LENGTH = 253;
export const MAX_LABEL_LENGTH = 63;
export const MAX_USER_NAME_LENGTH = 254;

/** The syntax half of the rule (no domain check) as one expression, for callers that only need a yes or no. */
export const USER_NAME =
  /^(?=[^@]{1,64}@)(?=.{3,254}$)[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** A refused user name; `field` names where it came from (a form field, a command-line argument). */
export class UserNameError extends Error {
  constructor(
    readonly field: string,
    /** What is wrong, without the field. */
    readonly detail: string,
  ) {
    super(`${field}: ${detail}`);
    this.name = new.target.name;
  }
}
/** A character the rule does not allow: markup, control, space, non-ASCII, uppercase, `%`, …. */
export class UserNameCharacterError extends UserNameError {}
/** Not `local@domain`: no or several `@`, an empty part, a stray dot or hyphen. */
export class UserNameSyntaxError extends UserNameError {}
/** The whole name, the local part, the domain or one of its labels is too long. */
export class UserNameLengthError extends UserNameError {}
/** The domain is not the overlay's. */
export class UserNameDomainError extends UserNameError {}

export interface UserNameOptions {
  /** The overlay's domain (its instance name): when given, the name's domain must be exactly this. */
  domain?: string;
  /** What to call the name in errors; "username" unless told. */
  field?: string;
}

/** The name as a message may show it: ASCII only, everything else escaped, at most 80 characters. */
function shown(name: string): string {
  const cut = name.length > 80 ? `${name.slice(0, 80)}…` : name;
  return `"${cut.replace(/[^\x20-\x7e]|["\\]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}"`;
}

function characterProblem(c: string): string {
  const code = `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
  if (/[A-Z]/.test(c)) return `user names are lowercase ("${c}" is not)`;
  if (/[<>"'&`]/.test(c)) return `the markup character "${c}" is not allowed`;
  if (/\s/.test(c)) return `white space (${code}) is not allowed`;
  if (/\p{Cc}|\p{Cf}/u.test(c)) return `the control or format character ${code} is not allowed`;
  if (c > '\x7e') return `the non-ASCII character ${code} is not allowed (no look-alikes)`;
  return `the character "${c}" is not allowed (letters, digits and . _ + - only)`;
}

/** Throws when `domain` is not lowercase LDH labels within the length limits; `what` names it in messages. */
function domainProblems(domain: string, what: string, field: string): void {
  if (domain.length > MAX_DOMAIN_LENGTH)
    throw new UserNameLengthError(field, `the domain is longer than ${MAX_DOMAIN_LENGTH} characters`);
  for (const label of domain.split('.')) {
    if (label.length > MAX_LABEL_LENGTH)
      throw new UserNameLengthError(field, `the domain label "${label.slice(0, 20)}…" is longer than 63 characters`);
    if (!/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/.test(label))
      throw new UserNameSyntaxError(
        field,
        `${what}: "${label}" is not a domain label (letters, digits, inner hyphens)`,
      );
  }
}

/**
 * Returns `domain` if it can be an overlay's name under this rule (the domain half of every user name in it);
 * throws the UserNameError subclass that says why not otherwise.
 */
export function checkOverlayDomain(domain: string, field = 'overlay name'): string {
  if (typeof domain !== 'string' || domain === '') throw new UserNameSyntaxError(field, 'must be a domain name');
  const bad = /[^a-z0-9.-]/u.exec(domain);
  if (bad) {
    const c = bad[0];
    const detail = /[_+@]/.test(c) ? `the character "${c}" is not allowed in a domain name` : characterProblem(c);
    throw new UserNameCharacterError(field, `${shown(domain)}: ${detail}`);
  }
  domainProblems(domain, shown(domain), field);
  return domain;
}

/** Returns `name` if the rule accepts it; throws the UserNameError subclass that says why not otherwise. */
export function checkUserName(name: string, options: UserNameOptions = {}): string {
  const field = options.field ?? 'username';
  if (typeof name !== 'string') throw new UserNameSyntaxError(field, 'must be a string');
  const bad = /[^a-z0-9._+@-]/u.exec(name);
  if (bad) throw new UserNameCharacterError(field, `${shown(name)}: ${characterProblem(bad[0])}`);
  const parts = name.split('@');
  const [local = '', domain = ''] = parts;
  if (parts.length !== 2 || local === '' || domain === '')
    throw new UserNameSyntaxError(field, `${shown(name)} is not of the form user@domain`);
  if (name.length > MAX_USER_NAME_LENGTH)
    throw new UserNameLengthError(field, `is ${name.length} characters long; at most ${MAX_USER_NAME_LENGTH}`);
  if (local.length > MAX_LOCAL_PART_LENGTH)
    throw new UserNameLengthError(field, `the part before @ is longer than ${MAX_LOCAL_PART_LENGTH} characters`);
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..'))
    throw new UserNameSyntaxError(field, `${shown(name)}: the part before @ has a leading, trailing or double dot`);
  domainProblems(domain, shown(name), field);
  if (options.domain !== undefined && domain !== options.domain.toLowerCase())
    throw new UserNameDomainError(field, `${shown(name)} is not in this overlay's domain ${options.domain}`);
  return name;
}
