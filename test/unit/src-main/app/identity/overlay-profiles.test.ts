/** The profiles file is input like any other: a bad one is moved aside, never overwritten or trusted. */
import { readFile, readdir, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { emptyProfiles, ProfileStore } from '../../../../../src-main/app/identity/overlay-profiles';
import { memoryLogger, tempDir } from '../../../../support/fixtures';

let dir: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  dir = await tempDir('profiles-');
});
afterEach(async () => {
  await dir.remove();
});

const profile = {
  name: 'o.example',
  local: false,
  source: 'https://o.example/.well-known/reload-config',
  signer: 'AB:CD',
  users: ['alice@o.example'],
};

describe('ProfileStore', () => {
  it('starts empty and reads back what it wrote, leaving no temporary files', async () => {
    const store = new ProfileStore(dir.path, memoryLogger().log);
    expect(await store.read()).toEqual(emptyProfiles());
    const written = {
      ...emptyProfiles(),
      overlays: [profile],
      active: { overlay: 'o.example', userName: 'alice@o.example' },
    };
    await store.write(written);
    await store.writeDocument('o.example', '<overlay/>');
    expect(await new ProfileStore(dir.path, memoryLogger().log).read()).toEqual(written);
    expect(await store.readDocument('o.example')).toBe('<overlay/>');
    expect(await store.readDocument('other.example')).toBeUndefined();
    expect((await readdir(join(dir.path, 'identity'), { recursive: true })).filter((f) => f.endsWith('.tmp'))).toEqual(
      [],
    );
  });

  it.each([
    ['not JSON', '{'],
    [
      'a path as an overlay name',
      JSON.stringify({ version: 1, active: null, overlays: [{ ...profile, name: '../x' }] }),
    ],
    ['an unknown field', JSON.stringify({ version: 1, active: null, overlays: [], extra: 1 })],
    ['another version', JSON.stringify({ version: 2, active: null, overlays: [] })],
  ])('moves aside a file with %s and starts empty', async (_what, text) => {
    await mkdir(join(dir.path, 'identity'), { recursive: true });
    await writeFile(join(dir.path, 'identity', 'profiles.json'), text);
    const logger = memoryLogger();
    expect(await new ProfileStore(dir.path, logger.log).read()).toEqual(emptyProfiles());
    const aside = (await readdir(join(dir.path, 'identity'))).filter((f) => f.startsWith('profiles.json.corrupt-'));
    expect(aside).toHaveLength(1);
    expect(await readFile(join(dir.path, 'identity', aside[0]!), 'utf8')).toBe(text);
    expect(logger.lines.some((l) => l.level === 'warn')).toBe(true);
  });

  it('refuses to write or read a document under a name that is not an overlay name', async () => {
    const store = new ProfileStore(dir.path, memoryLogger().log);
    await expect(store.writeDocument('../../evil', 'x')).rejects.toThrow();
    await expect(store.write({ ...emptyProfiles(), overlays: [{ ...profile, name: 'a/b' }] })).rejects.toThrow();
  });
});
