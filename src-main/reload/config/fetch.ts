/**
 * Getting the configuration document (RFC 6940 §11.2): from a given URL, or
 * https://<overlay>/.well-known/reload-config at the host and port a DNS SRV lookup of
 * _reload-config._tcp.<overlay> names (the overlay's own name and 443 without one). The server
 * certificate must match the URL's host — for the SRV case, the overlay name.
 */
import { promises as dns, type SrvRecord } from 'node:dns';
import { request } from 'node:https';
import { acceptConfigurationDocument } from './accept';
import { ConfigurationFetchError } from './errors';
import type { OverlayConfiguration } from './model';
import { MAX_CONFIG_BYTES } from './parse';

export const WELL_KNOWN_PATH = '/.well-known/reload-config';

export interface FetchOptions {
  overlayName: string;
  /** An explicit URL (provisioning); otherwise DNS SRV and the well-known URL. */
  url?: string;
  tlsCa?: (string | Buffer)[];
  /** Injected for tests; Node's resolver otherwise. */
  resolveSrv?: (name: string) => Promise<SrvRecord[]>;
  timeoutMs?: number;
}

export interface Location {
  url: string;
  /** Where to connect, when it differs from the URL's host (SRV). */
  connect?: { host: string; port: number };
}

export async function locateConfiguration(options: FetchOptions): Promise<Location> {
  if (options.url) return { url: options.url };
  const name = options.overlayName.toLowerCase();
  const url = `https://${name}${WELL_KNOWN_PATH}`;
  let records: SrvRecord[] = [];
  try {
    records = await (options.resolveSrv ?? dns.resolveSrv)(`_reload-config._tcp.${name}`);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== 'ENOTFOUND' && code !== 'ENODATA')
      throw new ConfigurationFetchError(`DNS SRV lookup failed: ${(error as Error).message}`, 'configuration-url');
  }
  if (records.length === 0) return { url };
  const best = [...records].sort((a, b) => a.priority - b.priority || b.weight - a.weight)[0] as SrvRecord;
  return { url, connect: { host: best.name, port: best.port } };
}

export async function fetchConfigurationText(options: FetchOptions): Promise<{ text: string; url: string }> {
  const location = await locateConfiguration(options);
  const url = new URL(location.url);
  if (url.protocol !== 'https:')
    throw new ConfigurationFetchError(`the configuration URL must be https, not ${url.protocol}`, 'configuration-url');
  const text = await new Promise<string>((resolve, reject) => {
    const req = request(
      {
        host: location.connect?.host ?? url.hostname,
        port: location.connect?.port ?? (url.port ? Number(url.port) : 443),
        path: url.pathname + url.search,
        method: 'GET',
        servername: url.hostname.replace(/^\[|\]$/g, ''),
        headers: { host: url.host, accept: 'application/p2p-overlay+xml' },
        ...(options.tlsCa ? { ca: options.tlsCa } : {}),
        minVersion: 'TLSv1.2',
        timeout: options.timeoutMs ?? 30_000,
      },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new ConfigurationFetchError(`${location.url} answered HTTP ${res.statusCode}`, 'configuration-url'));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_CONFIG_BYTES)
            req.destroy(
              new ConfigurationFetchError(`document larger than ${MAX_CONFIG_BYTES} bytes`, 'configuration-url'),
            );
          else chunks.push(c);
        });
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      },
    );
    req.on('timeout', () =>
      req.destroy(new ConfigurationFetchError('the configuration server did not answer in time', 'configuration-url')),
    );
    req.on('error', (error) =>
      reject(
        error instanceof ConfigurationFetchError
          ? error
          : new ConfigurationFetchError(`cannot fetch ${location.url}: ${error.message}`, 'configuration-url'),
      ),
    );
    req.end();
  });
  return { text, url: location.url };
}

/** Fetches, verifies and accepts: the configuration to use from now on. */
export async function fetchConfiguration(
  options: FetchOptions & { current?: OverlayConfiguration },
): Promise<OverlayConfiguration> {
  const { text } = await fetchConfigurationText(options);
  return acceptConfigurationDocument(text, {
    overlayName: options.overlayName,
    ...(options.current ? { current: options.current } : {}),
  });
}
