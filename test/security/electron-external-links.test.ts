/**
 * Issue 10, item 12: a page that calls window.open or navigates to a web address must not send the user's
 * browser anywhere without the user seeing the address and saying yes; anything that is not a plain https
 * address is denied outright. The handlers run on a recording stand-in for Electron (the binary cannot run
 * here); the dialog answers what each test tells it to.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { recordingWebContents } from '../support/electron-stubs';

const openExternal = vi.fn((_url: string) => Promise.resolve());
const showMessageBox = vi.fn();
const owner = { id: 'main window' };

vi.mock('electron', () => ({
  BrowserWindow: { fromWebContents: () => owner },
  shell: { openExternal },
  dialog: { showMessageBox },
}));

const { hardenWebContents } = await import('../../src-main/electron/window');

const RENDERER = 'app://renderer/index.html';

interface DialogOptions {
  message: string;
  detail?: string;
  buttons: string[];
  defaultId?: number;
  cancelId?: number;
}

/** Makes the next dialog wait until the test answers it with a button label, or with its cancel action. */
function nextDialog(): { shown: () => DialogOptions; answer: (label: string | 'cancel') => void } {
  let answer: ((label: string) => void) | undefined;
  let options: DialogOptions | undefined;
  showMessageBox.mockImplementationOnce((...args: unknown[]) => {
    const shown = args[args.length - 1] as DialogOptions;
    options = shown;
    return new Promise((resolve) => {
      answer = (label) =>
        resolve({ response: label === 'cancel' ? (shown.cancelId ?? 0) : shown.buttons.indexOf(label) });
    });
  });
  return {
    shown: () => {
      expect(options, 'no confirmation dialog was shown').toBeDefined();
      return options!;
    },
    answer: (label) => answer!(label),
  };
}

const openButton = (options: DialogOptions): string => options.buttons.find((b) => /open/i.test(b)) ?? '(none)';

function harden(pageUrl = RENDERER) {
  const { contents, open, navigate } = recordingWebContents(pageUrl);
  hardenWebContents(contents as never, RENDERER);
  return { open, navigate: (url: string) => navigate('will-navigate', url) };
}

/** Lets the handler's promise chain (dialog, then openExternal) run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

/** The page can ask again: a dialog shows for a new address, and cancelling it opens nothing. */
async function expectAsksAgain(page: ReturnType<typeof harden>): Promise<void> {
  const dialog = nextDialog();
  page.open('https://two.example/');
  await settle();
  expect(dialog.shown().message).toContain('two.example');
  dialog.answer('cancel');
  await settle();
  expect(openExternal).not.toHaveBeenCalled();
}

beforeEach(() => {
  openExternal.mockClear();
  showMessageBox.mockReset();
});

describe('window.open of an https address', () => {
  it('opens nothing before the user confirms, and shows the host and the whole address', async () => {
    const dialog = nextDialog();
    const page = harden();
    expect(page.open('https://docs.example.org/help?topic=nat#top')).toEqual({ action: 'deny' });
    await settle();
    expect(openExternal).not.toHaveBeenCalled();
    const options = dialog.shown();
    // Modal to our window, so it cannot be lost behind it or answered by a stray click elsewhere.
    expect(showMessageBox.mock.calls[0]?.[0]).toBe(owner);
    expect(options.message).toContain('docs.example.org');
    expect(options.detail).toContain('https://docs.example.org/help?topic=nat#top');
    // Enter or Escape must not open anything.
    expect(options.buttons[options.defaultId ?? 0]).toMatch(/cancel/i);
    expect(options.cancelId).toBe(options.defaultId);
    dialog.answer(openButton(options));
    await settle();
    expect(openExternal).toHaveBeenCalledExactlyOnceWith('https://docs.example.org/help?topic=nat#top');
  });

  it('opens nothing when the user cancels', async () => {
    const dialog = nextDialog();
    harden().open('https://example.com/');
    await settle();
    dialog.shown();
    dialog.answer('cancel');
    await settle();
    expect(openExternal).not.toHaveBeenCalled();
  });

  it('shows and opens an international host in its ASCII (punycode) form, so look-alikes show', async () => {
    const dialog = nextDialog();
    // "exаmple.com" with a Cyrillic а.
    harden().open('https://ex\u0430mple.com/login');
    await settle();
    const options = dialog.shown();
    expect(options.message).toContain('xn--exmple-4nf.com');
    expect(options.message).not.toContain('ex\u0430mple');
    dialog.answer(openButton(options));
    await settle();
    expect(openExternal).toHaveBeenCalledExactlyOnceWith('https://xn--exmple-4nf.com/login');
  });

  it('asks one question at a time: a page cannot stack dialogs', async () => {
    const first = nextDialog();
    const page = harden();
    page.open('https://one.example/');
    await settle();
    first.shown();
    for (let i = 0; i < 20; i++) expect(page.open(`https://spam${i}.example/`)).toEqual({ action: 'deny' });
    expect(page.navigate('https://spam.example/')).toBe(true);
    await settle();
    expect(showMessageBox).toHaveBeenCalledTimes(1);
    first.answer('cancel');
    await settle();
    await expectAsksAgain(page);
  });
});

