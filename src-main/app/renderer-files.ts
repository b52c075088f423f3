/** Reads the built renderer from one folder for the browser-mode host and the Electron app:// protocol; nothing outside it is reachable. */
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wav': 'audio/wav',
  '.ogg': 'audio/ogg',
  '.map': 'application/json',
};

export interface StaticFile {
  body: Buffer;
  contentType: string;
  /** index.html must not be cached: it names the hashed assets of the current build. */
  cacheable: boolean;
}

/** Resolves a URL path to a file below `root`, or undefined (404) for anything else. */
export async function readStaticFile(root: string, urlPath: string): Promise<StaticFile | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  const relative = decoded === '/' ? 'index.html' : decoded.replace(/^\/+/, '');
  const full = normalize(join(root, relative));
  const rootWithSep = root.endsWith(sep) ? root : root + sep;
  if (!full.startsWith(rootWithSep)) return undefined;
  try {
    if (!(await stat(full)).isFile()) return undefined;
    return {
      body: await readFile(full),
      contentType: MIME[extname(full)] ?? 'application/octet-stream',
      cacheable: relative !== 'index.html',
    };
  } catch {
    return undefined;
  }
}
