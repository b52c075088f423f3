/**
 * The headless peer: `npm run peer -- --config <url|file> [--identity FILE --password-file FILE | --self-signed]
 *   [--first-node] [--listen HOST:PORT] [--advertise HOST] [--host-address ADDR]... [--status-interval S]
 *   [--control] [--log-level L]`
 * or, in the zero-configuration local overlay (peers found on the LAN by mDNS; identities self-signed and
 * unverified): `npm run peer -- --local [--user NAME] [--identity FILE --password-file FILE] [--listen HOST:PORT]
 *   [--interface ADDR] [--join-window SECONDS] ...` (--join-window: how long to look for peers before forming
 *   the overlay alone; default 2)
 * Runs one RELOAD peer in the foreground: structured logs (JSON lines) on stderr, a status line on stdout every
 * `--status-interval` seconds. SIGINT/SIGTERM leave the overlay gracefully. With `--control` it also reads
 * JSON-line commands on stdin and answers on stdout (docs/operators.md lists them).
 */
import { isIP } from 'node:net';
import { InputTooLargeError, readFileBounded } from '../common/bounded-read';
import { createLogger, parseLogLevel, type Logger } from '../common/logger';
import type { ReloadNode, ReloadNodeStatus } from '../reload/node';
import {
  acceptConfigurationDocument,
  fetchConfigurationText,
  localOverlayConfiguration,
  MAX_CONFIG_BYTES,
  parseConfigurationDocument,
} from '../reload/config';
import { checkUserName, createSelfSignedIdentity, generateIdentityKeys, UserNameError } from '../reload/identity';
import { openIdentityFile } from '../app/identity/identity-file-on-disk';
import { CliUsageError, parseCli, parsePort } from './cli-args';
import { startLocalPeer, type LocalPeerOptions } from '../app/peer/local-peer';
import { runPeerControl } from './peer/peer-control';
import { startPeerRuntime } from '../app/peer/peer-runtime';
import { followConfiguration } from '../app/peer/config-follow';
import { SipLocalPortInUseError } from '../sip/index';

const USAGE = `usage: npm run peer -- --config <url|file> [--identity FILE --password-file FILE | --self-signed]
       [--first-node] [--listen HOST:PORT] [--advertise HOST] [--host-address ADDR]...
       [--status-interval SECONDS] [--refresh-interval SECONDS] [--control] [--log-level debug|info|warn|error]
       [--sip-port PORT]  (local SIP interface on 127.0.0.1, UDP and TCP; default 5060, 0 = no SIP)
   or: npm run peer -- --local [--user NAME] [--identity FILE --password-file FILE] [--listen HOST:PORT]
       [--interface ADDR] [--join-window SECONDS] [--host-address ADDR]... [--status-interval SECONDS]
       [--refresh-interval SECONDS]
       [--control] [--log-level debug|info|warn|error]
       (the local overlay: peers on the LAN find each other by mDNS; identities are self-signed and UNVERIFIED)`;

const JOIN_ATTEMPTS = 5;
/** The local SIP interface's port unless --sip-port says otherwise (the port phones use by default). */
const DEFAULT_SIP_PORT = 5060;

function hostPort(value: string, flag: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(value);
  if (!match || isIP(match[1] ?? '') === 0) throw new CliUsageError(`${flag} must be ADDRESS:PORT (got "${value}")`);
  return { host: match[1] as string, port: parsePort(match[2], flag) };
}

/** How much of a password file is read: far more than any password (the enrollment server takes 1024). */
const MAX_PASSWORD_FILE_BYTES = 4096;

/**
 * A file named on the command line, read no further than `maxBytes`; unreadable or too long means a usage
 * error naming the flag, not a stack trace (nor a peer that reads `/dev/zero` until memory runs out).
 */
