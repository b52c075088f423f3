/**
 * `npm run peer -- --control`: JSON-line commands on stdin, one JSON-line answer each on stdout (with the
 * command's `tag` echoed). For operators' scripts and the multi-process tests. Commands:
 *   {"cmd":"status"}                          the node's status object, and its configuration (sequence, size
 *                                             of the document, ConfigUpdate counters)
 *   {"cmd":"lookup","id":"<32 hex>"}          Ping that Resource-ID: who answered, over how many hops
 *   {"cmd":"store","kind":3,"resource":"<name>","key":"<text>","index":1,"value":"<base64>","lifetime":600}
 *                                             sign and store one value (dictionary key / array index, default 0
 *                                             — where the peer's own certificate sits in the certificate Kinds)
 *   {"cmd":"fetch","kind":3,"resource":"<name>"} fetch every value of that Kind (signatures checked)
 *   {"cmd":"sip-status"}                      the SIP usage: local interface, bindings, registrations, recent
 *                                             resolutions, connections, proxy counters, recent failures
 *   {"cmd":"leave"}                           leave the overlay and exit
 * `resource` is a Resource Name: the Resource-ID is its hash (RFC 6940 §5.2).
 * Malformed lines get {"ok":false,"error":...} naming the problem; nothing is ignored silently. A line may
 * hold at most 64 KiB: a longer one is answered with ControlLineTooLongError as soon as it passes the limit,
 * and its bytes are dropped as they arrive, up to the next newline (never buffered whole).
 */
import type { ReloadNode } from '../../reload/node';
import { resourceIdFor } from '../../reload/crypto';
import { fromHex, toHex, type ModelSpecifier, type StoredDataValue } from '../../reload/wire';

export class ControlCommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ControlCommandError';
  }
}

/** A control line longer than MAX_CONTROL_LINE_BYTES. */
export class ControlLineTooLongError extends Error {
  constructor(readonly maxBytes: number) {
    super(`a command line may hold at most ${maxBytes} bytes; the rest of this line is ignored`);
    this.name = 'ControlLineTooLongError';
  }
}

/** Far above any command (a store's base64 value is bounded by the Kind's max-size anyway). */
export const MAX_CONTROL_LINE_BYTES = 64 * 1024;

/**
 * Splits a byte stream into lines of at most `maxBytes` bytes (CR LF or LF; UTF-8 decoded per whole line).
 * Holds no more than `maxBytes` of the current line; an over-long line is reported once and skipped.
 */
export class ControlLineReader {
  private pieces: Uint8Array[] = [];
  private held = 0;
  private discarding = false;
  private readonly maxBytes: number;

  constructor(
    private readonly o: {
      line: (text: string) => void;
      tooLong: (error: ControlLineTooLongError) => void;
      maxBytes?: number;
    },
  ) {
    this.maxBytes = o.maxBytes ?? MAX_CONTROL_LINE_BYTES;
  }

  /** Bytes of the current line held so far. */
  get bufferedBytes(): number {
    return this.held;
  }

  push(chunk: Uint8Array): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(0x0a, start);
      const end = newline === -1 ? chunk.length : newline;
      if (!this.discarding) {
        if (this.held + end - start > this.maxBytes) {
          this.reset();
          this.discarding = true;
          this.o.tooLong(new ControlLineTooLongError(this.maxBytes));
        } else if (end > start) {
          // A copy: a view would keep the whole chunk alive.
          this.pieces.push(chunk.slice(start, end));
          this.held += end - start;
        }
      }
      if (newline === -1) return;
      this.finishLine();
      start = newline + 1;
    }
  }

  /** The input ended: a last line without a newline still counts. */
  end(): void {
    if (this.held > 0) this.finishLine();
  }

  private finishLine(): void {
    const skipped = this.discarding;
    const text = skipped ? '' : Buffer.concat(this.pieces, this.held).toString('utf8').replace(/\r$/, '');
    this.reset();
    if (!skipped) this.o.line(text);
  }

  private reset(): void {
    this.pieces = [];
    this.held = 0;
    this.discarding = false;
  }
}

type Command = { cmd: string; tag?: unknown } & Record<string, unknown>;

function parse(line: string): Command {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new ControlCommandError('not JSON');
  }
  if (typeof value !== 'object' || value === null || typeof (value as Command).cmd !== 'string')
    throw new ControlCommandError('cmd: a string is required');
  return value as Command;
}

function hexId(value: unknown, field: string, length: number): Uint8Array {
  if (typeof value !== 'string' || !new RegExp(`^[0-9a-fA-F]{${length * 2}}$`).test(value))
    throw new ControlCommandError(`${field}: ${length * 2} hex digits are required`);
  return fromHex(value);
}

function kindAndResource(node: ReloadNode, command: Command) {
  const kind = command.kind;
  if (typeof kind !== 'number' || !Number.isInteger(kind)) throw new ControlCommandError('kind: a Kind-ID is required');
  const model = node.storage.service.dataModelOf(kind);
  if (!model) throw new ControlCommandError(`kind: ${kind} is not a Kind of this overlay`);
  if (typeof command.resource !== 'string' || command.resource.length === 0)
    throw new ControlCommandError('resource: a Resource Name is required');
  return { kind, model, resourceId: resourceIdFor(command.resource, node.nodeId.length) };
}

