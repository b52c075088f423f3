/**
 * A <kind-block> on its own, as a ConfigUpdate of type kind carries it (RFC 6940 §6.5.4): a UTF-8 XML
 * fragment whose default namespace is the configuration namespace. Parsed with the same rules as the
 * kind-blocks inside a configuration, by the same single parse, keeping the exact <kind> text its
 * kind-signature covers. The unsigned <kind-block> wrapper may declare no namespace: the <kind> must mean
 * the same whatever surrounds it (parse.ts requires it to declare every prefix it uses).
 */
import { ConfigurationError, ConfigurationFormatError, KindBlockNamespaceError } from './errors';
import { CONFIG_NS, type KindDefinition } from './model';
import { MAX_CONFIG_BYTES, parseKinds } from './parse';
import { parseXml } from './xml-tree';

/** Parses one kind-block fragment; `field` names it in errors (e.g. "kinds[2]"). */
export function parseKindBlock(fragment: string, field = 'kind-block'): KindDefinition {
  if (fragment.length > MAX_CONFIG_BYTES)
    throw new ConfigurationFormatError(`larger than ${MAX_CONFIG_BYTES} bytes`, field);
  // The fragment inherits the configuration namespace from a <required-kinds> around it; the offsets the
  // parse gives are into `wrapped`, whose <kind> text is the fragment's own.
  const wrapped = `<required-kinds xmlns="${CONFIG_NS}">${fragment}</required-kinds>`;
  let kinds: KindDefinition[];
  try {
    const root = parseXml(wrapped, 'required-kinds');
    // The wrapper is unsigned: a declaration on it could only give the signed <kind> another meaning.
    if (root.children.some((block) => block.declarations.size > 0))
      throw new KindBlockNamespaceError(
        'declares namespaces; every namespace the <kind> uses must be declared inside the signed <kind>',
        field,
      );
    kinds = parseKinds(root, wrapped);
  } catch (error) {
    if (error instanceof KindBlockNamespaceError) throw error;
    // Errors name fields from <required-kinds>; name the fragment instead, keeping the error's class.
    if (error instanceof ConfigurationError) {
      const Class = error.constructor as new (message: string, field: string) => ConfigurationError;
      throw new Class(
        error.message.slice(error.field.length + 2),
        error.field.replace(/^required-kinds(?:\/kind-block(?:\[1\])?)?/, field),
      );
    }
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
