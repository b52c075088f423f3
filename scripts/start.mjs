// `npm start`: build and launch the desktop app. Electron fetches its binary on first use; where that is
// impossible (no network to its download host, CI), say so in one line and point to browser mode.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const electronDir = dirname(require.resolve('electron/package.json'));

function binaryPresent() {
  const pathFile = join(electronDir, 'path.txt');
  return existsSync(pathFile) && existsSync(join(electronDir, 'dist', readFileSync(pathFile, 'utf8')));
}

if (!binaryPresent()) {
  const download = spawnSync(process.execPath, [join(electronDir, 'install.js')], {
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 300_000,
    encoding: 'utf8',
  });
  if (download.status !== 0 || !binaryPresent()) {
    const reason =
      (download.stderr || 'download failed').split('\n').find((l) => /error/i.test(l)) ?? 'download failed';
    console.error(
      `npm start: the Electron binary is not installed and could not be fetched (${reason.trim().slice(0, 160)}); ` +
        'run `npm run start:web` to use the app in your browser instead.',
    );
    process.exit(1);
  }
}

const child = spawn(
  process.execPath,
  [require.resolve('electron-vite/bin/electron-vite.js'), 'preview', ...process.argv.slice(2)],
  {
    stdio: 'inherit',
  },
);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
