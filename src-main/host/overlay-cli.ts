/**
 * The operator's tool: `npm run overlay -- <command>`.
 *   init <overlay-name> [--self-signed] [--rsa|--ecdsa] [--dir D] [--host H] [--port P]
 *        [--enrollment-url URL] [--bootstrap ADDR:PORT]... [--validity-days N]
 *   serve [--dir D] [--host H] [--port P] [--tls-cert FILE --tls-key FILE]
 *   add-user <user@domain> --password-stdin [--dir D]   (the rule: reload/identity/user-name.ts, in the
 *        overlay's domain)
 *   list-users [--dir D]
 *   remove-user <user@domain> [--dir D]
 * Logs are JSON lines on stderr; results a person reads go to stdout.
 */
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { InputTooLargeError, readStreamBounded } from '../common/bounded-read';
import { createLogger, parseLogLevel } from '../common/logger';
import { checkOverlayDomain, checkUserName, UserNameError } from '../reload';
import { AccountError, AccountStore } from './enrollment/account-store';
import { CliUsageError, parsePort, printableForTerminal } from './cli-args';
import { OverlayDir, OverlayDirError } from './overlay/overlay-dir';
import { startOverlayServer } from './overlay/overlay-server';

const USAGE = `usage: npm run overlay -- <command> [options]
  init <overlay-name> [--self-signed] [--rsa|--ecdsa] [--dir DIR] [--host 127.0.0.1] [--port 6084]
       [--enrollment-url https://...] [--bootstrap ADDR:PORT]... [--validity-days 90]
  serve [--dir DIR] [--host HOST] [--port PORT]
  add-user <user@domain> --password-stdin [--dir DIR]    lowercase a-z 0-9 . _ + -, domain = the overlay's name
  list-users [--dir DIR]
  remove-user <user@domain> [--dir DIR]`;

/** The password on standard input, read no further than any password could need (the store takes 1024). */
async function readStdin(): Promise<string> {
  try {
    return (await readStreamBounded(process.stdin, 4096, '--password-stdin')).replace(/\r?\n$/, '');
  } catch (error) {
    if (error instanceof InputTooLargeError) throw new CliUsageError(error.message);
    throw error;
  }
}

function bootstrap(value: string): { address: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(value);
  if (!match || isIP(match[1] ?? '') === 0)
    throw new CliUsageError(`--bootstrap must be ADDRESS:PORT with an IP address (got "${value}")`);
  return { address: match[1] as string, port: parsePort(match[2], '--bootstrap') };
}

/** add-user's name must pass the shared user-name rule in the overlay's domain; a refusal is a usage error. */
function checkNewUserName(name: string, domain: string): void {
  try {
    checkUserName(name, { domain, field: 'add-user <user@domain>' });
  } catch (error) {
    if (error instanceof UserNameError) throw new CliUsageError(error.message);
    throw error;
  }
}

