/**
 * `npm run peer -- --control`: JSON-line commands on stdin, one JSON-line answer each on stdout (with the
 * command's `tag` echoed). For operators' scripts and the multi-process tests. Commands:
 *   {"cmd":"status"}                          the node's status object
 *   {"cmd":"lookup","id":"<32 hex>"}          Ping that Resource-ID: who answered, over how many hops
 *   {"cmd":"leave"}                           leave the overlay and exit
 * Malformed lines get {"ok":false,"error":...} naming the problem; nothing is ignored silently.
 */
import { createInterface } from 'node:readline';
import type { ReloadNode } from '../../reload/node';
import { fromHex, toHex } from '../../reload/wire';

export class ControlCommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ControlCommandError';
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

export async function runControlCommand(node: ReloadNode, command: Command): Promise<Record<string, unknown>> {
  switch (command.cmd) {
    case 'status':
      return { status: node.status() };
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
    default:
      throw new ControlCommandError(`cmd: unknown command "${command.cmd}"`);
  }
}

export function runPeerControl(node: ReloadNode, out: (value: unknown) => void, leave: () => void): void {
  createInterface({ input: process.stdin }).on('line', (line) => {
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
    runControlCommand(node, command).then(
      (result) => out({ ok: true, cmd: command.cmd, ...tag, ...result }),
      (error: Error) => out({ ok: false, cmd: command.cmd, ...tag, error: `${error.name}: ${error.message}` }),
    );
  });
}
