/**
 * Opening an identity file someone named (the headless peer's `--identity FILE`): read and decrypted, and
 * when its encryption is below today's cost (files written before PBKDF2 went to 600,000 iterations),
 * written again in the current format with the same passphrase. The rewrite is atomic: the new text is
 * checked to decrypt to the same key, written to FILE.new (mode 0600, created exclusively, synced), then
 * renamed over FILE. If any step fails, FILE is untouched, the identity is still returned and the failure
 * is reported in `rewriteError`.
 */
import { open, rename, rm } from 'node:fs/promises';
import { readFileBounded } from '../../common/bounded-read';
import { exportIdentity, IdentityFileError, importIdentity, type ImportedIdentity } from '../../reload';

export interface OpenedIdentityFile extends ImportedIdentity {
  /** The file now holds the current format (it was outdated and the rewrite succeeded). */
  rewritten: boolean;
  /** Why an outdated file could not be rewritten (it is left as it was). */
  rewriteError?: Error;
}

/** An identity file holds one encrypted key and a short chain: a few KB. Anything far larger is not one. */
export const MAX_IDENTITY_FILE_BYTES = 256 * 1024;

export async function openIdentityFile(path: string, passphrase: string): Promise<OpenedIdentityFile> {
  let text: string;
  try {
    text = await readFileBounded(path, MAX_IDENTITY_FILE_BYTES, path);
  } catch (error) {
    throw new IdentityFileError(
      'unreadable',
      `${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  const identity = importIdentity(text, passphrase);
  if (!identity.outdated) return { ...identity, rewritten: false };
  try {
    await rewrite(path, identity, passphrase);
    return { ...identity, rewritten: true };
  } catch (error) {
    return { ...identity, rewritten: false, rewriteError: error as Error };
  }
}

async function rewrite(path: string, identity: ImportedIdentity, passphrase: string): Promise<void> {
  const text = exportIdentity(identity.privateKey, identity.chain, passphrase);
  const check = importIdentity(text, passphrase);
  const der = (k: ImportedIdentity) => k.privateKey.export({ format: 'der', type: 'pkcs8' });
  if (!der(check).equals(der(identity)) || check.outdated)
    throw new Error('the re-encrypted identity does not read back as the same key');
  const temporary = `${path}.new`;
  await rm(temporary, { force: true }); // a leftover of an interrupted rewrite (a directory there makes this fail)
  const file = await open(temporary, 'wx', 0o600); // exclusive: never follows a link planted there
  try {
    await file.writeFile(text, 'utf8');
    await file.sync();
  } catch (error) {
    await file.close();
    await rm(temporary, { force: true });
    throw error;
  }
  await file.close();
  await rename(temporary, path);
}
