/**
 * Starts the real browser-mode host (`node out/main/web.js`, as `npm run start:web` does) and Debian's
 * Chromium through playwright-core, with the flags this machine needs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

const root = fileURLToPath(new URL('../../', import.meta.url));
export const WEB_ENTRY = join(root, 'out/main/web.js');
export const RENDERER_INDEX = join(root, 'out/renderer/index.html');
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--allow-loopback-in-peer-connection',
];

export interface RunningHost {
  url: string;
  origin: string;
  token: string;
  dataDir: string;
  /** The host process's pid (for its RSS). */
  pid: number;
  /** When the process was spawned, and when it printed its URL (Date.now()). */
  startedAt: number;
  readyAt: number;
  stderr: () => string;
  /** SIGTERM, then the exit code (a clean shutdown exits 0). */
  stop: () => Promise<number | null>;
}

export interface HostOptions {
  /** Run on this data folder and keep it when stopping (a restart reuses it); default: a fresh one, removed on stop. */
  dataDir?: string;
  /** More command-line flags for web.js (e.g. the peer's listen host). */
  args?: string[];
  /** More environment (e.g. NODE_EXTRA_CA_CERTS for an overlay served with its own CA). */
  env?: NodeJS.ProcessEnv;
}

/** The host's stderr kept for failure messages: the last 200 KB is plenty for a test's story. */
const STDERR_KEEP = 200_000;

export async function startHost(options: HostOptions = {}): Promise<RunningHost> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'softphone-e2e-')));
  const startedAt = Date.now();
  const child: ChildProcess = spawn(
    process.execPath,
    [WEB_ENTRY, '--port', '0', '--data-dir', dataDir, ...(options.args ?? [])],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } },
  );
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
    if (stderr.length > STDERR_KEEP) stderr = stderr.slice(-STDERR_KEEP);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const printed = new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`host printed no URL in 15 s; stderr:\n${stderr}`)), 15_000);
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const match = /Open: (http:\/\/\S+)/.exec(out);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    void exited.then((code) => reject(new Error(`host exited with ${code}; stderr:\n${stderr}`)));
  });
  // A host that never printed its URL is still ours to end: the caller has nothing to stop.
  const url = await printed.catch(async (error: unknown) => {
    child.kill('SIGKILL');
    await exited;
    if (ownDir) await rm(dataDir, { recursive: true, force: true });
    throw error;
  });
  const parsed = new URL(url);
  return {
    url,
    origin: parsed.origin,
    token: new URLSearchParams(parsed.hash.slice(1)).get('token') ?? '',
    dataDir,
    pid: child.pid ?? -1,
    startedAt,
    readyAt: Date.now(),
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}

/** Console errors and page errors; a CSP violation shows up here too. */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}
