import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EventMessage } from '../../../../src-shared/ipc/envelope';
import { memoryLogger, tempDir, testBackend } from '../../../support/fixtures';

let dir: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => (dir = await tempDir()));
afterEach(async () => dir.remove());

describe('backend composition root', () => {
  it('serves app.info and settings through the dispatcher and pushes settings.changed', async () => {
    const backend = await testBackend(dir.path);
    const seen: EventMessage[] = [];
    backend.events.subscribe((m) => seen.push(m));
    expect(await backend.dispatcher.dispatch({ channel: 'app.info', payload: {} })).toMatchObject({
      ok: true,
      value: { name: 'Reload Softphone', mode: 'browser', dataDir: dir.path },
    });
    const updated = await backend.dispatcher.dispatch({ channel: 'settings.update', payload: { theme: 'dark' } });
    expect(updated).toEqual({ ok: true, value: { displayName: '', theme: 'dark' } });
    expect(seen).toEqual([{ event: 'settings.changed', payload: { displayName: '', theme: 'dark' } }]);
  });

  it('moves an unreadable settings file aside (content kept) and starts with defaults', async () => {
    const path = join(dir.path, 'settings.json');
    await writeFile(path, 'not json at all');
    const { log, lines } = memoryLogger();
    const backend = await testBackend(dir.path, log);
    expect(backend.settings.get()).toEqual({ displayName: '', theme: 'system' });
    const aside = (await readdir(dir.path)).filter((n) => n.startsWith('settings.json.corrupt-'));
    expect(aside).toHaveLength(1);
    expect(await readFile(join(dir.path, aside[0] as string), 'utf8')).toBe('not json at all');
    expect(lines.some((l) => l.level === 'warn' && String(l.msg).includes('moved aside'))).toBe(true);
  });

  it('stop() announces app.stopping before the hooks run, once', async () => {
    const backend = await testBackend(dir.path);
    const order: string[] = [];
    backend.events.subscribe((m) => order.push(`event:${m.event}`));
    backend.shutdownHooks.add('overlay', () => void order.push('hook:overlay'));
    const [first, second] = await Promise.all([backend.stop('test'), backend.stop('again')]);
    expect(first).toBe(second);
    expect(order).toEqual(['event:app.stopping', 'hook:overlay']);
  });
});
