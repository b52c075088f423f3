/** Why local discovery refused a call. Records from the network never raise these: bad ones are dropped. */
export class LocalDiscoveryError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A local argument is not acceptable; `field` names it (e.g. "nodeId", "port", "options.interface"). */
export class LocalDiscoveryArgumentError extends LocalDiscoveryError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** The discovery was closed; nothing more can be announced or browsed. */
export class LocalDiscoveryClosedError extends LocalDiscoveryError {}

/** The mDNS socket could not be opened (port 5353 taken without address reuse, no permission, no interface). */
export class LocalDiscoverySocketError extends LocalDiscoveryError {}