/** Services besides the node that commands report on (absent: that service is off). */
export interface ControlServices {
  /** The SIP service (its `status()`), undefined when the peer runs without SIP. */
  sip?: (() => { status(): object } | undefined) | undefined;
}

export async function runControlCommand(
  node: ReloadNode,
  command: Command,
  services: ControlServices = {},
): Promise<Record<string, unknown>> {
  switch (command.cmd) {
    case 'sip-status': {
      const sip = services.sip?.();
      if (!sip) throw new ControlCommandError('sip-status: this peer runs without SIP (--sip-port 0)');
      return { sip: sip.status() };
    }
    case 'status': {
      const document = node.configuration.document;
      return {
        status: node.status(),
        configuration: {
          sequence: node.transport.configSequence,
          ...(document === undefined ? {} : { documentBytes: Buffer.byteLength(document) }),
          counters: { ...node.configuration.counters },
        },
      };
    }
    case 'lookup': {
      const id = hexId(command.id, 'id', node.nodeId.length);
      const started = performance.now();
      const answer = await node.transport.request([{ type: 'resource', id }], {
        method: 'ping_req',
        value: { padding: new Uint8Array(0) },
      });
      return {
        responder: toHex(answer.from.nodeIds[0] as Uint8Array),
        hops: answer.message.header.viaList.length + 1,
        ms: performance.now() - started,
      };
    }
    case 'store': {
      const { kind, model, resourceId } = kindAndResource(node, command);
      if (typeof command.value !== 'string') throw new ControlCommandError('value: base64 text is required');
      const lifetime = command.lifetime ?? 600;
      if (typeof lifetime !== 'number' || !Number.isInteger(lifetime) || lifetime < 0 || lifetime > 0xffffffff)
        throw new ControlCommandError('lifetime: whole seconds are required');
      const data = { exists: true, value: new Uint8Array(Buffer.from(command.value, 'base64')) };
      let value: StoredDataValue;
      if (model === 'dictionary') {
        if (typeof command.key !== 'string')
          throw new ControlCommandError('key: text is required for a dictionary Kind');
        value = { model, key: new TextEncoder().encode(command.key), value: data };
      } else if (model === 'array') {
        const index = command.index ?? 0;
        if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > 0xffffffff)
          throw new ControlCommandError('index: an array index 0..4294967295 is required');
        value = { model, index, value: data };
      } else value = { model, value: data };
      const started = performance.now();
      await node.storage.store(kind, resourceId, [{ value, lifetime }]);
      return { ms: performance.now() - started };
    }
    case 'fetch': {
      const { kind, model, resourceId } = kindAndResource(node, command);
      const specifier: ModelSpecifier =
        model === 'dictionary'
          ? { model, keys: [] }
          : model === 'array'
            ? { model, indices: [{ first: 0, last: 0xffffffff }] }
            : { model };
      const started = performance.now();
      const got = await node.storage.fetch(kind, resourceId, specifier);
      const values = got.values.flatMap((v) =>
        'value' in v && v.value.value.exists ? [Buffer.from(v.value.value.value).toString('base64')] : [],
      );
      return { ms: performance.now() - started, values };
    }
    default:
      throw new ControlCommandError(`cmd: unknown command "${command.cmd}"`);
  }
}

/**
 * `node` may be a getter: a local-overlay peer changes nodes when it rejoins (undefined meanwhile). `input`:
 * where the commands come from (standard input).
 */
export function runPeerControl(
  node: ReloadNode | (() => ReloadNode | undefined),
  out: (value: unknown) => void,
  leave: () => void,
  input: NodeJS.ReadableStream = process.stdin,
  services: ControlServices = {},
): void {
  const current = () => {
    const n = typeof node === 'function' ? node() : node;
    if (!n) throw new ControlCommandError('the peer is rejoining the overlay; try again');
    return n;
  };
  const onLine = (line: string) => {
    if (!line.trim()) return;
    let command: Command;
    try {
      command = parse(line);
    } catch (error) {
      out({ ok: false, error: (error as Error).message });
      return;
    }
    const tag = command.tag === undefined ? {} : { tag: command.tag };
    if (command.cmd === 'leave') {
      out({ ok: true, ...tag });
      leave();
      return;
    }
    Promise.resolve()
      .then(() => runControlCommand(current(), command, services))
      .then(
        (result) => out({ ok: true, cmd: command.cmd, ...tag, ...result }),
        (error: Error) => out({ ok: false, cmd: command.cmd, ...tag, error: `${error.name}: ${error.message}` }),
      );
  };
  const reader = new ControlLineReader({
    line: onLine,
    tooLong: (error) => out({ ok: false, error: `${error.name}: ${error.message}` }),
  });
  input.on('data', (chunk: Buffer | string) => reader.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk));
  input.on('end', () => reader.end());
}
