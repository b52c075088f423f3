/**
 * Failed-login limiting per user name and per client address (RFC 6940 asks enrollment servers to
 * rate-limit issuance against Sybil attacks; this also stops password guessing). Sliding window, clock
 * injected for tests, bounded memory.
 */
export interface RateLimiterOptions {
  windowMs?: number;
  maxPerUser?: number;
  maxPerAddress?: number;
  maxKeys?: number;
  now?: () => number;
}

export class LoginRateLimiter {
  private readonly failures = new Map<string, number[]>();
  private readonly windowMs: number;
  private readonly maxPerUser: number;
  private readonly maxPerAddress: number;
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(options: RateLimiterOptions = {}) {
    this.windowMs = options.windowMs ?? 15 * 60_000;
    this.maxPerUser = options.maxPerUser ?? 5;
    this.maxPerAddress = options.maxPerAddress ?? 20;
    this.maxKeys = options.maxKeys ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** Why this attempt must be refused before checking the password, if it must. */
  blocked(username: string, address: string): 'user' | 'address' | undefined {
    if (this.recent(`u:${username}`) >= this.maxPerUser) return 'user';
    if (this.recent(`a:${address}`) >= this.maxPerAddress) return 'address';
    return undefined;
  }

  recordFailure(username: string, address: string): void {
    for (const key of [`u:${username}`, `a:${address}`]) {
      const list = this.failures.get(key) ?? [];
      list.push(this.now());
      this.failures.delete(key);
      this.failures.set(key, list);
    }
    while (this.failures.size > this.maxKeys) this.failures.delete(this.failures.keys().next().value as string);
  }

  recordSuccess(username: string): void {
    this.failures.delete(`u:${username}`);
  }

  private recent(key: string): number {
    const list = this.failures.get(key);
    if (!list) return 0;
    const since = this.now() - this.windowMs;
    const kept = list.filter((t) => t > since);
    if (kept.length === 0) this.failures.delete(key);
    else this.failures.set(key, kept);
    return kept.length;
  }
}
