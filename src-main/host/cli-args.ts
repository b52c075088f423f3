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

/**
 * Stored text as a terminal may show it: control, line-separator and bidi characters (escape sequences that
 * rewrite the operator's screen, names that display as others) are printed as \u escapes with four hex
 * digits. User names stored before the user-name rule could hold them.
 */
export function printableForTerminal(name: string): string {
  return name.replace(
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
