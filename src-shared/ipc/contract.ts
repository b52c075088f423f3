/**
 * The one IPC contract between the renderer and the main-process services.
 *
 * Every request (renderer -> main, answered once) and every event (main -> renderer, pushed) is declared
 * here with a runtime schema. Both bridges (Electron preload and the browser-mode WebSocket) carry exactly
 * these channels; the main side validates requests, the renderer validates responses and events.
 */
import * as v from 'valibot';
import { AppInfoSchema } from '../model/app-info';
import { SettingsPatchSchema, SettingsSchema } from '../model/settings';

/** A request that takes no arguments still sends `{}`, so every payload is a JSON object. */
const NoArguments = v.strictObject({});

export const requests = {
  /** Name, version and runtime of the backend the renderer is talking to. */
  'app.info': { request: NoArguments, response: AppInfoSchema },
  'settings.get': { request: NoArguments, response: SettingsSchema },
  /** Apply a partial update; answers the full new settings and pushes `settings.changed` to every window. */
  'settings.update': { request: SettingsPatchSchema, response: SettingsSchema },
} as const;

export const events = {
  /** The settings changed (from any window or tab). */
  'settings.changed': SettingsSchema,
  /** The backend is shutting down (app quit, SIGTERM); the renderer should stop issuing requests. */
  'app.stopping': v.strictObject({ reason: v.string() }),
} as const;

type Requests = typeof requests;
type Events = typeof events;

export type Channel = keyof Requests;
export type EventName = keyof Events;
/** What the caller passes (schema input). */
export type RequestOf<C extends Channel> = v.InferInput<Requests[C]['request']>;
/** What a handler receives after validation (schema output). */
export type ValidRequestOf<C extends Channel> = v.InferOutput<Requests[C]['request']>;
export type ResponseOf<C extends Channel> = v.InferOutput<Requests[C]['response']>;
export type EventOf<E extends EventName> = v.InferOutput<Events[E]>;

export const CHANNELS = Object.keys(requests) as Channel[];
export const EVENT_NAMES = Object.keys(events) as EventName[];

export function isChannel(name: unknown): name is Channel {
  return typeof name === 'string' && Object.hasOwn(requests, name);
}

export function isEventName(name: unknown): name is EventName {
  return typeof name === 'string' && Object.hasOwn(events, name);
}
