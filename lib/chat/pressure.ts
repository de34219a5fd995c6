/**
 * Room-wide output pressure: tells transports when to stop reading input
 * because members cannot take more output, without letting a member that
 * has stopped reading hold everybody back.
 *
 * @module
 */

/** What the tracker asks of a member's output queue. */
export interface PressureSource {
  /** Milliseconds the member's current write has been waiting (0 when none is). */
  readonly stalledMs: number;
}

/** A member's link to the tracker, from {@linkcode OutputPressure.join}. */
export interface PressureHandle {
  /** The member's queue has passed its high-water mark (`true`) or drained below its low one (`false`). */
  congested(congested: boolean): void;
  /** The member is gone. */
  leave(): void;
}

/** Options for {@linkcode OutputPressure}. */
export interface OutputPressureOptions {
  /** A member whose write has waited this long is stuck: it no longer holds input back (it will overflow and be
   * dropped). A reader's writes stall only once its socket buffer (megabytes on a LAN) is full, so a short
   * stall already means it has stopped reading; every millisecond held here is latency for everyone else.
   * @default {25} */
  stuckMs?: number;
  /** How often stuck members are looked for while any member is congested.
   * @default {10} */
  sweepMs?: number;
}

/**
 * Tracks which members are behind. The room is overloaded while some member
 * is congested (its queue past the high-water mark) and still receiving
 * (its current write has waited less than `stuckMs`): input then waits, TCP
 * slows the senders down, and nobody who reads is dropped, even when the
 * whole room outpaces its readers. A member whose write has stalled is
 * stuck: it holds nobody back and is dropped once its queue overflows, so a
 * client that stops reading never stalls the others for long (not at all
 * when its write stalled before its queue filled, the usual case).
 *
 * @example Usage
 * ```ts
 * import { OutputPressure } from "./pressure.ts";
 * const pressure = new OutputPressure();
 * const handle = pressure.join({ stalledMs: 0 });
 * handle.congested(true);
 * pressure.overloaded; // true: a member is behind and still receiving
 * handle.congested(false);
 * await pressure.relief(); // at once
 * handle.leave();
 * ```
 */
export class OutputPressure {
  #members = 0;
  #congested = new Map<PressureSource, boolean>();
  #stuck = 0;
  #waiters: (() => void)[] = [];
  #sweep: ReturnType<typeof setInterval> | undefined;
  #stuckMs: number;
  #sweepMs: number;

  constructor(options: OutputPressureOptions = {}) {
    this.#stuckMs = options.stuckMs ?? 25;
    this.#sweepMs = options.sweepMs ?? 10;
  }

  /** Whether input should wait: some member is behind and still receiving. */
  get overloaded(): boolean {
    return this.#congested.size > this.#stuck;
  }

  /** Members registered. */
  get members(): number {
    return this.#members;
  }

  /** Settles once the room is not overloaded (at once if it is not). */
  relief(): Promise<void> {
    if (!this.overloaded) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Registers a member's output queue. */
  join(source: PressureSource): PressureHandle {
    this.#members++;
    let left = false;
    return {
      congested: (congested) => {
        if (left) return;
        if (congested) this.#add(source);
        else this.#remove(source);
      },
      leave: () => {
        if (left) return;
        left = true;
        this.#members--;
        this.#remove(source);
        this.#wake();
      },
    };
  }

  #add(source: PressureSource): void {
    if (this.#congested.has(source)) return;
    // Already stalled when it fills up (it stopped reading long ago): stuck from the start.
    const stuck = source.stalledMs > this.#stuckMs;
    this.#congested.set(source, stuck);
    if (stuck) this.#stuck++;
    this.#sweep ??= setInterval(() => this.#findStuck(), this.#sweepMs);
  }

  #remove(source: PressureSource): void {
    const stuck = this.#congested.get(source);
    if (stuck === undefined) return;
    if (stuck) this.#stuck--;
    this.#congested.delete(source);
    if (this.#congested.size === 0) {
      clearInterval(this.#sweep);
      this.#sweep = undefined;
    }
    this.#wake();
  }

  #findStuck(): void {
    for (const [source, wasStuck] of this.#congested) {
      const stuck = source.stalledMs > this.#stuckMs;
      if (stuck !== wasStuck) {
        this.#congested.set(source, stuck);
        this.#stuck += stuck ? 1 : -1;
      }
    }
    this.#wake();
  }

  #wake(): void {
    if (this.overloaded || this.#waiters.length === 0) return;
    for (const resolve of this.#waiters.splice(0)) resolve();
  }
}
