/**
 * The renderer's Content-Security-Policy, built in one place for the Electron window (meta tag and response
 * header), the browser-mode host (response header) and the Vite build (meta tag).
 */
export interface CspOptions {
  /** Extra connect-src sources, e.g. the browser-mode WebSocket origin. */
  connect?: readonly string[];
  /** Vite's dev server injects styles and needs its HMR socket; never set for a build. */
  dev?: boolean;
  /** frame-ancestors only works as a header, never in a meta tag. */
  header?: boolean;
}

export function buildCsp(options: CspOptions = {}): string {
  const connect = ["'self'", ...(options.connect ?? [])];
  if (options.dev) connect.push('ws://localhost:*', 'ws://127.0.0.1:*');
  const directives: [string, string[]][] = [
    ['default-src', ["'none'"]],
    ['script-src', ["'self'"]],
    ['style-src', options.dev ? ["'self'", "'unsafe-inline'"] : ["'self'"]],
    ['img-src', ["'self'", 'data:']],
    ['font-src', ["'self'"]],
    // WebRTC audio is played from MediaStreams; blob: covers recorded ringtones and exports.
    ['media-src', ["'self'", 'blob:']],
    ['connect-src', connect],
    ['object-src', ["'none'"]],
    ['base-uri', ["'none'"]],
    ['form-action', ["'none'"]],
  ];
  if (options.header) directives.push(['frame-ancestors', ["'none'"]]);
  return directives.map(([name, values]) => `${name} ${values.join(' ')}`).join('; ');
}
