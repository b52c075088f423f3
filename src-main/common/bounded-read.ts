/**
 * Reading a file or a stream someone named, never more than a bound: `--config /dev/zero` or a 1 GB file
 * must be refused after `maxBytes`, not read whole before a later size check (a headless peer grew to 600 MB
 * that way). The file is read in chunks; its reported size is not trusted (devices and pipes report 0).
 */
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';

/** The input is longer than the bound its reader allows. */
export class InputTooLargeError extends Error {
  constructor(
    /** What was read: a flag, a file name. */
    readonly field: string,
    readonly maxBytes: number,
  ) {
    super(`${field}: longer than ${maxBytes} bytes`);
    this.name = 'InputTooLargeError';
  }
}

const CHUNK = 64 * 1024;

/** The file at `path` as UTF-8, or InputTooLargeError naming `field` once it passes `maxBytes`. */
export async function readFileBounded(path: string, maxBytes: number, field: string): Promise<string> {
  const file = await open(path, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      // One byte more than allowed tells an exact fit from an overflow.
      const room = Math.min(CHUNK, maxBytes + 1 - total);
      const { bytesRead, buffer } = await file.read(Buffer.alloc(room), 0, room, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > maxBytes) throw new InputTooLargeError(field, maxBytes);
      chunks.push(buffer.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    await file.close();
  }
}

/** A stream (standard input) as UTF-8, or InputTooLargeError naming `field` once it passes `maxBytes`. */
export async function readStreamBounded(stream: Readable, maxBytes: number, field: string): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    total += bytes.length;
    if (total > maxBytes) {
      stream.destroy();
      throw new InputTooLargeError(field, maxBytes);
    }
    chunks.push(bytes);
  }
  return Buffer.concat(chunks).toString('utf8');
}
