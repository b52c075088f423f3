/**
 * `npm run start:web`: the main-process services in plain Node, the built renderer served on loopback, and
 * the IPC contract over a token-guarded WebSocket. Prints the URL to open; stops cleanly on SIGINT/SIGTERM.
 */
import { isIP } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { APP_NAME, APP_VERSION } from '../app/app-identity';
import { createBackend } from '../app/backend';
import { createLogger, parseLogLevel } from '../common/logger';
import { CliUsageError, parseCli, parsePort } from './cli-args';
import { startWebHost } from './web-server';

const USAGE = `usage: npm run start:web -- [--port N] [--host 127.0.0.1|::1] [--data-dir DIR] [--log-level debug|info|warn|error]
       [--peer-host ADDR] [--lan-interface IPV4] [--sip-port N]
  --peer-host ADDR      the address the overlay peer listens on and names to other peers (default: every interface)
  --lan-interface IPV4  the interface the local overlay's discovery (mDNS) uses (default: every interface)
  --sip-port N          a local SIP interface on 127.0.0.1:N for standard SIP phones (default 0: none)`;

function defaultDataDir(): string {
  const base = process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(base, 'reload-softphone', 'browser-mode');
}

async function main(argv: string[]): Promise<void> {
  const args = parseCli(argv, {
    port: { type: 'string' },
    host: { type: 'string' },
    'data-dir': { type: 'string' },
    'renderer-dir': { type: 'string' },
    'log-level': { type: 'string' },
    'peer-host': { type: 'string' },
    'lan-interface': { type: 'string' },
    'sip-port': { type: 'string' },
    help: { type: 'boolean' },
  });
  if (args.help) {
    console.log(USAGE);
    return;
  }
  const host = args.host ?? '127.0.0.1';
  if (host !== '127.0.0.1' && host !== '::1') {
    throw new CliUsageError(`--host must be 127.0.0.1 or ::1 (browser mode never listens beyond loopback)`);
  }
  const peerHost = args['peer-host'];
  if (peerHost !== undefined && isIP(peerHost) === 0)
    throw new CliUsageError(`--peer-host must be an IP address (got ${JSON.stringify(peerHost)})`);
  const lanInterface = args['lan-interface'];
  if (lanInterface !== undefined && isIP(lanInterface) !== 4)
    throw new CliUsageError(`--lan-interface must be an IPv4 address (got ${JSON.stringify(lanInterface)})`);
  const sipPort = args['sip-port'] === undefined ? 0 : parsePort(args['sip-port'], '--sip-port');
  const log = createLogger({ level: parseLogLevel(args['log-level'] ?? process.env.LOG_LEVEL) });
  const dataDir = args['data-dir'] ?? defaultDataDir();
  const backend = await createBackend({
    dataDir,
    mode: 'browser',
    appName: APP_NAME,
    appVersion: APP_VERSION,
    versions: { node: process.versions.node, electron: null, chrome: null },
    log,
    network: {
      ...(peerHost ? { host: peerHost, advertiseHost: peerHost, hostAddresses: [peerHost] } : {}),
      ...(lanInterface ? { lanInterface } : {}),
    },
    sipPort,
  });
  const rendererDir = args['renderer-dir'] ?? fileURLToPath(new URL('../renderer', import.meta.url));
  const host$ = await startWebHost({ backend, rendererDir, log, host, port: parsePort(args.port, '--port') });
  backend.shutdownHooks.add('browser-mode web host', () => host$.close());

  log.info('browser mode ready', { origin: host$.origin, dataDir });
  // The one line meant for a person: stdout, so scripts can read it and logs (stderr) stay separate.
  console.log(`${APP_NAME} (browser mode) is running. Open: ${host$.url}`);

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) process.exit(130); // a second Ctrl-C means "now"
    void backend.stop(signal).then(() => process.exit(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof CliUsageError) {
    console.error(`start:web: ${error.message}\n${USAGE}`);
    process.exit(2);
  }
  console.error(`start:web: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
