import { describe, expect, it } from 'vitest';
import { isOwnUrl } from '../../../../src-main/electron/own-url';

describe('isOwnUrl', () => {
  it.each([
    ['app://renderer/index.html', 'app://renderer/index.html', true],
    ['app://renderer/assets/x.js?v=1#y', 'app://renderer/index.html', true],
    ['http://localhost:5173/src/main.ts', 'http://localhost:5173/', true],
    ['app://other/index.html', 'app://renderer/index.html', false],
    ['app://renderer:81/index.html', 'app://renderer/index.html', false],
    ['app://user@renderer/index.html', 'app://renderer/index.html', false],
    ['app://user:pw@renderer/index.html', 'app://renderer/index.html', false],
    ['http://localhost:5174/', 'http://localhost:5173/', false],
    ['https://localhost:5173/', 'http://localhost:5173/', false],
    ['file:///index.html', 'file:///index.html', false], // no host: file:// is never "us"
    ['not a url', 'app://renderer/index.html', false],
    [undefined, 'app://renderer/index.html', false],
    [42, 'app://renderer/index.html', false],
  ])('%j against %j is %s', (url, renderer, own) => {
    expect(isOwnUrl(url, renderer)).toBe(own);
  });
});
