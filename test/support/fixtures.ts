import type { CredentialStore } from '../../src-main/app/credentials/credential-store';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackend, type Backend } from '../../src-main/app/backend';
import { createLogger, type Logger } from '../../src-main/common/logger';
import type { BridgeTransport } from '../../src-shared/ipc/bridge';

/** A logger that keeps its lines for assertions instead of printing them. */
export function memoryLogger(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return {
    lines,
    log: createLogger({ level: 'debug', write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) }),
  };
}

export async function tempDir(prefix = 'softphone-test-'): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export async function testBackend(dataDir: string, log = memoryLogger().log): Promise<Backend> {
  return createBackend({
    dataDir,
    mode: 'browser',
    appName: 'Reload Softphone',
    appVersion: '0.0.0-test',
    versions: { node: process.versions.node, electron: null, chrome: null },
    log,
    // A keychain of its own: tests never touch the OS keychain unless they mean to.
    credentials: async () => memoryCredentialStore(),
    network: { host: '127.0.0.1', advertiseHost: '127.0.0.1', hostAddresses: ['127.0.0.1'] },
  });
}

/** A CredentialStore in a Map (the interface's test double: the real keychain has its own tests). */
export function memoryCredentialStore(): CredentialStore {
  const secrets = new Map<string, string>();
  return {
    get: async (account) => secrets.get(account),
    set: async (account, secret) => void secrets.set(account, secret),
    delete: async (account) => secrets.delete(account),
  };
}

/**
 * The bridge without a process boundary: the real dispatcher and event hub, with structuredClone standing
 * in for Electron's IPC serialization so nothing is shared by reference.
 */
export function inProcessTransport(backend: Pick<Backend, 'dispatcher' | 'events'>): BridgeTransport {
  return {
    request: async (message) => structuredClone(await backend.dispatcher.dispatch(structuredClone(message))),
    subscribe: (listener) => backend.events.subscribe((message) => listener(structuredClone(message))),
  };
}
