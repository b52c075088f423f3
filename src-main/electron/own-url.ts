/**
 * "Is this one of our own renderer pages?" — the one question the IPC sender check, the permission policy
 * and the navigation rules all ask. No Electron import, so it is tested in plain Node.
 */

/**
 * Same scheme and host (with port) as the renderer URL, and no user name or password. Compared by parts:
 * Node's URL reports origin "null" for every non-special scheme (app:, file:), so origins would all match.
 */
export function isOwnUrl(url: unknown, rendererUrl: string): boolean {
  if (typeof url !== 'string') return false;
  try {
    const candidate = new URL(url);
    const own = new URL(rendererUrl);
    return (
      own.host !== '' &&
      candidate.protocol === own.protocol &&
      candidate.host === own.host &&
      candidate.username === '' &&
      candidate.password === ''
    );
  } catch {
    return false;
  }
}
