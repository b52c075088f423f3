/**
 * The only errors the codec throws. Decoding failures carry the structure path (outermost first) and the
 * byte offset where the problem was found; encoding failures carry the path of the offending field.
 */
export class ReloadDecodeError extends Error {
  /** Field names from the outermost structure inward, e.g. ["ForwardingHeader", "via_list", "[1]"]. */
  readonly path: string[];
  constructor(
    readonly reason: string,
    readonly offset: number,
    path: string[] = [],
  ) {
    super('');
    this.name = 'ReloadDecodeError';
    this.path = path;
    this.refresh();
  }

  /** Called while the error unwinds through enclosing structures. */
  within(name: string): this {
    this.path.unshift(name);
    this.refresh();
    return this;
  }

  private refresh(): void {
    this.message = `${this.path.length ? this.path.join('.').replace(/\.\[/g, '[') + ': ' : ''}${this.reason} (at byte ${this.offset})`;
  }
}

export class ReloadEncodeError extends Error {
  readonly path: string[];
  constructor(
    readonly reason: string,
    path: string[] = [],
  ) {
    super('');
    this.name = 'ReloadEncodeError';
    this.path = path;
    this.refresh();
  }

  within(name: string): this {
    this.path.unshift(name);
    this.refresh();
    return this;
  }

  private refresh(): void {
    this.message = `${this.path.length ? this.path.join('.').replace(/\.\[/g, '[') + ': ' : ''}${this.reason}`;
  }
}
