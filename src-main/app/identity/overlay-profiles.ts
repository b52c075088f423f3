/**
 * What this device remembers about the overlays it joined and the identities it holds, in the data folder
 * (public data only; keys are in the keychain):
 *
 *   <dataDir>/identity/profiles.json            overlays (name, source, accepted signer, users), active identity
 *   <dataDir>/identity/overlays/<name>.xml      each operator overlay's configuration document as accepted
 *   <dataDir>/identity/certificates/<name>/<user>.pem   (IdentityService)
 *
 * Every write goes to a temporary file that is synced and renamed over the old one. The file is input like
 * any other: read against a schema; one we cannot read is moved aside (never deleted) and we start afresh.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as v from 'valibot';
import { describeIssues, issuesOf } from '../../../src-shared/ipc/errors';
import { readFileBounded } from '../../common/bounded-read';
import type { Logger } from '../../common/logger';
import { checkOverlayDomain, MAX_CONFIG_BYTES, UserNameError } from '../../reload';

const FILE_VERSION = 1;
const MAX_PROFILES_BYTES = 1024 * 1024;

const overlayName = v.pipe(
  v.string(),
  v.check((name) => {
    try {
      checkOverlayDomain(name);
      return true;
    } catch (error) {
      if (error instanceof UserNameError) return false;
      throw error;
    }
  }, 'must be an overlay name'),
);
const userName = v.pipe(v.string(), v.minLength(3), v.maxLength(254));

export const OverlayProfileSchema = v.strictObject({
  name: overlayName,
  local: v.boolean(),
  /** An https URL, or "embedded" for the local overlay. */
  source: v.pipe(v.string(), v.maxLength(2048)),
  /** SHA-256 fingerprint of the configuration signer the user accepted (null for the local overlay). */
  signer: v.nullable(v.pipe(v.string(), v.maxLength(200))),
  /** Users of this overlay with a certificate on this device. */
  users: v.array(userName),
});
export type OverlayProfile = v.InferOutput<typeof OverlayProfileSchema>;

const ProfilesFileSchema = v.strictObject({
  version: v.literal(FILE_VERSION),
  active: v.nullable(v.strictObject({ overlay: overlayName, userName })),
  overlays: v.array(OverlayProfileSchema),
});
export type Profiles = v.InferOutput<typeof ProfilesFileSchema>;

export const emptyProfiles = (): Profiles => ({ version: FILE_VERSION, active: null, overlays: [] });

export class ProfileStore {
  readonly dir: string;
  private readonly file: string;

  constructor(
    dataDir: string,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.dir = join(dataDir, 'identity');
    this.file = join(this.dir, 'profiles.json');
  }

  get certificatesDir(): string {
    return join(this.dir, 'certificates');
  }

  async read(): Promise<Profiles> {
    let text: string;
    try {
      text = await readFileBounded(this.file, MAX_PROFILES_BYTES, this.file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyProfiles();
      return this.setAside(`unreadable: ${(error as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      return this.setAside(`not JSON: ${(error as Error).message}`);
    }
    const parsed = v.safeParse(ProfilesFileSchema, json);
    if (!parsed.success) return this.setAside(describeIssues(issuesOf(parsed.issues)));
    return parsed.output;
  }

  async write(profiles: Profiles): Promise<void> {
    await atomicWrite(this.file, `${JSON.stringify(v.parse(ProfilesFileSchema, profiles), null, 2)}\n`);
  }

  private documentPath(overlay: string): string {
    return join(this.dir, 'overlays', `${checkOverlayDomain(overlay)}.xml`);
  }

  async writeDocument(overlay: string, text: string): Promise<void> {
    await atomicWrite(this.documentPath(overlay), text);
  }

  /** The cached configuration document, or undefined when there is none. */
  async readDocument(overlay: string): Promise<string | undefined> {
    try {
      return await readFileBounded(this.documentPath(overlay), MAX_CONFIG_BYTES, 'configuration document');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  private async setAside(detail: string): Promise<Profiles> {
    const stamp = this.now().toISOString().replace(/[:.]/g, '-');
    const aside = `${this.file}.corrupt-${stamp}`;
    await rename(this.file, aside);
    this.log.warn('identity profiles file unreadable; moved aside, starting without profiles', {
      detail,
      movedTo: aside,
    });
    return emptyProfiles();
  }
}

/** Writes `text` to a synced temporary file, then renames it over `path`. */
export async function atomicWrite(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const file = await open(temporary, 'wx', 0o600);
  try {
    await file.writeFile(text, 'utf8');
    await file.sync();
  } catch (error) {
    await file.close();
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  await file.close();
  await rename(temporary, path);
}
