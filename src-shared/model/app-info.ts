import * as v from 'valibot';

/** Where the backend services run: inside Electron's main process, or a plain-Node host for browser mode. */
export const RUN_MODES = ['electron', 'browser'] as const;

export const AppInfoSchema = v.strictObject({
  name: v.string(),
  version: v.string(),
  mode: v.picklist(RUN_MODES),
  platform: v.string(),
  versions: v.strictObject({
    node: v.string(),
    electron: v.nullable(v.string()),
    chrome: v.nullable(v.string()),
  }),
  dataDir: v.string(),
});

export type AppInfo = v.InferOutput<typeof AppInfoSchema>;
export type RunMode = (typeof RUN_MODES)[number];
