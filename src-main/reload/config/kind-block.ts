/**
 * A <kind-block> on its own, as a ConfigUpdate of type kind carries it (RFC 6940 §6.5.4): a UTF-8 XML
 * fragment whose default namespace is the configuration namespace. Parsed with the same rules as the
 * kind-blocks inside a configuration, keeping the exact <kind> text its kind-signature covers.
 */
import { DOMParser, type Element } from '@xmldom/xmldom';
import { ConfigurationFormatError } from './errors';
import { CONFIG_NS, type KindDefinition } from './model';
import { MAX_CONFIG_BYTES, parseKinds } from './parse';

/** Parses one kind-block fragment; `field` names it in errors (e.g. "kinds[2]"). */
export function parseKindBlock(fragment: string, field = 'kind-block'): KindDefinition {
  if (fragment.length > MAX_CONFIG_BYTES)
    throw new ConfigurationFormatError(`larger than ${MAX_CONFIG_BYTES} bytes`, field);
  const wrapped = `<required-kinds xmlns="${CONFIG_NS}">${fragment}</required-kinds>`;
  const problems: string[] = [];
  let root: Element | null = null;
  try {
    root = new DOMParser({
      onError: (level, message) => {
        if (level !== 'warning') problems.push(message);
      },
    }).parseFromString(wrapped, 'text/xml').documentElement;
  } catch (error) {
    problems.push((error as Error).message);
  }
  if (problems.length > 0 || !root)
    throw new ConfigurationFormatError(`not well-formed XML: ${problems[0] ?? 'no element'}`, field);
  let kinds: KindDefinition[];
  try {
    kinds = parseKinds(root, wrapped);
  } catch (error) {
    // parseKinds names fields from <required-kinds>; name the fragment instead.
    if (error instanceof ConfigurationFormatError)
      throw new ConfigurationFormatError(
        error.message.slice(error.field.length + 2),
        error.field.replace(/^required-kinds\/kind-block\[1\]/, field),
      );
    throw error;
  }
  if (kinds.length !== 1) throw new ConfigurationFormatError('must hold exactly one <kind-block>', field);
  return kinds[0] as KindDefinition;
}

/** The kind-block fragment for a Kind of a configuration (its <kind> text and kind-signature, unchanged). */
export function kindBlockText(kind: Pick<KindDefinition, 'xml' | 'signature'>): string {
  const signature = kind.signature ? `<kind-signature>${kind.signature}</kind-signature>` : '';
  return `<kind-block>${kind.xml}${signature}</kind-block>`;
}
