/**
 * Settings persisted as one small JSON document. Writes go to a temporary file that is fsynced and then
 * renamed over the old one, so a crash or a full disk never leaves half a file behind.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as v from 'valibot';
import { describeIssues, issuesOf } from '../../../src-shared/ipc/errors';
import { SettingsSchema, type Settings } from '../../../src-shared/model/settings';
import { ServiceError } from '../../common/service-error';

const FILE_VERSION = 1;

const SettingsFileSchema = v.strictObject({
  version: v.literal(FILE_VERSION),
  settings: SettingsSchema,
});

/** The file exists but is not a settings document we can read; it is left untouched. */
export class SettingsFileCorruptError extends ServiceError {
  readonly reason = 'settings-file-corrupt';
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`settings file ${path} is not valid: ${detail}`);
  }
}

/** The new settings could not be written; the previous file and in-memory settings are unchanged. */
export class SettingsWriteError extends ServiceError {
  readonly reason = 'settings-write-failed';
  constructor(
    readonly path: string,
    cause: unknown,
  ) {
    super(`could not write settings to ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
  }
}

export interface SettingsStorage {
  /** Undefined when nothing was stored yet. */
  load(): Promise<Settings | undefined>;
  save(settings: Settings): Promise<void>;
}

export class SettingsFile implements SettingsStorage {
  constructor(readonly path: string) {}

  async load(): Promise<Settings | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new SettingsFileCorruptError(this.path, `not JSON (${(error as Error).message})`);
    }
    const parsed = v.safeParse(SettingsFileSchema, json);
    if (!parsed.success) throw new SettingsFileCorruptError(this.path, describeIssues(issuesOf(parsed.issues)));
    return parsed.output.settings;
  }

  async save(settings: Settings): Promise<void> {
    const tmp = `${this.path}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await mkdir(dirname(this.path), { recursive: true });
      const handle = await open(tmp, 'wx', 0o600);
      try {
        await handle.writeFile(JSON.stringify({ version: FILE_VERSION, settings }, null, 2) + '\n');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, this.path);
    } catch (error) {
      await unlink(tmp).catch(() => undefined);
      throw new SettingsWriteError(this.path, error);
    }
  }
}
