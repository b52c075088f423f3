import * as v from 'valibot';

/** User-editable preferences of the desktop app (not overlay configuration, not secrets). */
export const THEMES = ['system', 'light', 'dark'] as const;

export const DISPLAY_NAME_MAX = 64;

const displayName = v.pipe(
  v.string('Display name must be text'),
  v.trim(),
  v.maxLength(DISPLAY_NAME_MAX, `Display name must be at most ${DISPLAY_NAME_MAX} characters`),
  // Control characters would end up in SIP From headers and notifications.
  v.regex(/^[^\p{Cc}]*$/u, 'Display name must not contain control characters (line breaks, tabs)'),
);

const theme = v.picklist(THEMES, `Choose a theme: ${THEMES.join(', ')}`);

export const SettingsSchema = v.strictObject({
  displayName,
  theme,
});

/** A partial update; unknown keys are rejected rather than ignored. */
export const SettingsPatchSchema = v.pipe(
  v.strictObject({
    displayName: v.optional(displayName),
    theme: v.optional(theme),
  }),
  v.check((patch) => Object.keys(patch).length > 0, 'a settings update must change at least one field'),
);

export type Settings = v.InferOutput<typeof SettingsSchema>;
export type SettingsPatch = v.InferInput<typeof SettingsPatchSchema>;
export type Theme = (typeof THEMES)[number];

export const DEFAULT_SETTINGS: Settings = { displayName: '', theme: 'system' };
