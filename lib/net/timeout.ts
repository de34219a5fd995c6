/**
 * Time limits for network waits: an abortable delay, a deadline on any
 * promise, and an idle timer cheap enough to touch on every read.
 *
 * @module
 */

/**
 * Resolves after `ms` milliseconds; rejects with the signal's reason if it aborts first.
 *
 * @example Usage
 * ```ts
 * import { delay } from "./timeout.ts";
 * await delay(10);
 * ```
 */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Waits for `promise` at most `ms` milliseconds; past that, rejects with a
 * `Deno.errors.TimedOut` whose message is `what` followed by "timed out after N s".
 * The timer never outlives the wait.
 *
 * @example Usage
 * ```ts
 * import { withTimeout } from "./timeout.ts";
 * const conn = await withTimeout(Deno.connect({ hostname: "127.0.0.1", port: 80 }), 5000, "connect")
 *   .catch(() => undefined);
 * conn?.close();
 * ```
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Deno.errors.TimedOut(`${what} timed out after ${formatSeconds(ms)}`)),
      ms,
    );
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** "2 s", "0.5 s": a duration in milliseconds as people read it. */
export function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/**
 * Calls `onIdle` once when `touch()` has not been called for `timeoutMs`.
 * Touching only stores a timestamp, so it costs nothing on a hot read path;
 * a single timer re-arms itself for the remaining time.
 *
 * @example Usage
 * ```ts
 * import { IdleTimer } from "./timeout.ts";
 * const idle = new IdleTimer(30_000, () => console.log("idle for 30 s"));
 * idle.touch(); // on every read
 * idle.stop(); // when the connection ends
 * ```
 */
export class IdleTimer {
  #timeoutMs: number;
  #onIdle: () => void;
  #last = Date.now();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(timeoutMs: number, onIdle: () => void) {
    this.#timeoutMs = timeoutMs;
    this.#onIdle = onIdle;
    if (timeoutMs > 0) this.#arm(timeoutMs);
  }

  /** Records activity now. */
  touch(): void {
    this.#last = Date.now();
  }

  /** Milliseconds since the last activity. */
  get idleMs(): number {
    return Date.now() - this.#last;
  }

  /** Cancels the timer; `onIdle` will not be called. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => {
      const remaining = this.#timeoutMs - this.idleMs;
      if (remaining > 0) return this.#arm(remaining);
      this.#timer = undefined;
      this.#onIdle();
    }, ms);
  }
}

/**
 * One timer for a long run of short waits (a retransmit deadline per
 * transfer, say): each wait names its deadline, and the timer is re-armed
 * only when it fires before the latest deadline, so a wait that ends early
 * costs no timer operation at all.
 *
 * At most one wait is live: calling `expiry()` again replaces the previous
 * wait, whose promise then never settles (race it against the event you wait
 * for, as `DatagramReader.receiveUntil` does, and drop it). Call `stop()` when
 * done, so no timer outlives its user.
 *
 * @example Usage
 * ```ts
 * import { DeadlineTimer } from "./timeout.ts";
 * const timer = new DeadlineTimer();
 * await timer.expiry(performance.now() + 5); // resolves about 5 ms from now
 * timer.stop();
 * ```
 */
export class DeadlineTimer {
  #at = Infinity;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  #resolve: (() => void) | undefined;

  /** A promise that resolves once `performance.now()` reaches `at` (milliseconds). */
  expiry(at: number): Promise<void> {
    this.#at = at;
    const promise = new Promise<void>((resolve) => this.#resolve = resolve);
    // A timer already due no later than `at` will re-arm itself for the rest.
    if (this.#timer === undefined || this.#timerAt > at) this.#arm(at);
    return promise;
  }

  /** Resolves the live wait now (to wake a waiter early, on abort say); the timer stays as it is. */
  expireNow(): void {
    const resolve = this.#resolve;
    this.#resolve = undefined;
    resolve?.();
  }

  /** Cancels the timer; the live wait (if any) never resolves. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
    this.#resolve = undefined;
  }

  #arm(at: number): void {
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(this.#fire, Math.max(0, Math.ceil(at - performance.now())));
  }

  #fire = (): void => {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    if (!this.#resolve) return;
    if (performance.now() < this.#at) return this.#arm(this.#at);
    const resolve = this.#resolve;
    this.#resolve = undefined;
    resolve();
  };
}
