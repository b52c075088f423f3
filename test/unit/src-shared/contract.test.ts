import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { CHANNELS, EVENT_NAMES, events, isChannel, isEventName, requests } from '../../../src-shared/ipc/contract';
import {
  IPC_ERROR_CODES,
  InvalidPayloadError,
  IpcError,
  UnknownChannelError,
  ipcErrorFromPayload,
  issuesOf,
} from '../../../src-shared/ipc/errors';
import { ClientFrameSchema, ServerFrameSchema } from '../../../src-shared/ipc/envelope';
import { DISPLAY_NAME_MAX, SettingsPatchSchema, SettingsSchema } from '../../../src-shared/model/settings';
import { buildCsp } from '../../../src-shared/security/csp';

describe('IPC contract', () => {
  it('lists every request and event, and recognises only those names', () => {
    expect(CHANNELS).toEqual(Object.keys(requests));
    expect(EVENT_NAMES).toEqual(Object.keys(events));
    expect(isChannel('settings.get')).toBe(true);
    expect(isChannel('constructor')).toBe(false); // inherited Object keys are not channels
    expect(isChannel(42)).toBe(false);
    expect(isEventName('settings.changed')).toBe(true);
    expect(isEventName('toString')).toBe(false);
  });

  it('settings: trims display names and rejects control characters, long names and unknown keys', () => {
    expect(v.parse(SettingsSchema, { displayName: '  Alice ', theme: 'dark' })).toEqual({
      displayName: 'Alice',
      theme: 'dark',
    });
    const bad = [
      { displayName: 'a'.repeat(DISPLAY_NAME_MAX + 1), theme: 'dark' },
      { displayName: 'evil\r\nVia: x', theme: 'dark' },
      { displayName: 'ok', theme: 'purple' },
      { displayName: 'ok', theme: 'dark', extra: true },
    ];
    for (const input of bad) expect(v.safeParse(SettingsSchema, input).success).toBe(false);
  });

  it('a settings patch must change something and names the bad field', () => {
    expect(v.safeParse(SettingsPatchSchema, {}).success).toBe(false);
    const result = v.safeParse(SettingsPatchSchema, { theme: 'neon' });
    expect(result.success).toBe(false);
    if (!result.success) expect(issuesOf(result.issues)[0]?.path).toBe('theme');
  });

  it('bridge frames: request ids are non-negative integers; responses carry a result', () => {
    expect(v.safeParse(ClientFrameSchema, { type: 'request', id: 1, channel: 'x', payload: {} }).success).toBe(true);
    expect(v.safeParse(ClientFrameSchema, { type: 'request', id: -1, channel: 'x', payload: {} }).success).toBe(false);
    expect(v.safeParse(ClientFrameSchema, { type: 'request', id: 1.5, channel: 'x' }).success).toBe(false);
    expect(v.safeParse(ServerFrameSchema, { type: 'response', id: 3, result: { ok: true, value: 1 } }).success).toBe(
      true,
    );
    expect(v.safeParse(ServerFrameSchema, { type: 'response', id: 3, result: { ok: 'yes' } }).success).toBe(false);
  });
});

describe('typed IPC errors', () => {
  it('every error code maps to its own class and survives a payload round trip', () => {
    const classes = new Set<unknown>();
    for (const code of IPC_ERROR_CODES) {
      const error = ipcErrorFromPayload({ code, message: `m-${code}`, channel: 'c', reason: 'r' });
      expect(error).toBeInstanceOf(IpcError);
      expect(error.code).toBe(code);
      expect(error.name).not.toBe('IpcError');
      classes.add(error.constructor);
      expect(ipcErrorFromPayload(error.toPayload())).toEqual(error);
    }
    expect(classes.size).toBe(IPC_ERROR_CODES.length);
    expect(ipcErrorFromPayload({ code: 'unknown-channel', message: '' })).toBeInstanceOf(UnknownChannelError);
    expect(ipcErrorFromPayload({ code: 'invalid-payload', message: '' })).toBeInstanceOf(InvalidPayloadError);
  });
});

describe('Content-Security-Policy', () => {
  it('allows only our own scripts and styles in a build', () => {
    const csp = buildCsp();
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(csp).not.toContain('frame-ancestors'); // ignored (and warned about) in a meta tag
  });

  it('adds frame-ancestors only for headers, extra connect sources, and dev relaxations only in dev', () => {
    const header = buildCsp({ header: true, connect: ['ws://127.0.0.1:5000'] });
    expect(header).toContain("frame-ancestors 'none'");
    expect(header).toContain("connect-src 'self' ws://127.0.0.1:5000");
    expect(buildCsp({ dev: true })).toContain("style-src 'self' 'unsafe-inline'");
  });
});
