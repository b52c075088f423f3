/**
 * What a user or a SIP Request-URI names as a callee, made into one of: an AOR (scheme-less, %-escapes
 * decoded, lowercase — the form a certificate's user name and so H(AOR) has), a GRUU of this overlay (its
 * destination list decoded from `gr`, RFC 7904 §6), or a telephone number mapped to `+<E.164>@<domain>`.
 */
import { checkUserName, ReloadDecodeError, UserNameError, type DecodeContext, type Destination } from '../../reload';
import { decodeGruuDestinations } from '../gruu';
import { ForeignGruuError, InvalidGruuError, InvalidTargetError } from './errors';
import { looksLikeTelephoneNumber, normaliseTelephoneNumber, type TelephoneNumberOptions } from './telephone-number';

export type CallTarget =
  | { kind: 'aor'; aor: string; domain: string; served: boolean }
  | { kind: 'gruu'; aor: string; destinations: Destination[] };

export interface CallTargetOptions {
  /** The domains this overlay serves (its instance name, or the sip:domain-restriction's); lowercase. */
  domains: readonly string[];
  /** The overlay's decode limits (Node-ID length, list entries) for the GRUU's destination list. */
  ctx: DecodeContext;
  telephone?: TelephoneNumberOptions;
}

/** Longest target accepted (a GRUU with a few destinations fits easily). */
export const MAX_TARGET_LENGTH = 1024;

function decode(text: string, field: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new InvalidTargetError(field, 'a malformed %-escape');
  }
}

/** Parses `target`; throws a TargetError subclass naming `field` when it is none of the three forms. */
export function parseCallTarget(target: unknown, options: CallTargetOptions, field = 'target'): CallTarget {
  if (typeof target !== 'string') throw new InvalidTargetError(field, 'must be a string');
  if (target.length === 0) throw new InvalidTargetError(field, 'is empty');
  if (target.length > MAX_TARGET_LENGTH)
    throw new InvalidTargetError(field, `longer than ${MAX_TARGET_LENGTH} characters`);
  const home = options.domains[0];
  if (home === undefined) throw new InvalidTargetError('domains', 'the overlay serves no domain');
  if (!target.includes('@') && looksLikeTelephoneNumber(target)) {
    const aor = `${normaliseTelephoneNumber(target, options.telephone, field)}@${home}`;
    return { kind: 'aor', aor, domain: home, served: true };
  }
  let text = target.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(text);
  if (scheme) {
    const name = (scheme[1] as string).toLowerCase();
    if (name !== 'sip' && name !== 'sips') throw new InvalidTargetError(field, `the URI scheme "${name}:" is not SIP`);
    text = text.slice(scheme[0].length);
  }
  if (text.includes('?')) throw new InvalidTargetError(field, 'URI headers ("?…") are not allowed in a target');
  const [address = '', ...params] = text.split(';');
  let gr: string | undefined;
  for (const param of params) {
    const [name = '', value] = param.split('=', 2);
    if (name.toLowerCase() !== 'gr') continue; // user=phone, transport=…: irrelevant to the overlay
    if (gr !== undefined) throw new InvalidTargetError(field, 'the gr parameter appears twice');
    if (value === undefined || value === '') throw new InvalidGruuError(field, 'the gr parameter has no value');
    gr = value;
  }
  let aor: string;
  try {
    aor = checkUserName(decode(address, field).toLowerCase(), { field });
  } catch (error) {
    if (error instanceof UserNameError) throw new InvalidTargetError(field, error.detail);
    throw error;
  }
  const domain = aor.slice(aor.indexOf('@') + 1);
  const served = options.domains.includes(domain);
  if (gr === undefined) return { kind: 'aor', aor, domain, served };
  if (!served) throw new ForeignGruuError(field, `a GRUU of ${domain}, which this overlay does not serve`);
  try {
    return { kind: 'gruu', aor, destinations: decodeGruuDestinations(gr, options.ctx) };
  } catch (error) {
    if (error instanceof ReloadDecodeError) throw new InvalidGruuError(field, error.message);
    throw error;
  }
}
