/**
 * The composition root of the main-process services. Electron's main process and the browser-mode host
 * both call `createBackend`; everything the renderer can reach goes through the returned dispatcher and
 * event hub. It composes the keychain (one namespace per data folder), the identity side (enrollment,
 * certificates, overlay discovery) and the app's peer (PeerService: the RELOAD node and the SIP usage).
 */
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Handlers } from '../ipc/dispatcher';
import { createDispatcher, type Dispatcher } from '../ipc/dispatcher';
import type { AppInfo, RunMode } from '../../src-shared/model/app-info';
import { EventHub } from './event-hub';
import type { Logger } from '../common/logger';
import { SettingsFile, SettingsFileCorruptError } from './settings/settings-file';
import { SettingsService } from './settings/settings-service';
import { ShutdownHooks, type ShutdownOutcome } from './shutdown';
import type { CredentialStore } from './credentials/credential-store';
import { openInstallationCredentials } from './credentials/namespaced-store';
import { APP_ID } from './app-identity';
import { createIdentityApi } from './identity/identity-manager';
import type { FetchSettings } from './identity/overlay-offers';
import { PeerService, type PeerNetworkOptions } from './peer/peer-service';

/** The peer's quit work (handover and Leave) may take this long before the app exits without it. */
export const PEER_STOP_TIMEOUT_MS = 5_000;

export interface BackendOptions {
  dataDir: string;
  mode: RunMode;
  appName: string;
  appVersion: string;
  versions: AppInfo['versions'];
  log: Logger;
  /** Clock for naming set-aside files, certificates and offers; injectable for tests. */
  now?: () => Date;
  /**
   * This installation's keychain (tests pass their own); default: the OS keychain under the app id, each
   * account prefixed with the data folder's installation id. Rejects with KeychainUnavailableError.
   */
  credentials?: () => Promise<CredentialStore>;
  /** Where the peer listens and which interfaces it uses (tests: loopback). */
  network?: PeerNetworkOptions;
  /** The local SIP interface's port for standard SIP phones (0 or absent: none). */
  sipPort?: number;
  /** DNS and HTTPS trust for configuration and enrollment servers (tests); the system's otherwise. */
  fetch?: FetchSettings;
  /** How long joining may take (default 30 s). */
  joinTimeoutMs?: number;
}

export interface Backend {
  readonly info: AppInfo;
  readonly dispatcher: Dispatcher;
  readonly events: EventHub;
  readonly shutdownHooks: ShutdownHooks;
  readonly settings: SettingsService;
  readonly peer: PeerService;
  /** Announce the stop to renderers, then run the shutdown hooks. Idempotent. */
  stop(reason: string): Promise<ShutdownOutcome[]>;
}

export async function createBackend(options: BackendOptions): Promise<Backend> {
  const { log } = options;
  const events = new EventHub(log.child({ component: 'events' }));
  const shutdownHooks = new ShutdownHooks(log.child({ component: 'shutdown' }));
  const settings = await openSettings(options, events);

  const info: AppInfo = {
    name: options.appName,
    version: options.appVersion,
    mode: options.mode,
    platform: process.platform,
    versions: options.versions,
    dataDir: options.dataDir,
  };

  const now = options.now ?? (() => new Date());
  const credentials =
    options.credentials ?? (() => openInstallationCredentials({ dataDir: options.dataDir, service: APP_ID }));
  // The identity side calls back into the peer (leave before forgetting): the peer exists by then.
  const late: { peer?: PeerService } = {};
  const identity = createIdentityApi({
    dataDir: options.dataDir,
    credentials,
    log: log.child({ component: 'identity' }),
    ...(options.now ? { now: options.now } : {}),
    emit: (status) => events.emit('identity.changed', status),
    beforeForget: async (id) => {
      if (late.peer?.runningIdentity === id) await late.peer.leave('The identity was forgotten.');
    },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const running = new PeerService({
    identity,
    log: log.child({ component: 'peer' }),
    emit: (status) => events.emit('overlay.status', status),
    network: { ...options.network, ...(options.fetch?.tlsCa ? { tlsCa: options.fetch.tlsCa } : {}) },
    ...(options.sipPort ? { sipPort: options.sipPort } : {}),
    ...(options.joinTimeoutMs ? { joinTimeoutMs: options.joinTimeoutMs } : {}),
    now: () => now().getTime(),
  });
  late.peer = running;

  const handlers: Handlers = {
    'app.info': () => info,
    'settings.get': () => settings.get(),
    'settings.update': (patch) => settings.update(patch),
    ...identity.handlers,
    'overlay.status': () => running.status(),
    'overlay.join': () => running.join(),
    'overlay.leave': () => running.leave(),
  };
  const dispatcher = createDispatcher(handlers, log.child({ component: 'ipc' }));
  // Hooks run last-added first: the peer leaves before the renewal timer stops.
  shutdownHooks.add('identity renewal', () => identity.stop());
  shutdownHooks.add('overlay peer: handover and Leave', () => running.stop(), { timeoutMs: PEER_STOP_TIMEOUT_MS });
  identity.start();
  void running.start();

  let stopping: Promise<ShutdownOutcome[]> | undefined;
  const stop = (reason: string): Promise<ShutdownOutcome[]> => {
    if (!stopping) {
      events.emit('app.stopping', { reason });
      stopping = shutdownHooks.run(reason);
    }
    return stopping;
  };

  return { info, dispatcher, events, shutdownHooks, settings, peer: running, stop };
}

/**
 * A settings file we cannot read is moved aside (never deleted or overwritten) and the app starts with
 * defaults, so a hand-edited or damaged file cannot keep the softphone from starting.
 */
async function openSettings(options: BackendOptions, events: EventHub): Promise<SettingsService> {
  const storage = new SettingsFile(join(options.dataDir, 'settings.json'));
  const onChange = (next: Parameters<typeof events.emit<'settings.changed'>>[1]): void =>
    events.emit('settings.changed', next);
  try {
    return await SettingsService.open({ storage, onChange });
  } catch (error) {
    if (!(error instanceof SettingsFileCorruptError)) throw error;
    const stamp = (options.now ?? (() => new Date()))().toISOString().replace(/[:.]/g, '-');
    const aside = `${storage.path}.corrupt-${stamp}`;
    await rename(storage.path, aside);
    options.log.warn('settings file unreadable; moved aside and started with defaults', {
      error: error.message,
      movedTo: aside,
    });
    return SettingsService.open({ storage, onChange });
  }
}
