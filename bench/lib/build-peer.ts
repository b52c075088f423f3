/**
 * Bundles peer-cli.ts (packages external) where Node finds node_modules; PeerProcess then runs that file
 * (RELOAD_PEER_ENTRY): many peers start far faster from JavaScript than through tsx.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export function buildPeer(): string {
  const out = join(process.cwd(), 'node_modules/.cache/reload-bench/peer-cli.mjs');
  execFileSync(join(process.cwd(), 'node_modules/.bin/esbuild'), [
    'src-main/host/peer-cli.ts',
    '--bundle',
    '--platform=node',
    '--format=esm',
    '--packages=external',
    '--log-level=warning',
    `--outfile=${out}`,
  ]);
  return out;
}
