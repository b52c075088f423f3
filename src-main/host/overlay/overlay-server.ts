/**
 * `overlay serve`: the configuration document at /.well-known/reload-config and the enrollment service at
 * /enroll, over HTTPS with the overlay CA's server certificate. Structured logs, one line per request.
 * The server is on the open Internet, so no client holds a connection for free: short timeouts for the TLS
 * handshake, the headers, the whole request and idle keep-alive, and caps on connections per client address
 * (IPv6 per /64) and in total (ServerLimits; docs/decisions.md, "Enrollment server limits").
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from '../../common/logger';
import { AccountStore } from '../enrollment/account-store';
import { clientAddressKey } from '../enrollment/client-address';
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
  /** Open connections in total; more are closed at once. */
  maxConnections: number;
}

export const DEFAULT_SERVER_LIMITS: Readonly<ServerLimits> = Object.freeze({
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 30_000,
  handshakeTimeoutMs: 10_000,
  maxConnectionsPerAddress: 16,
  maxConnections: 256,
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

/** Closes connections beyond the per-address cap as they arrive; logs the first refusal of each streak. */
function capConnectionsPerAddress(server: Server, max: number, log: Logger): void {
  const open = new Map<string, number>();
  const warned = new Set<string>();
  server.on('connection', (socket: Socket) => {
    const key = clientAddressKey(socket.remoteAddress);
    const count = open.get(key) ?? 0;
    if (count >= max) {
      if (!warned.has(key)) log.warn('connection refused', { reason: 'per-address-cap', address: key, max });
      warned.add(key);
      socket.destroy();
      return;
    }
    open.set(key, count + 1);
    socket.once('close', () => {
      const left = (open.get(key) ?? 1) - 1;
      if (left > 0) open.set(key, left);
      else open.delete(key);
      if (left < max) warned.delete(key);
    });
  });
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
  server.maxConnections = limits.maxConnections;
  capConnectionsPerAddress(server, limits.maxConnectionsPerAddress, log);
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
