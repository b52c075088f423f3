/**
 * The packaged renderer is served from app://renderer/ rather than file://, so it has a real origin that
 * the CSP, the permission policy and the IPC sender check can name, and file:// keeps no special powers.
 */
import { protocol } from 'electron';
import { readStaticFile } from '../app/renderer-files';
import { buildCsp } from '../../src-shared/security/csp';

export const APP_SCHEME = 'app';
export const APP_ORIGIN = `${APP_SCHEME}://renderer`;

/** Must run before the app is ready. */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([
    { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } },
  ]);
}

export function serveRenderer(rendererDir: string): void {
  const csp = buildCsp({ header: true });
  protocol.handle(APP_SCHEME, async (request) => {
    const url = new URL(request.url);
    if (url.host !== 'renderer') return new Response('not found', { status: 404 });
    const file = await readStaticFile(rendererDir, url.pathname);
    if (!file) return new Response('not found', { status: 404 });
    return new Response(new Uint8Array(file.body), {
      headers: {
        'content-type': file.contentType,
        'content-security-policy': csp,
        'x-content-type-options': 'nosniff',
      },
    });
  });
}
