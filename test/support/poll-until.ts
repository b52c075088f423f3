/**
 * Polls `probe` every 100 ms until it returns a value (not undefined) and returns that value, or throws after `ms`
 * naming `what`. For tests that wait on real processes and sockets: every wait bounded.
 */
export async function pollUntil<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  ms = 20_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
