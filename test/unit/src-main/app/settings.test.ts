import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  SettingsFile,
  SettingsFileCorruptError,
  SettingsWriteError,
} from '../../../../src-main/app/settings/settings-file';
import { SettingsService } from '../../../../src-main/app/settings/settings-service';
import type { Settings } from '../../../../src-shared/model/settings';
import { tempDir } from '../../../support/fixtures';

let dir: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => (dir = await tempDir()));
afterEach(async () => dir.remove());

describe('SettingsFile', () => {
  it('reports nothing stored when the file does not exist, then round-trips', async () => {
    const file = new SettingsFile(join(dir.path, 'nested', 'settings.json'));
    expect(await file.load()).toBeUndefined();
    await file.save({ displayName: 'Alice', theme: 'dark' });
    expect(await file.load()).toEqual({ displayName: 'Alice', theme: 'dark' });
    expect((await readdir(join(dir.path, 'nested'))).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('refuses a file that is not JSON, naming the file, and leaves it untouched', async () => {
    const path = join(dir.path, 'settings.json');
    await writeFile(path, '{"version":1,');
    const error = await new SettingsFile(path).load().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SettingsFileCorruptError);
    expect((error as Error).message).toContain(path);
    expect(await readFile(path, 'utf8')).toBe('{"version":1,');
  });

  it('refuses a document that breaks the schema, naming the field', async () => {
    const path = join(dir.path, 'settings.json');
    await writeFile(path, JSON.stringify({ version: 1, settings: { displayName: 'A', theme: 'neon' } }));
    await expect(new SettingsFile(path).load()).rejects.toThrow(/settings\.theme/);
    await writeFile(path, JSON.stringify({ version: 2, settings: { displayName: 'A', theme: 'dark' } }));
    await expect(new SettingsFile(path).load()).rejects.toThrow(/version/);
  });

  it('reports a failed write with a typed error naming the file and leaves no temporary file', async () => {
    // A regular file where the settings folder should be makes every write fail, even for root.
    await writeFile(join(dir.path, 'not-a-dir'), 'x');
    const path = join(dir.path, 'not-a-dir', 'settings.json');
    const error = await new SettingsFile(path).save({ displayName: 'After', theme: 'dark' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SettingsWriteError);
    expect((error as Error).message).toContain(path);
    expect(await readdir(dir.path)).toEqual(['not-a-dir']);
  });
});

describe('SettingsService', () => {
  async function open(storage = new SettingsFile(join(dir.path, 'settings.json'))) {
    const changes: Settings[] = [];
    const service = await SettingsService.open({ storage, onChange: (s) => changes.push(s) });
    return { service, changes, storage };
  }

  it('starts from defaults, persists each update before announcing it', async () => {
    const { service, changes, storage } = await open();
    expect(service.get()).toEqual({ displayName: '', theme: 'system' });
    const next = await service.update({ displayName: 'Carol' });
    expect(next).toEqual({ displayName: 'Carol', theme: 'system' });
    expect(await storage.load()).toEqual(next);
    expect(changes).toEqual([next]);
    const reopened = await open(storage);
    expect(reopened.service.get()).toEqual(next);
  });

  it('applies concurrent updates one after another, none lost', async () => {
    const { service, changes } = await open();
    await Promise.all([service.update({ displayName: 'One' }), service.update({ theme: 'dark' })]);
    expect(service.get()).toEqual({ displayName: 'One', theme: 'dark' });
    expect(changes).toHaveLength(2);
  });

  it('rejects an invalid update and changes nothing, in memory or on disk', async () => {
    const { service, changes, storage } = await open();
    await service.update({ displayName: 'Dan' });
    await expect(service.update({ theme: 'neon' as never })).rejects.toThrow(/theme/);
    await expect(service.update({})).rejects.toThrow(/at least one field/);
    expect(service.get()).toEqual({ displayName: 'Dan', theme: 'system' });
    expect(await storage.load()).toEqual({ displayName: 'Dan', theme: 'system' });
    expect(changes).toHaveLength(1);
  });

  it('keeps the old settings when storing fails, and later updates still work', async () => {
    let fail = true;
    const saved: Settings[] = [];
    const storage = {
      load: async () => undefined,
      save: async (s: Settings) => {
        if (fail) throw new SettingsWriteError('/x', new Error('disk full'));
        saved.push(s);
      },
    };
    const { service, changes } = await open(storage as unknown as SettingsFile);
    await expect(service.update({ displayName: 'Eve' })).rejects.toBeInstanceOf(SettingsWriteError);
    expect(service.get().displayName).toBe('');
    expect(changes).toEqual([]);
    fail = false;
    await service.update({ displayName: 'Eve' });
    expect(saved).toEqual([{ displayName: 'Eve', theme: 'system' }]);
  });
});
