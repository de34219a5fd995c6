/**
 * A token bucket: the flood control of the chat room, per member.
 *
 * @module
 */

/**
 * Allows `burst` events at once and `rate` per second on average. Time is
 * passed in (milliseconds), so one clock reading serves several checks and
 * tests need no real waiting.
 *
 * @example Usage
 * ```ts
 * import { TokenBucket } from "./rate_limit.ts";
 * const bucket = new TokenBucket(10, 2, 0);
 * bucket.take(0); // true
 * bucket.take(0); // true
 * bucket.take(0); // false: the burst is spent
 * bucket.take(100); // true: 100 ms at 10/s refilled one token
 * ```
 */
export class TokenBucket {
  #rate: number;
  #burst: number;
  #tokens: number;
  #last: number;

  /** `rate` 0 means no limit at all. */
  constructor(rate: number, burst: number, now: number = Date.now()) {
    if (!(rate >= 0) || !(burst >= 1)) {
      throw new RangeError(`A rate limit needs a rate of at least 0 and a burst of at least 1, got ${rate}/${burst}`);
    }
    this.#rate = rate;
    this.#burst = burst;
    this.#tokens = burst;
    this.#last = now;
  }

  /** Takes one token if there is one; returns whether it could. */
  take(now: number): boolean {
    if (this.#rate === 0) return true;
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }

  /** Whether the bucket has refilled completely by `now` (the sender has calmed down). */
  isFull(now: number): boolean {
    if (this.#rate === 0) return true;
    this.#refill(now);
    return this.#tokens >= this.#burst;
  }

  /** Milliseconds until a token is available at `now` (0: one is there). */
  waitMs(now: number): number {
    if (this.#rate === 0) return 0;
    this.#refill(now);
    return this.#tokens >= 1 ? 0 : Math.ceil(((1 - this.#tokens) / this.#rate) * 1000);
  }

  #refill(now: number): void {
    const elapsed = now - this.#last;
    if (elapsed > 0) {
      this.#tokens = Math.min(this.#burst, this.#tokens + (elapsed / 1000) * this.#rate);
      this.#last = now;
    }
  }
}
