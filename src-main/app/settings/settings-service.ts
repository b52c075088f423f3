import * as v from 'valibot';
import { SettingsPatchSchema, SettingsSchema, DEFAULT_SETTINGS } from '../../../src-shared/model/settings';
import type { Settings, SettingsPatch } from '../../../src-shared/model/settings';
import type { SettingsStorage } from './settings-file';

export interface SettingsServiceOptions {
  storage: SettingsStorage;
  onChange: (settings: Settings) => void;
}

/**
 * Holds the current settings; updates are applied one at a time, persisted before they become visible,
 * and announced through `onChange` once stored.
 */
export class SettingsService {
  private current: Settings = DEFAULT_SETTINGS;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly options: SettingsServiceOptions) {}

  static async open(options: SettingsServiceOptions): Promise<SettingsService> {
    const service = new SettingsService(options);
    service.current = (await options.storage.load()) ?? DEFAULT_SETTINGS;
    return service;
  }

  get(): Settings {
    return this.current;
  }

  /** Validates again here so that callers other than the IPC boundary get the same guarantees. */
  update(patch: SettingsPatch): Promise<Settings> {
    const run = async (): Promise<Settings> => {
      const valid = v.parse(SettingsPatchSchema, patch);
      const next = v.parse(SettingsSchema, { ...this.current, ...stripUndefined(valid) });
      await this.options.storage.save(next);
      this.current = next;
      this.options.onChange(next);
      return next;
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
