/**
 * The one progress bar every transfer uses: bytes, percentage, rate and ETA,
 * redrawn in place on a terminal at most ten times a second; silent when
 * stderr is not a terminal (the caller prints one line per file instead).
 *
 * @module
 */

import { formatBytes, formatDuration, formatRate } from "../text/format.ts";
import { paint, useColor } from "./output.ts";

/** Options for {@linkcode ProgressBar}. */
export interface ProgressBarOptions {
  /** Bytes expected, when known; without it the bar shows bytes and rate only. */
  total?: number;
  /** Where to draw.
   * @default {Deno.stderr} */
  stream?: { writeSync(p: Uint8Array): number; isTerminal(): boolean };
  /** Draw even when `stream` is not a terminal (for tests).
   * @default {false} */
  force?: boolean;
}

const REDRAW_MS = 100;
const BAR_WIDTH = 24;
const encoder = new TextEncoder();

/**
 * A progress bar for one transfer.
 *
 * @example Usage
 * ```ts
 * import { ProgressBar } from "./progress.ts";
 * const bar = new ProgressBar("report.pdf", { total: 1_000_000 });
 * bar.update(500_000);
 * bar.done(); // clears the bar; print your own summary line after it
 * ```
 */
export class ProgressBar {
  #label: string;
  #total: number | undefined;
  #stream: { writeSync(p: Uint8Array): number; isTerminal(): boolean };
  #enabled: boolean;
  #color: boolean;
  #started = performance.now();
  #lastDraw = -Infinity; // the first update draws at once, however soon after start
  #current = 0;

  constructor(label: string, options: ProgressBarOptions = {}) {
    this.#label = label;
    this.#total = options.total;
    this.#stream = options.stream ?? Deno.stderr;
    this.#enabled = options.force || this.#stream.isTerminal();
    this.#color = useColor(this.#stream);
  }

  /** Whether the bar draws at all. */
  get enabled(): boolean {
    return this.#enabled;
  }

  /** Sets the expected total once it becomes known (a TFTP tsize, say). */
  set total(bytes: number | undefined) {
    this.#total = bytes;
  }

  /** Records that `bytes` have moved so far; redraws if enough time has passed. */
  update(bytes: number): void {
    this.#current = bytes;
    if (!this.#enabled) return;
    const now = performance.now();
    if (now - this.#lastDraw < REDRAW_MS) return;
    this.#lastDraw = now;
    this.#write(`\r${this.render(now)}\x1b[K`);
  }

  /** Clears the bar from the terminal. */
  done(): void {
    if (this.#enabled) this.#write("\r\x1b[K");
  }

  /** The bar's text for the current state (without cursor movement). */
  render(now = performance.now()): string {
    const elapsed = now - this.#started;
    const done = this.#current;
    const rate = formatRate(done, elapsed);
    const total = this.#total;
    if (!total) return `${this.#label} ${formatBytes(done)} ${rate}`;
    const fraction = Math.min(1, done / total);
    const filled = Math.round(fraction * BAR_WIDTH);
    const bar = paint("█".repeat(filled), "cyan", this.#color) +
      paint("░".repeat(BAR_WIDTH - filled), "dim", this.#color);
    const eta = done > 0 && elapsed > 0 ? formatDuration(((total - done) * elapsed) / done) : "-";
    const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
    return `${this.#label} ${bar} ${percent} ${formatBytes(done)}/${formatBytes(total)} ${rate} ETA ${eta}`;
  }

  #write(text: string): void {
    try {
      this.#stream.writeSync(encoder.encode(text));
    } catch { /* a closed terminal is no reason to fail a transfer */ }
  }
}
