/** electron-builder.yml is checked with electron-builder's own schema validation, plus what we rely on. */
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { APP_ID } from '../../src-main/app/app-identity';

const require = createRequire(import.meta.url);
const { validateConfiguration } = require('app-builder-lib/out/util/config/config') as {
  validateConfiguration: (config: unknown, logger: unknown) => Promise<void>;
};
const { DebugLogger } = require('builder-util') as { DebugLogger: new (enabled: boolean) => unknown };
// The code electron-builder runs to turn `electronFuses` into the fuse wire it flips in the binary.
const { PlatformPackager } = require('app-builder-lib') as {
  PlatformPackager: { prototype: { generateFuseConfig: (fuses: unknown) => Promise<Record<string, unknown>> } };
};
// Resolved from app-builder-lib, whose dependency it is, so the test does not rely on npm's hoisting.
const { FuseV1Options } = createRequire(require.resolve('app-builder-lib'))('@electron/fuses') as {
  FuseV1Options: Record<string, number | string>;
};

const root = new URL('../../', import.meta.url);
const config = parse(await readFile(new URL('electron-builder.yml', root), 'utf8')) as Record<string, any>;

describe('electron-builder.yml', () => {
  it("passes electron-builder's configuration validation", async () => {
    await expect(validateConfiguration(config, new DebugLogger(false))).resolves.toBeUndefined();
  });

  it('the validation used above does reject a broken configuration', async () => {
    // A misspelt key (protocol for protocols) would silently drop the click-to-call registration.
    const misspelt = { ...config, protocol: config.protocols };
    await expect(validateConfiguration(misspelt, new DebugLogger(false))).rejects.toThrow(/protocol/);
  });

  it('targets AppImage+deb, dmg and nsis, with our icon and app id', async () => {
    expect(config.appId).toBe(APP_ID);
    expect(config.linux.target).toEqual(['AppImage', 'deb']);
    expect(config.mac.target).toEqual(['dmg']);
    expect(config.win.target).toEqual(['nsis']);
    for (const platform of ['linux', 'mac', 'win']) expect(config[platform].icon).toBe('assets/icon.png');
    // electron-builder derives .icns/.ico from one PNG of at least 512x512.
    const png = await readFile(new URL('assets/icon.png', root));
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.readUInt32BE(16)).toBeGreaterThanOrEqual(512);
    expect(png.readUInt32BE(20)).toBeGreaterThanOrEqual(512);
  });

  it('registers sip:, sips: and tel: as protocol handlers, also as Linux MIME handlers', () => {
    const schemes = (config.protocols as { schemes: string[] }[]).flatMap((p) => p.schemes);
    expect(schemes.sort()).toEqual(['sip', 'sips', 'tel']);
    expect(config.linux.mimeTypes).toEqual(schemes.sort().map((s) => `x-scheme-handler/${s}`));
  });

  it('unpacks native modules from the asar archive and ships the built output', async () => {
    expect(config.asarUnpack).toContain('**/*.node');
    expect(config.files).toContain('out/**');
    const pkg = JSON.parse(await readFile(new URL('package.json', root), 'utf8')) as { main: string };
    expect(pkg.main).toBe('out/main/index.js');
    await expect(stat(new URL('electron.vite.config.ts', root))).resolves.toBeTruthy();
  });

  it('packs the app into an asar archive, with integrity data, on every platform', () => {
    // onlyLoadAppFromAsar and the integrity fuse below only mean something if there is an archive.
    expect(config.asar).toBe(true);
    for (const platform of ['linux', 'mac', 'win', 'deb', 'nsis']) expect(config[platform]?.asar).toBeUndefined();
    expect(config.disableAsarIntegrity).toBeUndefined();
  });

  it('flips every Electron fuse, to the hardened value', async () => {
    const expected: Record<string, boolean> = {
      // ELECTRON_RUN_AS_NODE would turn the signed binary into a plain Node interpreter.
      RunAsNode: false,
      EnableCookieEncryption: true,
      // NODE_OPTIONS / NODE_EXTRA_CA_CERTS and --inspect / SIGUSR1 would inject code or a debugger.
      EnableNodeOptionsEnvironmentVariable: false,
      EnableNodeCliInspectArguments: false,
      EnableEmbeddedAsarIntegrityValidation: true,
      OnlyLoadAppFromAsar: true,
      LoadBrowserProcessSpecificV8Snapshot: false,
      // The renderer is served from app://, so file:// needs no powers beyond a browser's.
      GrantFileProtocolExtraPrivileges: false,
    };
    const fuses = config.electronFuses as Record<string, unknown> | undefined;
    expect(fuses, 'electronFuses in electron-builder.yml').toBeDefined();
    const wire = await PlatformPackager.prototype.generateFuseConfig.call(undefined, fuses);
    // Every fuse this @electron/fuses knows is set explicitly: a new one fails here until decided.
    const names = Object.keys(FuseV1Options).filter((key) => Number.isNaN(Number(key)));
    expect(names.sort()).toEqual(Object.keys(expected).sort());
    for (const name of names) expect(wire[String(FuseV1Options[name])], name).toBe(expected[name]);
  });
});
