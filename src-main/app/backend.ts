/**
 * The composition root of the main-process services. Electron's main process and the browser-mode host
 * both call `createBackend`; everything the renderer can reach goes through the returned dispatcher and
 * event hub. Later issues wire the RELOAD node, the SIP usage and the keychain in here.
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

export interface BackendOptions {
  dataDir: string;
  mode: RunMode;
  appName: string;
  appVersion: string;
  versions: AppInfo['versions'];
  log: Logger;
  /** Clock for naming set-aside files; injectable for tests. */
  now?: () => Date;
}

export interface Backend {
  readonly info: AppInfo;
  readonly dispatcher: Dispatcher;
  readonly events: EventHub;
  readonly shutdownHooks: ShutdownHooks;
  readonly settings: SettingsService;
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

  const handlers: Handlers = {
    'app.info': () => info,
    'settings.get': () => settings.get(),
    'settings.update': (patch) => settings.update(patch),
  };
  const dispatcher = createDispatcher(handlers, log.child({ component: 'ipc' }));

  let stopping: Promise<ShutdownOutcome[]> | undefined;
  const stop = (reason: string): Promise<ShutdownOutcome[]> => {
    if (!stopping) {
      events.emit('app.stopping', { reason });
      stopping = shutdownHooks.run(reason);
    }
    return stopping;
  };

  return { info, dispatcher, events, shutdownHooks, settings, stop };
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
