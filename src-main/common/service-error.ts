/**
 * Base class for conditions a service reports to its caller on purpose. The IPC dispatcher forwards these
 * as `handler-failed` with `reason`; anything else thrown by a service is an internal error whose details
 * stay in the log.
 */
export abstract class ServiceError extends Error {
  /** A stable, kebab-case name of the condition, shown to the renderer as `reason`. */
  abstract readonly reason: string;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}
