/**
 * What happens when our page opens or navigates to an address that is not our own: only a plain https
 * address without credentials is offered to the system browser, and only after the user has read its host
 * and said yes (window.ts shows the question). Everything else is denied. Pure, tested in plain Node.
 */
import { isOwnUrl } from './own-url';

/** Longer addresses are refused: nobody reads them in a dialog, and they are a classic smuggling vehicle. */
export const MAX_EXTERNAL_URL_LENGTH = 2048;

export type ExternalLinkRefusal =
  /** The asking page is not our renderer (devtools, a page that got in somehow). */
  | 'foreign-opener'
  | 'not-a-string'
  | 'too-long'
  | 'not-a-url'
  /** http, file, smb, javascript, data, mailto, custom app schemes… the OS would hand them to anything. */
  | 'not-https'
  /** https://bank.example@evil.example/ reads as the bank and goes to evil.example. */
  | 'credentials';

export type ExternalLinkDecision =
  /** `url` is the parsed, normalised address (IDN hosts in punycode), the only thing ever opened. */
  { action: 'ask'; url: string; host: string } | { action: 'deny'; reason: ExternalLinkRefusal };

export function judgeExternalLink(url: unknown, openerUrl: unknown, rendererUrl: string): ExternalLinkDecision {
  if (!isOwnUrl(openerUrl, rendererUrl)) return { action: 'deny', reason: 'foreign-opener' };
  if (typeof url !== 'string') return { action: 'deny', reason: 'not-a-string' };
  if (url.length > MAX_EXTERNAL_URL_LENGTH) return { action: 'deny', reason: 'too-long' };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { action: 'deny', reason: 'not-a-url' };
  }
  if (parsed.protocol !== 'https:') return { action: 'deny', reason: 'not-https' };
  if (parsed.username !== '' || parsed.password !== '') return { action: 'deny', reason: 'credentials' };
  // Punycode can make the normalised form longer than what was checked above.
  if (parsed.href.length > MAX_EXTERNAL_URL_LENGTH) return { action: 'deny', reason: 'too-long' };
  return { action: 'ask', url: parsed.href, host: parsed.host };
}

export const CANCEL_BUTTON = 'Cancel';
export const OPEN_BUTTON = 'Open in browser';
// Cancel first: Enter (default) and Escape (cancel) both land on it, so opening takes a deliberate click.
const BUTTONS = [CANCEL_BUTTON, OPEN_BUTTON] as const;

/** The subset of Electron's MessageBoxOptions we set; structurally compatible with it. */
export interface ExternalLinkDialog {
  type: 'question';
  title: string;
  message: string;
  detail: string;
  buttons: string[];
  defaultId: number;
  cancelId: number;
  noLink: boolean;
}

/** The question: the host up front (in ASCII, so look-alike letters show), the whole address below. */
export function externalLinkDialog(link: { url: string; host: string }): ExternalLinkDialog {
  return {
    type: 'question',
    title: 'Open a web page',
    message: `Open ${link.host} in your web browser?`,
    detail: `The app asks to open this address:\n\n${link.url}\n\nOpen it only if you expected to.`,
    buttons: [...BUTTONS],
    defaultId: BUTTONS.indexOf(CANCEL_BUTTON),
    cancelId: BUTTONS.indexOf(CANCEL_BUTTON),
    noLink: true,
  };
}

/** True only for the index of the open button in `externalLinkDialog`'s buttons. */
export function isOpenAnswer(response: unknown): boolean {
  return response === BUTTONS.indexOf(OPEN_BUTTON);
}
