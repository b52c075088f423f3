/** E2E tests drive the built app; say plainly what is missing instead of failing obscurely. */
import { existsSync } from 'node:fs';
import { CHROMIUM_PATH, WEB_ENTRY, RENDERER_INDEX } from './harness';

export default function setup(): void {
  const missing = [
    [WEB_ENTRY, 'run `npm run build` first'],
    [RENDERER_INDEX, 'run `npm run build` first'],
    [CHROMIUM_PATH, 'install Debian chromium (`bash .ci/run` does) or set CHROMIUM_PATH'],
  ].filter(([path]) => !existsSync(path as string));
  if (missing.length > 0) {
    throw new Error(`E2E prerequisites missing:\n${missing.map(([p, fix]) => `  ${p}: ${fix}`).join('\n')}`);
  }
}
