import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'electron-vite';
import { resolve } from 'node:path';
import type { Plugin } from 'vite';
import { buildCsp } from './src-shared/security/csp';

const root = import.meta.dirname;

/** Puts the CSP into index.html: strict for builds, relaxed only as Vite's dev server needs. */
function cspMeta(): Plugin {
  let dev = false;
  return {
    name: 'softphone-csp-meta',
    configResolved(config) {
      dev = config.command === 'serve';
    },
    transformIndexHtml(html) {
      return html.replace('%SOFTPHONE_CSP%', buildCsp({ dev }));
    },
  };
}

export default defineConfig({
  main: {
    build: {
      outDir: resolve(root, 'out/main'),
      rolldownOptions: {
        input: {
          // The Electron main process.
          index: resolve(root, 'src-main/electron/main.ts'),
          // Headless entry points run by plain Node (browser mode; later the peer and overlay CLIs).
          web: resolve(root, 'src-main/host/web.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      outDir: resolve(root, 'out/preload'),
      rolldownOptions: {
        input: { index: resolve(root, 'src-main/electron/preload.ts') },
        // Sandboxed preloads cannot be ES modules.
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(root, 'src-renderer'),
    plugins: [svelte({ configFile: resolve(root, 'svelte.config.js') }), cspMeta()],
    build: {
      outDir: resolve(root, 'out/renderer'),
      rolldownOptions: { input: { index: resolve(root, 'src-renderer/index.html') } },
    },
  },
});
