/**
 * `overlay serve`: the configuration document at /.well-known/reload-config and the enrollment service at
 * /enroll, over HTTPS with the overlay CA's server certificate. Structured logs, one line per request.
 * The server is on the open Internet, so no client holds a connection for free: short timeouts for the TLS
 * handshake, the headers, the whole request and idle keep-alive; a maximum of requests per connection and a
 * maximum lifetime, so busy keep-alive connections are recycled too; caps on connections per client address
 * (IPv6 per /64), per IPv6 /56 and in total. At the total cap a newcomer is not refused: the address holding the
 * most connections gives up its oldest (idle first), so a few addresses cannot keep a new one out
 * (ServerLimits; docs/decisions.md, "Enrollment server limits").
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from '../../common/logger';
import { AccountStore } from '../enrollment/account-store';
import { clientAddressKey, clientNetworkKeys } from '../enrollment/client-address';
import { createEnrollmentHandler } from '../enrollment/enrollment-handler';
import { LoginRateLimiter } from '../enrollment/rate-limiter';
import type { OverlayDir } from './overlay-dir';

export const CONFIG_PATH = '/.well-known/reload-config';
export const ENROLL_PATH = '/enroll';

export interface ServerLimits {
  /** From the connection (or the previous request) to the end of the headers: cuts off slowloris. */
  headersTimeoutMs: number;
  /** For the whole request, body included (an enrollment is at most 64 KiB). */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** A connection with no traffic either way (e.g. a client that stops reading the answer). */
  idleTimeoutMs: number;
  /** For the TLS handshake, before any HTTP. */
  handshakeTimeoutMs: number;
  /** Open connections per client address (IPv6: per /64); more are closed at once. */
  maxConnectionsPerAddress: number;
  /** Open connections per IPv6 /56 (one subscriber's usual allocation); more are closed at once. */
  maxConnectionsPerNetwork: number;
  /**
   * Open connections in total. A newcomer beyond it takes the place of the oldest connection (idle ones first) of
   * the address holding the most, unless it holds as many itself; then it is closed at once.
   */
  maxConnections: number;
  /** Requests on one keep-alive connection; the last answer says `connection: close`. */
  maxRequestsPerSocket: number;
  /** A connection is closed this long after it opened (at the end of the answer in progress, if any). */
  maxConnectionLifetimeMs: number;
}

export const DEFAULT_SERVER_LIMITS: Readonly<ServerLimits> = Object.freeze({
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 30_000,
  handshakeTimeoutMs: 10_000,
  maxConnectionsPerAddress: 16,
  maxConnectionsPerNetwork: 64,
  maxConnections: 256,
  maxRequestsPerSocket: 100,
  maxConnectionLifetimeMs: 5 * 60_000,
});

/** A server limit that is not a positive whole number, or headers allowed longer than the whole request. */
export class ServerLimitError extends Error {
  constructor(
    readonly field: keyof ServerLimits,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'ServerLimitError';
  }
}

function serverLimits(given: Partial<ServerLimits> = {}): ServerLimits {
  const limits = { ...DEFAULT_SERVER_LIMITS, ...given };
  for (const [field, value] of Object.entries(limits) as [keyof ServerLimits, number][]) {
    if (!Number.isSafeInteger(value) || value < 1)
      throw new ServerLimitError(field, `must be a positive whole number, not ${String(value)}`);
  }
  if (limits.headersTimeoutMs > limits.requestTimeoutMs)
    throw new ServerLimitError('headersTimeoutMs', 'must not be longer than requestTimeoutMs');
  return limits;
}

interface Connection {
  socket: Socket;
  /** The client's address and port, which the TLS socket of a request shares with the TCP one. */
  peer: string;
  key: string;
  network: string | undefined;
  /** Requests being answered on it, and answered so far. */
  busy: number;
  requests: number;
  /** The TLS socket over `socket`, once a request has come on it: ended politely, after the last answer. */
  tls?: Socket;
  /** Past its lifetime: closed when its answer in progress is done. */
  expired: boolean;
}

