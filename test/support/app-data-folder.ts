/**
 * Looks through an app data folder for what must never be written there: a private key (any PEM "PRIVATE KEY",
 * encrypted or not: keys live in the OS keychain only; and, when the test knows the key, any form of it) and
 * the passwords a test typed. Every file, whatever its kind (JSON, SQLite, logs), is searched byte for byte.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { withoutLineBreaks, type PrivateKeyForms } from './app-private-key-forms';

/** Larger files are not the app's: a test data folder holds a few KB. */
const MAX_FILE_BYTES = 64 * 1024 * 1024;

export async function filesIn(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** "file: what" for every forbidden string found; [] when the folder is clean. */
export async function secretsInFolder(dir: string, secrets: string[], key?: PrivateKeyForms): Promise<string[]> {
  const needles = ['PRIVATE KEY', ...secrets].filter((s) => s.length > 0);
  const findings: string[] = [];
  for (const file of await filesIn(dir)) {
    const bytes = await readFile(file);
    if (bytes.length > MAX_FILE_BYTES) {
      findings.push(`${relative(dir, file)}: ${bytes.length} bytes, too large to be the app's`);
      continue;
    }
    for (const needle of needles) {
      // UTF-8 and UTF-16LE (SQLite may store text either way).
      if (bytes.includes(Buffer.from(needle, 'utf8')) || bytes.includes(Buffer.from(needle, 'utf16le')))
        findings.push(`${relative(dir, file)}: ${needle === 'PRIVATE KEY' ? 'a PEM private key' : 'a password'}`);
    }
    if (!key) continue;
    const text = withoutLineBreaks(bytes.toString('latin1'));
    if (key.bytes.some((b) => bytes.includes(b)) || key.texts.some((t) => text.includes(t)))
      findings.push(`${relative(dir, file)}: the private key`);
  }
  return findings;
}
