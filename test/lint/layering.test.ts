/**
 * The layering rules of docs/architecture.md, run through ESLint with the project's own configuration:
 * every forbidden import below must be reported by the named rule, and every allowed one must pass.
 * The files are virtual (lintText with a path), so nothing forbidden ever lands in the tree.
 */
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: new URL('../../', import.meta.url).pathname });

async function problems(filePath: string, code: string) {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

const PATHS = 'import-x/no-restricted-paths';
const IMPORTS = 'no-restricted-imports';

const forbidden: [file: string, code: string, rule: string][] = [
  ['src-shared/x.ts', "import { createBackend } from '../src-main/app/backend';", PATHS],
  ['src-shared/x.ts', "import { mount } from 'svelte';", IMPORTS],
  ['src-shared/x.ts', "import { readFile } from 'node:fs';", IMPORTS],
  ['src-renderer/x.ts', "import { createBackend } from '../src-main/app/backend';", PATHS],
  ['src-renderer/x.ts', "import { ipcRenderer } from 'electron';", IMPORTS],
  ['src-renderer/x.ts', "import { readFile } from 'node:fs';", IMPORTS],
  ['src-main/app/x.ts', "import { app } from 'electron';", IMPORTS],
  ['src-main/app/x.ts', "import { createMainWindow } from '../electron/window';", PATHS],
  ['src-main/host/x.ts', "import { createMainWindow } from '../electron/window';", PATHS],
  ['src-main/electron/x.ts', "import { startWebHost } from '../host/web-server';", PATHS],
  ['src-main/ipc/x.ts', "import { createBackend } from '../app/backend';", PATHS],
  ['src-main/common/x.ts', "import { createBackend } from '../app/backend';", PATHS],
  ['src-main/common/x.ts', "import { CHANNELS } from '../../src-shared/ipc/contract';", PATHS],
  ['src-main/reload/x.ts', "import { createBackend } from '../app/backend';", PATHS],
  ['src-main/reload/x.ts', "import { CHANNELS } from '../../src-shared/ipc/contract';", PATHS],
  ['src-main/reload/x.ts', "import { app } from 'electron';", IMPORTS],
  ['src-main/reload/wire/x.ts', "import { createLogger } from '../../common/logger';", PATHS],
  ['src-main/reload/wire/x.ts', "import { Socket } from 'node:net';", IMPORTS],
  ['src-main/sip/x.ts', "import { createBackend } from '../app/backend';", PATHS],
  ['src-main/sip/x.ts', "import { app } from 'electron';", IMPORTS],
  ['src-main/x.ts', "import App from '../src-renderer/App.svelte';", PATHS],
];

const allowed: [file: string, code: string][] = [
  [
    'src-shared/x.ts',
    "import * as v from 'valibot';\nimport { CHANNELS } from './ipc/contract';\nexport { v, CHANNELS };",
  ],
  [
    'src-renderer/x.ts',
    "import { mount } from 'svelte';\nimport { CHANNELS } from '../src-shared/ipc/contract';\nexport { mount, CHANNELS };",
  ],
  [
    'src-main/electron/x.ts',
    "import { app } from 'electron';\nimport { createBackend } from '../app/backend';\nexport { app, createBackend };",
  ],
  ['src-main/app/x.ts', "import { createDispatcher } from '../ipc/dispatcher';\nexport { createDispatcher };"],
  ['src-main/ipc/x.ts', "import { createLogger } from '../common/logger';\nexport { createLogger };"],
  ['src-main/reload/x.ts', "import { createLogger } from '../common/logger';\nexport { createLogger };"],
];

describe('layering rules (ESLint)', () => {
  it.each(forbidden)('%s: %s is reported', async (file, code, rule) => {
    const found = await problems(file, `${code}\nexport const keep = 1;\n`);
    expect(
      found.some((p) => p.startsWith(`${rule}:`)),
      found.join('\n'),
    ).toBe(true);
    expect(found.join('\n')).toContain('docs/architecture.md');
  });

  it.each(allowed)('%s: allowed imports pass', async (file, code) => {
    expect(await problems(file, `${code}\n`)).toEqual([]);
  });
});
