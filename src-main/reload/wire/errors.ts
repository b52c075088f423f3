/**
 * The only errors the codec throws. Decoding failures carry the structure path (outermost first) and the
 * byte offset where the problem was found; encoding failures carry the path of the offending field.
 */
abstract class ReloadCodecError extends Error {
  /** Field names from the outermost structure inward, e.g. ["ForwardingHeader", "via_list", "[1]"]. */
  readonly path: string[];

  constructor(
    readonly reason: string,
    path: string[],
  ) {
    super(reason);
    this.name = new.target.name;
    this.path = path;
  }

  /** Called while the error unwinds through enclosing structures. */
  within(name: string): this {
    this.path.unshift(name);
    this.refresh();
    return this;
  }

  /** Extra text after the reason (the byte offset, for decoding). */
  protected abstract detail(): string;

  protected refresh(): void {
    const where = this.path.length ? this.path.join('.').replace(/\.\[/g, '[') + ': ' : '';
    this.message = `${where}${this.reason}${this.detail()}`;
  }
}

export class ReloadDecodeError extends ReloadCodecError {
  constructor(
    reason: string,
    readonly offset: number,
    path: string[] = [],
  ) {
    super(reason, path);
    this.refresh();
  }

  protected detail(): string {
    return ` (at byte ${this.offset})`;
  }
}

export class ReloadEncodeError extends ReloadCodecError {
  constructor(reason: string, path: string[] = []) {
    super(reason, path);
    this.refresh();
  }

  protected detail(): string {
    return '';
  }
}