describe('a dialog that fails', () => {
  it('does not leave the page locked out of asking again', async () => {
    showMessageBox.mockImplementationOnce(() => {
      throw new Error('no display');
    });
    const page = harden();
    expect(page.open('https://one.example/')).toEqual({ action: 'deny' });
    await settle();
    await expectAsksAgain(page);
  });
});

describe('navigation of the window to an https address', () => {
  it('is stopped, and offered to the system browser like window.open', async () => {
    const dialog = nextDialog();
    expect(harden().navigate('https://example.com/news')).toBe(true);
    await settle();
    const options = dialog.shown();
    expect(options.message).toContain('example.com');
    dialog.answer(openButton(options));
    await settle();
    expect(openExternal).toHaveBeenCalledExactlyOnceWith('https://example.com/news');
  });

  it('within our own page goes ahead without a question', async () => {
    expect(harden().navigate('app://renderer/index.html#/settings')).toBe(false);
    await settle();
    expect(showMessageBox).not.toHaveBeenCalled();
  });
});

describe('everything else is denied without a question', () => {
  it.each([
    ['user name and password in the address', 'https://user:secret@example.com/'],
    ['a user name that looks like the host', 'https://bank.example.com@evil.example/'],
    ['http', 'http://example.com/'],
    ['file', 'file:///etc/passwd'],
    ['a Windows share', 'file://attacker.example/share/payload.exe'],
    ['smb', 'smb://attacker.example/share'],
    ['javascript', 'javascript:alert(1)'],
    ['data', 'data:text/html,<h1>hi</h1>'],
    ['blob', 'blob:app://renderer/5f1c3e9a-0000-4000-8000-000000000000'],
    ['about', 'about:blank'],
    ['mailto', 'mailto:someone@example.com'],
    ['sip', 'sip:alice@example.com'],
    ['tel', 'tel:+15551234567'],
    ['an OS settings scheme', 'ms-settings:network'],
    ['a custom app scheme', 'vscode://file/etc/passwd'],
    ['ftp', 'ftp://example.com/'],
    ['a relative address', '/help'],
    ['no address', ''],
    ['not an address', 'https//example.com'],
    ['an address longer than 2048 characters', `https://example.com/${'a'.repeat(2048)}`],
  ])('%s', async (_name, url) => {
    const page = harden();
    expect(page.open(url)).toEqual({ action: 'deny' });
    expect(page.navigate(url)).toBe(true);
    await settle();
    expect(showMessageBox).not.toHaveBeenCalled();
    expect(openExternal).not.toHaveBeenCalled();
  });

  it('a page that is not ours cannot ask at all', async () => {
    for (const pageUrl of ['https://evil.example/', 'devtools://devtools/bundled/index.html', 'about:blank']) {
      expect(harden(pageUrl).open('https://example.com/')).toEqual({ action: 'deny' });
    }
    await settle();
    expect(showMessageBox).not.toHaveBeenCalled();
    expect(openExternal).not.toHaveBeenCalled();
  });
});
