/**
 * The retransmit timer of one transfer. Without a negotiated timeout it
 * follows the measured round-trip time as TCP does (RFC 6298: smoothed RTT
 * plus four deviations, bounded, doubled after each timeout, Karn's rule for
 * samples), so a lost packet on a LAN costs milliseconds, not seconds. A
 * negotiated timeout (RFC 2349) is used exactly, without backoff.
 *
 * @module
 */

/** How long the adaptive timer with the default retry count keeps trying a silent peer, in milliseconds. */
const DEFAULT_MIN_GIVE_UP_MS = 5000;

/** Options for {@linkcode RetransmitTimer}. */
export interface RetransmitOptions {
  /** A fixed timeout in milliseconds (the negotiated `timeout`); without it the timer adapts. */
  timeoutMs?: number;
  /** Retransmissions of one packet in a row before giving up. A count given
   * here is exact; the default one is stretched by `minGiveUpMs`.
   * @default {6} */
  retries?: number;
  /** Adaptive timeout before the first round trip has been measured, in milliseconds.
   * @default {1000} */
  initialMs?: number;
  /** Lower bound of the adaptive timeout, in milliseconds.
   * @default {5} */
  minMs?: number;
  /** Upper bound of the adaptive timeout, backoff included, in milliseconds.
   * @default {2000} */
  maxMs?: number;
  /** Adaptive mode only: however fast the retries ran out, keep trying until the
   * peer has been silent this long, in milliseconds (a peer that stalls for a moment is not gone,
   * and a timer adapted to a LAN runs six retries out in well under a second).
   * @default {5000 without `retries`, 0 with it} */
  minGiveUpMs?: number;
}

/** A timer's whole state, as plain data: to carry it to another thread and back. */
export interface RetransmitSnapshot {
  /** The options the timer was made with. */
  options: RetransmitOptions;
  /** The smoothed round-trip time, once measured. */
  srtt: number | undefined;
  /** Its variation. */
  rttvar: number;
  /** The adaptive timeout before backoff. */
  base: number;
  /** Timeouts in a row. */
  backoff: number;
  /** Milliseconds since the peer last made progress. */
  silentMs: number;
  /** What was left of the armed wait. */
  remainingMs: number;
}

/**
 * Retransmit timing for one transfer.
 *
 * @example Usage
 * ```ts
 * import { RetransmitTimer } from "./rto.ts";
 * const timer = new RetransmitTimer();
 * timer.sample(0.2); // a clean round trip of 0.2 ms
 * timer.timeoutMs; // 5: the lower bound
 * timer.arm(); // after sending: wait timer.remainingMs for the answer
 * if (!timer.expired()) throw new Error("gave up"); // a wait ran out: back off (false once out of retries)
 * timer.progress(); // an answer came: the backoff ends
 * ```
 */
export class RetransmitTimer {
  readonly #options: RetransmitOptions;
  readonly #fixed: number | undefined;
  readonly #retries: number;
  readonly #min: number;
  readonly #max: number;
  readonly #minGiveUp: number;
  #srtt: number | undefined;
  #rttvar = 0;
  #base: number;
  #backoff = 0;
  #silentSince = performance.now();
  #deadline = 0;

  constructor(options: RetransmitOptions = {}) {
    this.#options = { ...options };
    this.#fixed = options.timeoutMs;
    this.#retries = options.retries ?? 6;
    this.#min = options.minMs ?? 5;
    this.#max = options.maxMs ?? 2000;
    // Only the default count is stretched: a count someone chose is what they get.
    this.#minGiveUp = options.minGiveUpMs ?? (options.retries === undefined ? DEFAULT_MIN_GIVE_UP_MS : 0);
    this.#base = options.initialMs ?? 1000;
  }

