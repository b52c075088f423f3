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
