/** The link table with the reason for each refusal, and the question put to the user. */
import { describe, expect, it } from 'vitest';
import {
  externalLinkDialog,
  isOpenAnswer,
  judgeExternalLink,
  MAX_EXTERNAL_URL_LENGTH,
  OPEN_BUTTON,
} from '../../../../src-main/electron/external-links';

const RENDERER = 'app://renderer/index.html';
const judge = (url: unknown, opener: unknown = RENDERER) => judgeExternalLink(url, opener, RENDERER);

describe('judgeExternalLink', () => {
  it('asks about a plain https address, normalised', () => {
    expect(judge('https://Example.COM:443/a/../b?q=1#f')).toEqual({
      action: 'ask',
      url: 'https://example.com/b?q=1#f',
      host: 'example.com',
    });
    expect(judge('https://example.com:8443/')).toEqual({
      action: 'ask',
      url: 'https://example.com:8443/',
      host: 'example.com:8443',
    });
    expect(judge('https://b\u00fccher.example/')).toMatchObject({ host: 'xn--bcher-kva.example' });
  });

  it.each([
    ['https://example.com/', 'https://evil.example/', 'foreign-opener'],
    ['https://example.com/', 'devtools://devtools/bundled/index.html', 'foreign-opener'],
    ['https://example.com/', null, 'foreign-opener'],
    [undefined, RENDERER, 'not-a-string'],
    [`https://example.com/${'a'.repeat(MAX_EXTERNAL_URL_LENGTH)}`, RENDERER, 'too-long'],
    ['', RENDERER, 'not-a-url'],
    ['/relative', RENDERER, 'not-a-url'],
    ['https//example.com', RENDERER, 'not-a-url'],
    ['http://example.com/', RENDERER, 'not-https'],
    ['HTTP://example.com/', RENDERER, 'not-https'],
    ['file:///etc/passwd', RENDERER, 'not-https'],
    ['javascript:alert(1)', RENDERER, 'not-https'],
    ['data:text/html,x', RENDERER, 'not-https'],
    ['mailto:a@example.com', RENDERER, 'not-https'],
    ['sip:alice@example.com', RENDERER, 'not-https'],
    ['ms-settings:network', RENDERER, 'not-https'],
    ['app://renderer/index.html', RENDERER, 'not-https'],
    ['https://user@example.com/', RENDERER, 'credentials'],
    ['https://:pw@example.com/', RENDERER, 'credentials'],
    ['https://bank.example@evil.example/', RENDERER, 'credentials'],
  ])('%j from %j → %s', (url, opener, reason) => {
    expect(judge(url, opener)).toEqual({ action: 'deny', reason });
  });

  it('measures the length again after normalisation (punycode grows)', () => {
    const host = '\u00fc'.repeat(60);
    const path = 'a'.repeat(MAX_EXTERNAL_URL_LENGTH - `https://${host}.example/`.length);
    const raw = `https://${host}.example/${path}`;
    expect(raw.length).toBeLessThanOrEqual(MAX_EXTERNAL_URL_LENGTH);
    expect(judge(raw)).toEqual({ action: 'deny', reason: 'too-long' });
  });
});

describe('externalLinkDialog', () => {
  it('names the host in the question, shows the whole address, and defaults to cancel', () => {
    const options = externalLinkDialog({ url: 'https://example.com/x?y', host: 'example.com' });
    expect(options.message).toContain('example.com');
    expect(options.detail).toContain('https://example.com/x?y');
    expect(isOpenAnswer(options.defaultId)).toBe(false);
    expect(isOpenAnswer(options.cancelId)).toBe(false);
    expect(isOpenAnswer(options.buttons.indexOf(OPEN_BUTTON))).toBe(true);
    expect(isOpenAnswer(-1)).toBe(false);
    expect(isOpenAnswer('1')).toBe(false);
  });
});
