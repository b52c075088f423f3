/**
 * Which browser permissions the renderer gets: microphone and camera (`media`, audio and/or video), asked
 * by the main frame of our own page — and nothing else, for anyone. Notifications, clipboard, screen
 * capture, devices, fullscreen and the rest are denied: the app does not use them (docs/decisions.md).
 * Pure functions over the facts Electron hands its handlers, so window.ts stays a thin adapter and the
 * whole table is tested in Node. Inputs are typed `unknown` on purpose: nothing is trusted to be well formed.
 */
import { isOwnUrl } from './own-url';

export const GRANTED_PERMISSION = 'media';
export const GRANTED_MEDIA_TYPES: ReadonlySet<string> = new Set(['audio', 'video']);

/** Why a permission was refused, for the debug log; `granted` is the only yes. */
export type PermissionVerdict =
  'granted' | 'permission-not-granted' | 'foreign-origin' | 'not-main-frame' | 'media-type-not-granted';

/** What Electron's setPermissionRequestHandler tells us about one request. */
export interface PermissionRequestFacts {
  permission: unknown;
  /** details.requestingUrl: the frame that asks. */
  requestingUrl: unknown;
  /** webContents.getURL(): the page that frame lives in. */
  pageUrl: unknown;
  isMainFrame: unknown;
  /** details.mediaTypes, only present for `media` and `display-capture`. */
  mediaTypes: unknown;
}

export function judgePermissionRequest(facts: PermissionRequestFacts, rendererUrl: string): PermissionVerdict {
  if (facts.permission !== GRANTED_PERMISSION) return 'permission-not-granted';
  // Both must be ours: no falling back to the page URL when the frame's is missing.
  if (!isOwnUrl(facts.requestingUrl, rendererUrl) || !isOwnUrl(facts.pageUrl, rendererUrl)) return 'foreign-origin';
  // Our page has no frames (the CSP allows none), so a sub frame asking is never us.
  if (facts.isMainFrame !== true) return 'not-main-frame';
  // An empty or missing list says nothing about what would be captured: refuse rather than guess.
  const types = facts.mediaTypes;
  if (!Array.isArray(types) || types.length === 0) return 'media-type-not-granted';
  if (!types.every((type) => typeof type === 'string' && GRANTED_MEDIA_TYPES.has(type)))
    return 'media-type-not-granted';
  return 'granted';
}

/** What Electron's setPermissionCheckHandler tells us about one check (device labels, output devices). */
export interface PermissionCheckFacts {
  permission: unknown;
  requestingOrigin: unknown;
  /** Optional details: when present they must name us too. */
  securityOrigin?: unknown;
  requestingUrl?: unknown;
  /** Only set for cross-origin sub frames. */
  embeddingOrigin?: unknown;
  isMainFrame: unknown;
  mediaType: unknown;
}

export function judgePermissionCheck(facts: PermissionCheckFacts, rendererUrl: string): PermissionVerdict {
  if (facts.permission !== GRANTED_PERMISSION) return 'permission-not-granted';
  if (!isOwnUrl(facts.requestingOrigin, rendererUrl)) return 'foreign-origin';
  for (const optional of [facts.securityOrigin, facts.requestingUrl]) {
    if (optional !== undefined && !isOwnUrl(optional, rendererUrl)) return 'foreign-origin';
  }
  if ((facts.embeddingOrigin !== undefined && facts.embeddingOrigin !== '') || facts.isMainFrame !== true) {
    return 'not-main-frame';
  }
  if (typeof facts.mediaType !== 'string' || !GRANTED_MEDIA_TYPES.has(facts.mediaType)) return 'media-type-not-granted';
  return 'granted';
}