const TOTAL_CAP = 'total-cap';

/**
 * Enforces the connection caps as connections arrive (Node's own `maxConnections` would refuse the newcomer):
 * per address, per IPv6 /56, and in total by evicting from the biggest holder. Connections are kept per key in
 * arrival order, oldest first; each is closed at the end of its lifetime. Logs the first refusal of each streak.
 */
function capConnections(server: Server, limits: ServerLimits, log: Logger): void {
  const byKey = new Map<string, Set<Connection>>();
  const byNetwork = new Map<string, number>();
  const byPeer = new Map<string, Connection>();
  const warned = new Set<string>();
  let total = 0;
  const peer = (socket: Socket) => `${socket.remoteAddress ?? ''}|${socket.remotePort ?? ''}`;
  const refuse = (socket: Socket, key: string, reason: string, max: number) => {
    if (!warned.has(key)) log.warn('connection refused', { reason, address: key, max });
    warned.add(key);
    socket.destroy();
  };
  /** The oldest idle connection of the address holding the most, else its oldest; none if `mine` holds as many. */
  const victim = (mine: number): Connection | undefined => {
    let biggest: Set<Connection> | undefined;
    for (const set of byKey.values()) if (!biggest || set.size > biggest.size) biggest = set;
    if (!biggest || biggest.size <= mine) return undefined;
    const all = [...biggest];
    return all.find((c) => c.busy === 0) ?? all[0];
  };
  server.on('connection', (socket: Socket) => {
    const key = clientAddressKey(socket.remoteAddress);
    const network = socket.remoteAddress?.includes(':') ? clientNetworkKeys(key)[0] : undefined;
    const mine = byKey.get(key)?.size ?? 0;
    if (mine >= limits.maxConnectionsPerAddress)
      return refuse(socket, key, 'per-address-cap', limits.maxConnectionsPerAddress);
    if (network && (byNetwork.get(network) ?? 0) >= limits.maxConnectionsPerNetwork)
      return refuse(socket, network, 'per-network-cap', limits.maxConnectionsPerNetwork);
    if (total >= limits.maxConnections) {
      const evicted = victim(mine);
      if (!evicted) return refuse(socket, key, TOTAL_CAP, limits.maxConnections);
      // Once per streak of a full server: every newcomer evicts someone then.
      if (!warned.has(TOTAL_CAP)) log.warn('connection evicted', { reason: TOTAL_CAP, address: evicted.key, for: key });
      warned.add(TOTAL_CAP);
      forget(evicted);
      evicted.socket.destroy();
    }
    const connection: Connection = { socket, peer: peer(socket), key, network, busy: 0, requests: 0, expired: false };
    remember(connection);
    const lifetime = setTimeout(() => {
      connection.expired = true;
      if (connection.busy > 0) return; // ended after its answer
      if (connection.tls) connection.tls.end();
      else socket.destroy();
    }, limits.maxConnectionLifetimeMs);
    lifetime.unref();
    socket.once('close', () => {
      clearTimeout(lifetime);
      forget(connection);
    });
  });
  // Before the application's handler, which may answer at once: the header has to be set before that.
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const connection = byPeer.get(peer(req.socket));
    if (!connection) return;
    connection.tls = req.socket;
    connection.busy++;
    // Node only marks the last answer `connection: close` and answers 503 to any further request on the connection:
    // it is ended here once that answer is out (so is a connection past its lifetime).
    const last = ++connection.requests >= limits.maxRequestsPerSocket;
    if (last || connection.expired) res.setHeader('connection', 'close');
    res.once('finish', () => {
      if (last || connection.expired) req.socket.end();
    });
    res.once('close', () => connection.busy--);
  });

  function remember(c: Connection): void {
    let set = byKey.get(c.key);
    if (!set) byKey.set(c.key, (set = new Set()));
    set.add(c);
    if (c.network) byNetwork.set(c.network, (byNetwork.get(c.network) ?? 0) + 1);
    byPeer.set(c.peer, c);
    total++;
  }
  /** Idempotent: an evicted connection is forgotten at once, and again when its close event comes. */
  function forget(c: Connection): void {
    const set = byKey.get(c.key);
    if (!set?.delete(c)) return;
    if (set.size === 0) byKey.delete(c.key);
    if (c.network) {
      const left = (byNetwork.get(c.network) ?? 1) - 1;
      if (left > 0) byNetwork.set(c.network, left);
      else byNetwork.delete(c.network);
      warned.delete(c.network);
    }
    byPeer.delete(c.peer);
    total--;
    warned.delete(c.key);
    if (total < limits.maxConnections - 1) warned.delete(TOTAL_CAP); // not just an eviction: room again
  }
}

