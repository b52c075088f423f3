/** Command-line parsing for the headless entry points: unknown flags and bad values are errors, never ignored. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class CliUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliUsageError';
  }
}

export function parseCli<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: false }>>['values'] {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new CliUsageError((error as Error).message);
  }
}

export function parsePort(value: string | undefined, flag: string): number {
  if (value === undefined) return 0;
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) {
    throw new CliUsageError(`${flag} must be a port number from 0 to 65535 (got "${value}")`);
  }
  return Number(value);
}
