/**
 * `overlay serve`: the configuration document at /.well-known/reload-config and the enrollment service at
 * /enroll, over HTTPS with the overlay CA's server certificate. Structured logs, one line per request.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../common/logger';
import { AccountStore } from '../enrollment/account-store';
import { createEnrollmentHandler } from '../enrollment/enrollment-handler';
import { LoginRateLimiter } from '../enrollment/rate-limiter';
import type { OverlayDir } from './overlay-dir';

export const CONFIG_PATH = '/.well-known/reload-config';
export const ENROLL_PATH = '/enroll';

export interface RunningOverlayServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startOverlayServer(
  overlay: OverlayDir,
  log: Logger,
  options: { host?: string; port?: number; limiter?: LoginRateLimiter; tlsKeyFile?: string; tlsCertFile?: string } = {},
): Promise<RunningOverlayServer> {
  const accounts = new AccountStore(overlay.path('accounts'));
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
  const server: Server = createServer({ key, cert, minVersion: 'TLSv1.2' }, (req, res) => {
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
  });
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
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      accounts.close();
    },
  };
}
