/** The permission table itself, with the reason for each refusal (the handlers only say yes or no). */
import { describe, expect, it } from 'vitest';
import {
  judgePermissionCheck,
  judgePermissionRequest,
  type PermissionCheckFacts,
  type PermissionRequestFacts,
} from '../../../../src-main/electron/permission-policy';

const RENDERER = 'app://renderer/index.html';
const OWN = 'app://renderer/index.html';

const request = (facts: Partial<PermissionRequestFacts>) =>
  judgePermissionRequest(
    { permission: 'media', requestingUrl: OWN, pageUrl: OWN, isMainFrame: true, mediaTypes: ['audio'], ...facts },
    RENDERER,
  );

const check = (facts: Partial<PermissionCheckFacts>) =>
  judgePermissionCheck(
    { permission: 'media', requestingOrigin: 'app://renderer', isMainFrame: true, mediaType: 'audio', ...facts },
    RENDERER,
  );

describe('judgePermissionRequest', () => {
  it.each([
    [{}, 'granted'],
    [{ mediaTypes: ['video'] }, 'granted'],
    [{ mediaTypes: ['audio', 'video'] }, 'granted'],
    [{ permission: 'notifications' }, 'permission-not-granted'],
    [{ permission: 'display-capture', mediaTypes: ['video'] }, 'permission-not-granted'],
    [{ permission: 'clipboard-read' }, 'permission-not-granted'],
    [{ permission: 'MEDIA' }, 'permission-not-granted'],
    [{ permission: undefined }, 'permission-not-granted'],
    [{ requestingUrl: 'https://evil.example/' }, 'foreign-origin'],
    [{ requestingUrl: 'file:///index.html' }, 'foreign-origin'],
    [{ requestingUrl: 'data:text/html,x' }, 'foreign-origin'],
    [{ requestingUrl: 'about:blank' }, 'foreign-origin'],
    [{ requestingUrl: '' }, 'foreign-origin'],
    [{ requestingUrl: undefined }, 'foreign-origin'],
    [{ pageUrl: 'https://evil.example/' }, 'foreign-origin'],
    [{ isMainFrame: false }, 'not-main-frame'],
    [{ isMainFrame: undefined }, 'not-main-frame'],
    [{ mediaTypes: undefined }, 'media-type-not-granted'],
    [{ mediaTypes: [] }, 'media-type-not-granted'],
    [{ mediaTypes: 'audio' }, 'media-type-not-granted'],
    [{ mediaTypes: ['audio', 'video', 'screen'] }, 'media-type-not-granted'],
    [{ mediaTypes: ['unknown'] }, 'media-type-not-granted'],
    [{ mediaTypes: [null] }, 'media-type-not-granted'],
  ])('%j → %s', (facts, verdict) => {
    expect(request(facts as Partial<PermissionRequestFacts>)).toBe(verdict);
  });
});

describe('judgePermissionCheck', () => {
  it.each([
    [{}, 'granted'],
    [{ mediaType: 'video' }, 'granted'],
    [{ securityOrigin: 'app://renderer', requestingUrl: OWN, embeddingOrigin: '' }, 'granted'],
    [{ permission: 'notifications' }, 'permission-not-granted'],
    [{ permission: 'speaker-selection' }, 'permission-not-granted'],
    [{ requestingOrigin: 'https://evil.example' }, 'foreign-origin'],
    [{ requestingOrigin: 'file://' }, 'foreign-origin'],
    [{ requestingOrigin: 'null' }, 'foreign-origin'],
    [{ securityOrigin: 'https://evil.example' }, 'foreign-origin'],
    [{ requestingUrl: 'about:blank' }, 'foreign-origin'],
    [{ embeddingOrigin: 'https://evil.example' }, 'not-main-frame'],
    [{ isMainFrame: false }, 'not-main-frame'],
    [{ mediaType: 'unknown' }, 'media-type-not-granted'],
    [{ mediaType: undefined }, 'media-type-not-granted'],
  ])('%j → %s', (facts, verdict) => {
    expect(check(facts as Partial<PermissionCheckFacts>)).toBe(verdict);
  });
});
