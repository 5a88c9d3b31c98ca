/**
 * Failed logins counted per username and per client address in a sliding
 * window. Past the limit, further attempts are refused without checking the
 * password until the oldest failure leaves the window, so guessing is slowed
 * to a few tries per window whichever of the two an attacker varies.
 * Counters live in this process; each replica counts its own.
 */
export interface RateLimits {
  perUser: number;
  perAddress: number;
  windowMs: number;
}

export class FailedLogins {
  private readonly byUser = new Map<string, number[]>();
  private readonly byAddress = new Map<string, number[]>();

  constructor(
    private readonly limits: RateLimits,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Seconds until another attempt is allowed, or 0 when one is allowed now. */
  retryAfter(username: string | undefined, address: string): number {
    const now = this.clock();
    const wait = (map: Map<string, number[]>, key: string, limit: number) => {
      const times = this.prune(map, key, now);
      return times.length >= limit ? Math.ceil((times[0]! + this.limits.windowMs - now) / 1000) : 0;
    };
    return Math.max(username === undefined ? 0 : wait(this.byUser, username, this.limits.perUser), wait(this.byAddress, address, this.limits.perAddress));
  }

  fail(username: string | undefined, address: string): void {
    const now = this.clock();
    if (username !== undefined) this.push(this.byUser, username, now);
    this.push(this.byAddress, address, now);
  }

  /** A successful login clears the user's count (the address keeps its own). */
  succeed(username: string): void {
    this.byUser.delete(username);
  }

  private prune(map: Map<string, number[]>, key: string, now: number): number[] {
    const times = map.get(key);
    if (!times) return [];
    while (times.length && times[0]! <= now - this.limits.windowMs) times.shift();
    if (!times.length) map.delete(key);
    return times;
  }

  private push(map: Map<string, number[]>, key: string, now: number): void {
    const times = this.prune(map, key, now);
    times.push(now);
    map.set(key, times);
    // Bounded memory under a flood of distinct names or addresses: forget the oldest keys.
    if (map.size > 100_000) map.delete(map.keys().next().value!);
  }
}