  /** How long to wait for the next answer, in milliseconds. */
  get timeoutMs(): number {
    if (this.#fixed !== undefined) return this.#fixed;
    return Math.min(this.#max, Math.max(this.#min, this.#base) * 2 ** this.#backoff);
  }

  /** The smoothed round-trip time in milliseconds, once measured. */
  get srtt(): number | undefined {
    return this.#srtt;
  }

  /** Retransmissions in a row so far. */
  get retransmissions(): number {
    return this.#backoff;
  }

  /** Milliseconds since the peer last made progress. */
  get silentMs(): number {
    return performance.now() - this.#silentSince;
  }

  /** Starts a wait of `timeoutMs` from now (after sending, or when the peer made progress). */
  arm(): void {
    this.#deadline = performance.now() + this.timeoutMs;
  }

  /** What is left of the wait armed last, in milliseconds: a packet that changes
   * nothing (a duplicate, a stranger's) must not restart the wait. */
  get remainingMs(): number {
    return Math.max(0, this.#deadline - performance.now());
  }

  /** Records a round trip that involved no retransmission (Karn's rule). */
  sample(rttMs: number): void {
    if (this.#srtt === undefined) {
      this.#srtt = rttMs;
      this.#rttvar = rttMs / 2;
    } else {
      this.#rttvar = 0.75 * this.#rttvar + 0.25 * Math.abs(this.#srtt - rttMs);
      this.#srtt = 0.875 * this.#srtt + 0.125 * rttMs;
    }
    this.#base = this.#srtt + Math.max(1, 4 * this.#rttvar);
  }

  /** The peer answered with something new: the backoff ends and a new wait starts. */
  progress(): void {
    this.#backoff = 0;
    this.#silentSince = performance.now();
    this.#deadline = this.#silentSince + this.timeoutMs;
  }

  /**
   * The timer's state as plain data; {@linkcode RetransmitTimer.fromSnapshot}
   * makes a timer that goes on from there (times are carried as durations,
   * so the clocks of the two threads need not agree).
   *
   * @example Usage
   * ```ts
   * import { RetransmitTimer } from "./rto.ts";
   * const timer = new RetransmitTimer({ retries: 3 });
   * timer.sample(2);
   * const copy = RetransmitTimer.fromSnapshot(timer.snapshot());
   * copy.srtt; // 2
   * ```
   */
  snapshot(): RetransmitSnapshot {
    return {
      options: { ...this.#options },
      srtt: this.#srtt,
      rttvar: this.#rttvar,
      base: this.#base,
      backoff: this.#backoff,
      silentMs: this.silentMs,
      remainingMs: this.remainingMs,
    };
  }

  /** Takes over the state of a snapshot (of a timer made with the same options). */
  restore(snapshot: RetransmitSnapshot): void {
    const now = performance.now();
    this.#srtt = snapshot.srtt;
    this.#rttvar = snapshot.rttvar;
    this.#base = snapshot.base;
    this.#backoff = snapshot.backoff;
    this.#silentSince = now - snapshot.silentMs;
    this.#deadline = now + snapshot.remainingMs;
  }

  /** A timer that goes on from a {@linkcode snapshot}. */
  static fromSnapshot(snapshot: RetransmitSnapshot): RetransmitTimer {
    const timer = new RetransmitTimer(snapshot.options);
    timer.restore(snapshot);
    return timer;
  }

  /**
   * The same timer (measured round trip, silence, the armed wait) with a
   * fixed timeout of `timeoutMs`, or adaptive when it is undefined: a client
   * asks for a timeout, but runs on the one the server granted, if any.
   *
   * @example Usage
   * ```ts
   * import { RetransmitTimer } from "./rto.ts";
   * const asked = new RetransmitTimer({ timeoutMs: 5000 });
   * asked.sample(0.2);
   * asked.withTimeout(undefined).timeoutMs; // 5: the server did not grant it, the round trip rules
   * ```
   */
  withTimeout(timeoutMs: number | undefined): RetransmitTimer {
    return RetransmitTimer.fromSnapshot({ ...this.snapshot(), options: { ...this.#options, timeoutMs } });
  }

  /** A wait ran out: backs off and returns whether to retransmit (false: give up). */
  expired(): boolean {
    if (this.#backoff >= this.#retries) {
      if (this.#fixed !== undefined || this.silentMs >= this.#minGiveUp) return false;
    }
    this.#backoff++;
    return true;
  }
}
