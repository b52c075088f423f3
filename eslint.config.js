// Lint rules, including the layering of docs/architecture.md: who may import what. A forbidden import is
// an error, so `npm test` (and with it CI) fails on it; test/lint/layering.test.ts proves each rule bites.
import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import svelteConfig from './svelte.config.js';

const main = (dir) => `./src-main/${dir}`;
const why = (text) => `${text} (see docs/architecture.md)`;

/** Import boundaries between folders, checked on resolved paths. */
const zones = [
  {
    target: './src-shared',
    from: ['./src-main', './src-renderer'],
    message: why('src-shared imports nothing of ours'),
  },
  { target: './src-renderer', from: './src-main', message: why('the renderer reaches main only through bridge.ts') },
  { target: './src-main', from: './src-renderer', message: why('main never imports renderer code') },
  {
    target: main('common'),
    from: [...['app', 'ipc', 'reload', 'sip', 'electron', 'host'].map(main), './src-shared'],
    message: why('src-main/common is the bottom layer of main'),
  },
  {
    target: main('reload'),
    from: [...['app', 'ipc', 'sip', 'electron', 'host'].map(main), './src-shared'],
    message: why('the RELOAD protocol knows nothing of SIP, the app, IPC or Electron'),
  },
  {
    target: main('reload/wire'),
    from: main('reload'),
    except: ['./wire'],
    message: why('the wire codec is pure and imports nothing outside itself'),
  },
  { target: main('reload/wire'), from: main('common'), message: why('the wire codec imports nothing outside itself') },
  {
    target: main('sip'),
    from: main('reload'),
    except: ['./index.ts'],
    message: why("the SIP usage uses only the protocol's public face, src-main/reload/index.ts"),
  },
  {
    target: main('sip'),
    from: ['app', 'ipc', 'electron', 'host'].map(main),
    message: why('the SIP usage knows nothing of the app, IPC or Electron'),
  },
  {
    target: main('ipc'),
    from: ['app', 'reload', 'sip', 'electron', 'host'].map(main),
    message: why('the IPC dispatcher depends on the contract only; the composition root gives it handlers'),
  },
  { target: main('app'), from: ['electron', 'host'].map(main), message: why('services never import entry points') },
  { target: main('electron'), from: main('host'), message: why('entry points do not import each other') },
  { target: main('host'), from: main('electron'), message: why('headless hosts run without Electron') },
];

/** Package imports: the folders that may not use a package, or may use only a listed few. */
const onlyRelativeAnd = (allowed, message) => {
  const exceptions = ['\\.{1,2}/', ...allowed.map((name) => `${name}(?:/|$)`)];
  return {
    'no-restricted-imports': [
      'error',
      { patterns: [{ regex: `^(?!${exceptions.join('|')})`, message: why(message) }] },
    ],
  };
};
const forbidPackages = (names, message) => ({
  'no-restricted-imports': ['error', { paths: names.map((name) => ({ name, message: why(message) })) }],
});

export default tseslint.config(
  { ignores: ['out/', 'dist/', 'node_modules/', 'bench/results/', 'test/lint/fixtures/'] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  ...svelte.configs['flat/recommended'],
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: {
      parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'], svelteConfig },
    },
  },
  {
    files: ['src-renderer/**'],
    languageOptions: {
      globals: { ...globals.browser, ...Object.fromEntries(Object.keys(globals.node).map((k) => [k, 'off'])) },
    },
  },
  {
    files: ['src-*/**'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: 'tsconfig.json' })],
    },
    rules: {
      'import-x/no-restricted-paths': ['error', { basePath: import.meta.dirname, zones }],
    },
  },
  { files: ['src-shared/**'], rules: onlyRelativeAnd(['valibot'], 'src-shared may import only valibot') },
  {
    files: ['src-renderer/**'],
    rules: onlyRelativeAnd(
      ['svelte', 'sip\\.js', 'valibot'],
      'the renderer may import only svelte, sip.js and valibot',
    ),
  },
  {
    files: ['src-main/**'],
    ignores: ['src-main/electron/**'],
    rules: forbidPackages(['electron'], 'only src-main/electron may import electron'),
  },
  {
    files: ['src-main/reload/**', 'src-main/sip/**'],
    rules: forbidPackages(
      ['electron', 'svelte', '@napi-rs/keyring', 'better-sqlite3'],
      'protocol code stays free of Electron, UI and app storage; they are injected by the composition root',
    ),
  },
  {
    files: ['src-main/reload/wire/**'],
    rules: onlyRelativeAnd([], 'the wire codec is pure: bytes in, values out, no packages, no I/O'),
  },
  {
    files: ['test/**', 'bench/**', '*.config.*'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
);