async function readInput(path: string, flag: string, maxBytes: number): Promise<string> {
  try {
    return await readFileBounded(path, maxBytes, `${flag} ${path}`);
  } catch (error) {
    if (error instanceof InputTooLargeError) throw new CliUsageError(error.message);
    throw new CliUsageError(`${flag} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

async function loadConfiguration(source: string) {
  if (/^https?:\/\//.test(source)) {
    const url = new URL(source);
    const { text } = await fetchConfigurationText({ overlayName: url.hostname, url: source });
    return { config: acceptConfigurationDocument(text, { overlayName: url.hostname }), text };
  }
  const text = await readInput(source, '--config', MAX_CONFIG_BYTES);
  // A file the operator named: its own signers vouch for it (as for a first download).
  const [first] = parseConfigurationDocument(text);
  if (!first) throw new CliUsageError(`--config ${source} holds no <configuration>`);
  return { config: acceptConfigurationDocument(text, { overlayName: first.instanceName }), text };
}

export async function runPeerCli(argv: string[]): Promise<void> {
  const values = parseCli(argv, {
    config: { type: 'string' },
    identity: { type: 'string' },
    'password-file': { type: 'string' },
    'self-signed': { type: 'boolean' },
    'first-node': { type: 'boolean' },
    listen: { type: 'string' },
    advertise: { type: 'string' },
    'host-address': { type: 'string', multiple: true },
    'status-interval': { type: 'string' },
    'refresh-interval': { type: 'string' },
    control: { type: 'boolean' },
    'log-level': { type: 'string' },
    local: { type: 'boolean' },
    interface: { type: 'string' },
    user: { type: 'string' },
    'join-window': { type: 'string' },
    'sip-port': { type: 'string' },
    help: { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (values.local) {
    for (const flag of ['config', 'first-node', 'advertise'] as const)
      if (values[flag] !== undefined) throw new CliUsageError(`--${flag} cannot be used with --local`);
    if (values.identity && values['self-signed'])
      throw new CliUsageError('choose one of --identity FILE (with --password-file) and --self-signed');
  } else {
    if (!values.config) throw new CliUsageError(`--config is required (or --local)\n${USAGE}`);
    if (Boolean(values.identity) === Boolean(values['self-signed']))
      throw new CliUsageError('choose one of --identity FILE (with --password-file) and --self-signed');
    for (const flag of ['interface', 'user', 'join-window'] as const)
      if (values[flag] !== undefined) throw new CliUsageError(`--${flag} is for --local only`);
  }
  if (values.interface !== undefined && isIP(values.interface) !== 4)
    throw new CliUsageError(`--interface must be an IPv4 address (got "${values.interface}")`);
  const joinWindow = values['join-window'] === undefined ? undefined : Number(values['join-window']);
  if (joinWindow !== undefined && (!Number.isFinite(joinWindow) || joinWindow < 0 || joinWindow > 60))
    throw new CliUsageError('--join-window must be seconds from 0 to 60');
  if (values.user !== undefined) {
    try {
      checkUserName(values.user, { field: '--user' });
    } catch (error) {
      if (error instanceof UserNameError) throw new CliUsageError(`${error.message} (e.g. alice@example.com)`);
      throw error;
    }
  }
  const interval = values['status-interval'] ? Number(values['status-interval']) : 30;
  if (!Number.isFinite(interval) || interval < 0) throw new CliUsageError('--status-interval must be seconds ≥ 0');
  const sipPort = values['sip-port'] === undefined ? DEFAULT_SIP_PORT : parsePort(values['sip-port'], '--sip-port');
  const refresh = values['refresh-interval'] ? Number(values['refresh-interval']) : 300;
  if (!Number.isFinite(refresh) || refresh < 1) throw new CliUsageError('--refresh-interval must be seconds ≥ 1');
  const defaultListen = values.local ? { host: '0.0.0.0', port: 0 } : { host: '127.0.0.1', port: 0 };
  const listen = values.listen ? hostPort(values.listen, '--listen') : defaultListen;
  const log = createLogger({ level: parseLogLevel(values['log-level'] ?? process.env.LOG_LEVEL) });
  // The document text goes to the node too: it sends it to peers with an older one (ConfigUpdate).
  const loaded = values.local ? undefined : await loadConfiguration(values.config as string);
  const config = loaded?.config ?? localOverlayConfiguration();

  let privateKey;
  let chain: Uint8Array[];
  if (values.identity) {
    const passwordFile = values['password-file'];
    const password = passwordFile
      ? (await readInput(passwordFile, '--password-file', MAX_PASSWORD_FILE_BYTES)).replace(/\r?\n$/, '')
      : process.env.RELOAD_IDENTITY_PASSWORD;
    if (!password)
      throw new CliUsageError('--identity needs --password-file FILE (or RELOAD_IDENTITY_PASSWORD in the environment)');
    // An identity file of the old, cheaper encryption is rewritten in the current one (issue 10).
    const opened = await openIdentityFile(values.identity, password);
    ({ privateKey, chain } = opened);
    if (opened.rewritten) log.info('identity file re-encrypted', { file: values.identity });
    if (opened.rewriteError)
      log.warn('identity file left in its old encryption', {
        file: values.identity,
        error: opened.rewriteError.message,
      });
  } else {
    if (!config.selfSignedPermitted)
      throw new CliUsageError(`overlay ${config.instanceName} does not permit self-signed identities`);
    const keys = await generateIdentityKeys('ecdsa');
    const { der } = await createSelfSignedIdentity(
      keys,
      values.user ?? `peer@${config.instanceName}`,
      config.instanceName,
      config.selfSignedDigest,
      config.nodeIdLength,
      30,
    );
    privateKey = keys.privateKey;
    chain = [der];
  }

  const line = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);
  if (values.local) {
    await runLocal({
      privateKey,
      chain,
      listen,
      ...(values.interface ? { interface: values.interface } : {}),
      ...(values['host-address'] ? { hostAddresses: values['host-address'] } : {}),
      refreshIntervalMs: refresh * 1000,
      ...(joinWindow !== undefined ? { timing: { joinWindowMs: joinWindow * 1000 } } : {}),
      sipPort,
      log,
      line,
      interval,
      control: values.control ?? false,
    }).catch((error: unknown) => {
      throw sipPortInUse(error, sipPort);
    });
    return;
  }

  const runtime = await startPeerRuntime({
    sipPort,
    config,
    ...(loaded ? { configDocument: loaded.text } : {}),
    privateKey,
    chain,
    listen,
    ...(values.advertise ? { advertiseHost: values.advertise } : {}),
    ...(values['host-address'] ? { hostAddresses: values['host-address'] } : {}),
    refreshIntervalMs: refresh * 1000,
    log,
  }).catch((error: unknown) => {
    throw sipPortInUse(error, sipPort);
  });
  const { node } = runtime;
  if (runtime.sip) line({ event: 'sip', uri: runtime.sip.localUri, user: runtime.sip.status().user });
  followConfiguration(node, { source: values.config as string, log });
  line({ event: 'listening', nodeId: node.status().nodeId, ...runtime.address });
  node.onStateChanged((state) => log.info('overlay state', { state }));
  node.onNeighboursChanged((e) => log.debug('neighbours', { successors: e.successors.length }));
  // A join can fail while the ring is repairing itself (a dead hop not yet noticed): try a few times.
  for (let attempt = 1; ; attempt++) {
    try {
      await node.start({ firstNode: values['first-node'] ?? false });
      break;
    } catch (error) {
      if (attempt >= JOIN_ATTEMPTS) throw error;
      log.warn('join failed; retrying', { attempt, error: (error as Error).message });
      await new Promise((resolve) => setTimeout(resolve, 2_000 * attempt));
    }
  }
  const s = node.status();
  line({ event: 'ready', nodeId: s.nodeId, successors: s.successors, predecessors: s.predecessors });

  runForeground({
    node: () => node,
    statusExtra: (st) => ({ counters: st.transport.counters }),
    close: () => runtime.close(),
    sip: () => runtime.sip,
    interval,
    control: values.control ?? false,
    line,
    log,
  });
}

/** A taken --sip-port as the usage error that names the flag; any other error unchanged. */
function sipPortInUse(error: unknown, sipPort: number): unknown {
  if (!(error instanceof SipLocalPortInUseError)) return error;
  return new CliUsageError(
    `--sip-port ${sipPort}: ${error.host}:${sipPort} is in use by another program; ` +
      'choose another port with --sip-port PORT, or --sip-port 0 to run without SIP',
  );
}

/** The local overlay: LocalOverlay finds, joins, forms and merges; the control interface follows its node. */
async function runLocal(o: LocalPeerOptions & { interval: number; control: boolean }): Promise<void> {
  const { line, log } = o;
  const peer = await startLocalPeer(o);
  const first = peer.node();
  if (first) {
    const s = first.status();
    line({ event: 'ready', nodeId: s.nodeId, successors: s.successors, predecessors: s.predecessors, local: true });
  }
  runForeground({
    node: () => peer.node(),
    statusExtra: () => ({ discovered: new Set(peer.overlay.peers().map((p) => p.nodeId)).size }),
    close: () => peer.close(),
    sip: () => peer.sip(),
    interval: o.interval,
    control: o.control,
    line,
    log,
  });
}

/**
 * The running peer in the foreground: a status line every `interval` seconds, SIGINT/SIGTERM → graceful
 * stop (Leave) and exit, and the JSON-line control interface when asked for. `node()` is the current node
 * (the local overlay replaces it when it rejoins; undefined meanwhile).
 */
function runForeground(o: {
  node: () => ReloadNode | undefined;
  statusExtra: (status: ReloadNodeStatus) => Record<string, unknown>;
  close: () => Promise<void>;
  /** The SIP service for `sip-status` (absent or undefined: SIP is off). */
  sip?: () => { status(): object } | undefined;
  interval: number;
  control: boolean;
  line: (record: unknown) => void;
  log: Logger;
}): void {
  const timer =
    o.interval > 0
      ? setInterval(() => {
          const st = o.node()?.status();
          o.line(
            st
              ? {
                  event: 'status',
                  state: st.state,
                  successors: st.successors.length,
                  predecessors: st.predecessors.length,
                  fingers: Object.keys(st.fingers).length,
                  links: st.transport.links.length,
                  ...o.statusExtra(st),
                }
              : { event: 'status', state: 'rejoining' },
          );
        }, o.interval * 1000)
      : undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    if (timer) clearInterval(timer);
    await o.close().catch((error: Error) => o.log.warn('shutdown', { error: error.message }));
    o.line({ event: 'stopped' });
    process.exit(code);
  };
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));
  if (o.control) runPeerControl(o.node, o.line, () => void stop(0), process.stdin, { sip: o.sip });
}

const isMain = import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('peer.js');
if (isMain) {
  runPeerCli(process.argv.slice(2)).catch((error: unknown) => {
    // Typed errors name what was wrong; a stack trace only helps when asked for.
    const e = error as Error;
    const detail = process.env.LOG_LEVEL === 'debug' ? (e.stack ?? e.message) : `${e.name}: ${e.message}`;
    process.stderr.write(`${error instanceof CliUsageError ? e.message : detail}\n`);
    process.exit(error instanceof CliUsageError ? 2 : 1);
  });
}
