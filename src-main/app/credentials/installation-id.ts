/**
 * The installation id: a random UUID created once per data folder (`<dataDir>/installation-id`). Every
 * keychain account of this installation starts with it (namespaced-store.ts), so two backends on one machine
 * with different data folders (two browser-mode instances, a test run beside the real app) never read,
 * overwrite or delete each other's keys although they share the OS keychain and its service name.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { link, mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { InputTooLargeError, readFileBounded } from '../../common/bounded-read';
import { ServiceError } from '../../common/service-error';

export const INSTALLATION_ID_FILE = 'installation-id';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The file exists but does not hold an id. It is never replaced: a new id would orphan every keychain entry
 * made under the old one, so the person (or an operator) has to look at it.
 */
export class InstallationIdInvalidError extends ServiceError {
  readonly reason = 'installation-id-invalid';
  constructor(readonly path: string) {
    super(
      `${path} does not hold an installation id (a UUID on one line); it names this installation's keychain ` +
        'entries, so it is not replaced: restore it, or delete it to start without the keys stored so far',
    );
  }
}

/** The data folder's installation id, created (exclusively, so concurrent starts agree) if there is none. */
export async function installationId(dataDir: string): Promise<string> {
  const path = join(dataDir, INSTALLATION_ID_FILE);
  const existing = await readId(path);
  if (existing !== undefined) return existing;
  await mkdir(dataDir, { recursive: true });
  // Written whole to a private file first, then linked into place: link() fails if the name exists, so the
  // first of several concurrent starts wins and nobody ever reads a half-written id.
  const id = randomUUID();
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const file = await open(temporary, 'wx', 0o600);
  try {
    await file.writeFile(`${id}\n`, 'utf8');
    await file.sync();
  } finally {
    await file.close();
  }
  try {
    await link(temporary, path);
    return id;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const theirs = await readId(path);
    if (theirs === undefined) throw error;
    return theirs;
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

async function readId(path: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFileBounded(path, 1024, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (error instanceof InputTooLargeError) throw new InstallationIdInvalidError(path);
    throw error;
  }
  const id = text.trim();
  if (!UUID.test(id)) throw new InstallationIdInvalidError(path);
  return id;
}
