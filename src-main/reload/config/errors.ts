/** Why a configuration document is refused; each condition its own class, each message names the element. */
export class ConfigurationError extends Error {
  constructor(
    message: string,
    /** The element or attribute at fault, e.g. "configuration/node-id-length". */
    readonly field: string,
  ) {
    super(`${field}: ${message}`);
    this.name = new.target.name;
  }
}

/** Not well-formed XML, or an element/attribute with a value outside its type. */
export class ConfigurationFormatError extends ConfigurationError {}
/**
 * A comment, CDATA section, processing instruction, DOCTYPE or stray text where a configuration document has
 * none: inside the document element they could show one reader signed text another reader does not see.
 */
export class UnexpectedXmlContentError extends ConfigurationFormatError {}
/**
 * A signed element (<configuration>, <kind>) or its signature outside its one place, or repeated: a second
 * <kind> or <kind-signature> in a kind-block, configuration elements inside foreign content, foreign
 * elements beside the configurations. Signed text and the values read must be one and the same element.
 */
export class ConfigurationWrappingError extends ConfigurationFormatError {}
/**
 * A signed element (<configuration>, <kind>) whose text uses a namespace prefix, or the default namespace, it
 * does not declare itself: the binding would come from text the signature does not cover (the <overlay>, the
 * <configuration> around a <kind>, a ConfigUpdate's <kind-block>), and rebinding it changes what the
 * unchanged, still verifying signed text means.
 */
export class NamespaceOutsideSignatureError extends ConfigurationWrappingError {}
/** A ConfigUpdate's lone <kind-block> declaring namespaces: it is unsigned context around the signed <kind>. */
export class KindBlockNamespaceError extends NamespaceOutsideSignatureError {}
/** Nesting depth or attribute count beyond the bounds that keep parsing linear (xml-tree.ts). */
export class ConfigurationTooComplexError extends ConfigurationFormatError {}
/** The root or an element is not in the RELOAD configuration namespace. */
export class ConfigurationNamespaceError extends ConfigurationError {}
/** A mandatory-extension this implementation does not support. */
export class UnsupportedMandatoryExtensionError extends ConfigurationError {}
/** A configuration or kind signature is missing, malformed, by a non-signer, or does not verify. */
export class ConfigurationSignatureError extends ConfigurationError {}
/** The sequence number is not newer than the configuration we have. */
export class StaleConfigurationError extends ConfigurationError {}
/** instance-name is not the overlay we asked for. */
export class OverlayNameMismatchError extends ConfigurationError {}
/** expiration has passed. */
export class ConfigurationExpiredError extends ConfigurationError {}
/** The document could not be fetched (HTTP, TLS, DNS). */
export class ConfigurationFetchError extends ConfigurationError {}