export interface RunningOverlayServer {
  url: string;
  port: number;
  /** The limits in force (the defaults, with any the caller gave). */
  limits: ServerLimits;
  close(): Promise<void>;
}

export interface OverlayServerOptions {
  host?: string;
  port?: number;
  limiter?: LoginRateLimiter;
  limits?: Partial<ServerLimits>;
  tlsKeyFile?: string;
  tlsCertFile?: string;
}

export async function startOverlayServer(
  overlay: OverlayDir,
  log: Logger,
  options: OverlayServerOptions = {},
): Promise<RunningOverlayServer> {
  const limits = serverLimits(options.limits);
  const accounts = new AccountStore(overlay.path('accounts'), { domain: overlay.settings.overlay });
  const enroll = createEnrollmentHandler({
    overlay: overlay.settings.overlay,
    ca: overlay.ca,
    accounts,
    limiter: options.limiter ?? new LoginRateLimiter(),
    validDays: overlay.settings.certificateValidDays,
    nodeIdLength: 16,
    log: log.child({ component: 'enrollment' }),
  });
  // The overlay CA's server certificate, unless the operator brings one (e.g. from a public CA).
  const key = await readFile(options.tlsKeyFile ?? overlay.path('serverKey'));
  const cert = await readFile(options.tlsCertFile ?? overlay.path('serverCert'));
  const tightest = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  const server: Server = createServer(
    {
      key,
      cert,
      minVersion: 'TLSv1.2',
      handshakeTimeout: limits.handshakeTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // Node checks the header and request timeouts on this beat (30 s unless told): a quarter of the tightest.
      connectionsCheckingInterval: Math.max(25, Math.min(1_000, Math.floor(tightest / 4))),
    },
    (req, res) => {
      const started = Date.now();
      res.on('finish', () =>
        log.info('request', {
          method: req.method,
          path: req.url,
          status: res.statusCode,
          ms: Date.now() - started,
          address: req.socket.remoteAddress,
        }),
      );
      const path = new URL(req.url ?? '/', 'https://x').pathname;
      if (path === CONFIG_PATH && (req.method === 'GET' || req.method === 'HEAD')) {
        void readFile(overlay.path('config')).then(
          (body) => {
            res.writeHead(200, {
              'content-type': 'application/p2p-overlay+xml',
              'content-length': body.length,
              'cache-control': 'no-cache',
            });
            res.end(req.method === 'HEAD' ? undefined : body);
          },
          (error: unknown) => {
            log.error('configuration unreadable', { error });
            res.writeHead(500).end();
          },
        );
        return;
      }
      if (path === ENROLL_PATH) {
        enroll(req, res).catch((error: unknown) => {
          log.error('enrollment failed', { error });
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end('internal_error\n');
        });
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    },
  );
  server.timeout = limits.idleTimeoutMs;
  server.maxRequestsPerSocket = limits.maxRequestsPerSocket;
  capConnections(server, limits, log);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? overlay.settings.listen.port, options.host ?? overlay.settings.listen.host, () =>
      resolve(),
    );
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host ?? overlay.settings.listen.host;
  return {
    url: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    limits,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      accounts.close();
    },
  };
}
