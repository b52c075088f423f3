import { svelte } from '@sveltejs/vite-plugin-svelte';
import { svelteTesting } from '@testing-library/svelte/vite';
import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

const root = import.meta.dirname;

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          environment: 'node',
          include: [
            'test/unit/**/*.test.ts',
            'test/lint/**/*.test.ts',
            'test/integration/**/*.test.ts',
            'test/compliance/**/*.test.ts',
            // Attacks we defend against, one file per hole an outside review found (issue 10, 16).
            'test/security/**/*.test.ts',
          ],
          testTimeout: 20_000,
        },
      },
      {
        plugins: [svelte({ configFile: resolve(root, 'svelte.config.js') }), svelteTesting()],
        test: {
          name: 'component',
          environment: 'jsdom',
          include: ['test/component/**/*.test.ts'],
          setupFiles: ['test/component/setup.ts'],
        },
      },
      {
        test: {
          // Real third-party programs as oracles and peers: tshark (needs root for captures), sipp and kamailio.
          name: 'interop',
          environment: 'node',
          include: ['test/interop/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 90_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'e2e',
          environment: 'node',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/e2e/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // One Chromium at a time: two cores, and each file starts its own browser-mode host.
          fileParallelism: false,
        },
      },
    ],
  },
});