export async function runOverlayCli(
  argv: string[],
  out: (line: string) => void = (l) => process.stdout.write(l + '\n'),
  readPassword: () => Promise<string> = readStdin,
): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        dir: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        'self-signed': { type: 'boolean' },
        rsa: { type: 'boolean' },
        ecdsa: { type: 'boolean' },
        'enrollment-url': { type: 'string' },
        bootstrap: { type: 'string', multiple: true },
        'validity-days': { type: 'string' },
        'password-stdin': { type: 'boolean' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean' },
      },
    });
  } catch (error) {
    throw new CliUsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [command, arg] = positionals;
  if (values.help || !command) {
    out(USAGE);
    return;
  }
  const log = createLogger({ level: parseLogLevel(values['log-level'] ?? process.env.LOG_LEVEL) });
  const dirFor = (name?: string) => values.dir ?? `overlay-data/${name ?? ''}`.replace(/\/$/, '');

  switch (command) {
    case 'init': {
      if (!arg) throw new CliUsageError('init needs the overlay name, e.g. `init overlay.example.org`');
      // Every user name of the overlay ends in its name: it must satisfy the domain half of that rule.
      try {
        checkOverlayDomain(arg, 'init <overlay-name>');
      } catch (error) {
        if (error instanceof UserNameError) throw new CliUsageError(error.message);
        throw error;
      }
      if (values.rsa && values.ecdsa) throw new CliUsageError('choose one of --rsa and --ecdsa');
      const days = values['validity-days'] ? Number(values['validity-days']) : 90;
      if (!Number.isInteger(days) || days < 1 || days > 3650)
        throw new CliUsageError('--validity-days must be 1..3650');
      const overlay = await OverlayDir.init(dirFor(arg), {
        overlay: arg,
        algorithm: values.rsa ? 'rsa' : 'ecdsa',
        selfSigned: values['self-signed'] ?? false,
        ...(values.host ? { host: values.host } : {}),
        ...(values.port ? { port: parsePort(values.port, '--port') } : {}),
        ...(values['enrollment-url'] ? { enrollmentUrl: values['enrollment-url'] } : {}),
        bootstrapNodes: (values.bootstrap ?? []).map(bootstrap),
        certificateValidDays: days,
      });
      out(`created overlay ${overlay.settings.overlay} in ${overlay.dir}`);
      out(`  configuration: ${overlay.path('config')} (sequence ${overlay.settings.configSequence}, signed)`);
      out(`  CA certificate: ${overlay.path('caCert')}`);
      out(
        `  next: npm run overlay -- add-user alice@${overlay.settings.overlay} --password-stdin --dir ${overlay.dir}`,
      );
      return;
    }
    case 'serve': {
      const overlay = await OverlayDir.open(values.dir ?? dirFor());
      if (Boolean(values['tls-cert']) !== Boolean(values['tls-key']))
        throw new CliUsageError('--tls-cert and --tls-key go together');
      const server = await startOverlayServer(overlay, log, {
        ...(values['tls-cert'] ? { tlsCertFile: values['tls-cert'] } : {}),
        ...(values['tls-key'] ? { tlsKeyFile: values['tls-key'] } : {}),
        ...(values.host ? { host: values.host } : {}),
        ...(values.port ? { port: parsePort(values.port, '--port') } : {}),
      });
      out(`serving ${overlay.settings.overlay}: ${server.url}/.well-known/reload-config and ${server.url}/enroll`);
      const stop = () => void server.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      return;
    }
    case 'add-user':
    case 'list-users':
    case 'remove-user': {
      const overlay = await OverlayDir.open(values.dir ?? dirFor());
      if (command === 'add-user' && arg) checkNewUserName(arg, overlay.settings.overlay);
      const accounts = new AccountStore(overlay.path('accounts'), { domain: overlay.settings.overlay });
      try {
        if (command === 'list-users') {
          for (const u of accounts.listUsers())
            out(`${printableForTerminal(u.username)}\t${u.createdAt}\t${u.nodeIds.join(',') || '-'}`);
          return;
        }
        if (!arg) throw new CliUsageError(`${command} needs a user name, e.g. alice@${overlay.settings.overlay}`);
        if (command === 'remove-user') {
          accounts.removeUser(arg);
          out(`removed ${arg}`);
          return;
        }
        if (!values['password-stdin']) {
          throw new CliUsageError(
            'add-user reads the password from standard input: pass --password-stdin (never on the command line)',
          );
        }
        await accounts.addUser(arg, await readPassword());
        out(`added ${arg}`);
      } finally {
        accounts.close();
      }
      return;
    }
    default:
      throw new CliUsageError(`unknown command "${command}"`);
  }
}

const isMain = import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('overlay.js');
if (isMain) {
  runOverlayCli(process.argv.slice(2)).catch((error: unknown) => {
    if (error instanceof CliUsageError) {
      console.error(`overlay: ${error.message}\n${USAGE}`);
      process.exit(2);
    }
    if (error instanceof AccountError || error instanceof OverlayDirError) {
      console.error(`overlay: ${error.message}`);
      process.exit(1);
    }
    console.error(`overlay: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
