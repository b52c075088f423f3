/**
 * Headless peers' identities for an overlay made with the operator CLI, issued by its CA (the CLI has no
 * command for them; the integration tests issue them the same way). Run as a child process so the browser
 * tests, typechecked with DOM types, import nothing of src-main:
 *   node --import tsx test/support/app-peer-identities.ts <overlay-dir> <count> <out-dir> <password>
 * Writes <out-dir>/peer<i>.identity (encrypted with <password>) and prints {"nodeIds": [...]} on stdout.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OverlayDir } from '../../src-main/host/overlay/overlay-dir';
import { exportIdentity, generateIdentityKeys, issueCertificate } from '../../src-main/reload/identity';
import { toHex } from '../../src-main/reload/wire';

export async function issuePeerIdentities(
  dir: string,
  count: number,
  outDir: string,
  password: string,
): Promise<string[]> {
  const overlay = await OverlayDir.open(dir);
  const name = overlay.settings.overlay;
  const nodeIds: string[] = [];
  for (let i = 0; i < count; i++) {
    const keys = await generateIdentityKeys('ecdsa');
    const nodeId = Uint8Array.from({ length: 16 }, () => Math.floor(Math.random() * 256));
    const { der } = await issueCertificate({
      ca: overlay.ca,
      publicKey: keys.webcrypto.publicKey,
      userName: `peer${i}@${name}`,
      nodeIds: [nodeId],
      overlay: name,
      validDays: 2,
    });
    await writeFile(join(outDir, `peer${i}.identity`), exportIdentity(keys.privateKey, [der], password), {
      mode: 0o600,
    });
    nodeIds.push(toHex(nodeId));
  }
  return nodeIds;
}

if (process.argv[1]?.endsWith('app-peer-identities.ts')) {
  const [dir, count, outDir, password] = process.argv.slice(2);
  const n = Number(count);
  if (!dir || !outDir || !password || !Number.isInteger(n) || n < 0 || n > 1000) {
    process.stderr.write('usage: app-peer-identities.ts <overlay-dir> <count 0..1000> <out-dir> <password>\n');
    process.exit(2);
  }
  issuePeerIdentities(dir, n, outDir, password).then(
    (nodeIds) => process.stdout.write(`${JSON.stringify({ nodeIds })}\n`),
    (error: unknown) => {
      process.stderr.write(`${(error as Error).message}\n`);
      process.exit(1);
    },
  );
}
