/**
 * The forms one private key can take on a wire or in a file, to look for them where the key must never be:
 * its secret scalar (EC `d`, RSA private exponent) raw, in hex, base64 and base64url (a JWK), and the part of the
 * base64 of its PKCS#8 and SEC1 encodings that only the secret determines (a PEM, whatever its label or line
 * breaks). Public parts are left out on purpose: they are in the certificate, which may travel anywhere.
 */
import type { KeyObject } from 'node:crypto';

export interface PrivateKeyForms {
  /** Byte strings to look for in files. */
  bytes: Buffer[];
  /** Text to look for in frames and files (after removing line breaks and JSON's escaped ones). */
  texts: string[];
}

/** The characters of base64(container) that encode only bytes of `secret` (aligned to whole 3-byte groups). */
function base64Windows(container: Buffer, secret: Buffer): string[] {
  const at = container.indexOf(secret);
  if (at < 0) return [];
  const start = Math.ceil(at / 3) * 3;
  const end = Math.floor((at + secret.length) / 3) * 3;
  return (['base64', 'base64url'] as const).map((enc) => container.toString(enc).slice((start / 3) * 4, (end / 3) * 4));
}

export function privateKeyForms(key: KeyObject): PrivateKeyForms {
  const jwk = key.export({ format: 'jwk' });
  if (!jwk.d) throw new Error('not a private key');
  const secret = Buffer.from(jwk.d, 'base64url');
  const containers = [key.export({ format: 'der', type: 'pkcs8' })];
  if (key.asymmetricKeyType === 'ec') containers.push(key.export({ format: 'der', type: 'sec1' }));
  const texts = [
    secret.toString('hex'),
    secret.toString('hex').toUpperCase(),
    secret.toString('base64'),
    secret.toString('base64url'),
    ...containers.flatMap((c) => base64Windows(c, secret)),
  ];
  return { bytes: [secret, ...containers], texts: [...new Set(texts)].filter((t) => t.length >= 16) };
}

/** Text with its line breaks (real, or escaped inside JSON strings) removed, as a PEM body would be joined. */
export function withoutLineBreaks(text: string): string {
  return text.replace(/\\[rn]/g, '').replace(/\s+/g, '');
}

/** True when `text` carries the key in any of its forms. */
export function carriesKey(text: string, forms: PrivateKeyForms): boolean {
  const joined = withoutLineBreaks(text);
  return forms.texts.some((t) => joined.includes(t));
}
