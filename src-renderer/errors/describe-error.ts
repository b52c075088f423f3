/**
 * Turns whatever a request threw into words for a person: a condition the backend names (a USER_ERROR_CODES
 * reason) gets its title and what to do next; a refused payload gets its schema messages (written for
 * people) without field paths; everything else a short sentence. Never a stack trace.
 */
import {
  BridgeClosedError,
  HandlerFailedError,
  InternalError,
  InvalidPayloadError,
  InvalidResponseError,
  IpcError,
  RequestTimeoutError,
} from '../../src-shared/ipc/errors';
import { USER_ERROR_ADVICE, USER_ERROR_CODES, type UserErrorCode } from '../../src-shared/model/user-errors';

export interface Problem {
  title: string;
  /** What to do next. */
  action?: string;
  /** Facts a person can use: the backend's sentence, or each refused field's message. */
  details: string[];
  /** The USER_ERROR_CODES code, when the backend named one. */
  code?: UserErrorCode;
}

export function isUserErrorCode(value: unknown): value is UserErrorCode {
  return typeof value === 'string' && (USER_ERROR_CODES as readonly string[]).includes(value);
}

export function userCodeOf(error: unknown): UserErrorCode | undefined {
  return error instanceof HandlerFailedError && isUserErrorCode(error.reason) ? error.reason : undefined;
}

/** The advice for a code; `message` is the backend's account of what happened, if any. */
export function problemForCode(code: UserErrorCode, message?: string): Problem {
  const advice = USER_ERROR_ADVICE[code];
  return { title: advice.title, action: advice.action, details: message ? [sentence(message)] : [], code };
}

export function describeError(error: unknown): Problem {
  const code = userCodeOf(error);
  if (code) return problemForCode(code, (error as Error).message);
  if (error instanceof InvalidPayloadError) {
    const details = [...new Set(error.issues.map((i) => sentence(i.message)))];
    return { title: 'Please check what you entered', details };
  }
  if (error instanceof HandlerFailedError)
    return { title: 'The backend refused the request', details: [sentence(error.message)] };
  if (error instanceof RequestTimeoutError) {
    return {
      title: 'The backend did not answer in time',
      action: 'Check that the softphone backend is still running, then try again.',
      details: [],
    };
  }
  if (error instanceof BridgeClosedError) {
    return { title: 'Not connected to the softphone backend', details: [sentence(error.message)] };
  }
  if (error instanceof InternalError || error instanceof InvalidResponseError) return problemForCode('internal');
  if (error instanceof IpcError) return { title: 'The request failed', details: [sentence(error.message)] };
  return problemForCode('internal');
}

/** One line for places that have room for a sentence only. */
export function personMessage(error: unknown): string {
  const p = describeError(error);
  return [p.title, ...p.details, p.action ?? ''].filter(Boolean).map(sentence).join(' ');
}

/** Schema and service messages start in lower case so they can be joined; shown alone they are sentences. */
function sentence(text: string): string {
  const t = text.trim();
  if (!t) return t;
  const first = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?…]$/.test(first) ? first : `${first}.`;
}
