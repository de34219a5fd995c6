/**
 * A bounded queue of byte chunks in front of a writer: pushing never waits,
 * and what is queued while a write is in flight leaves together in the next
 * write (up to 64 KiB each). Used for every chat member's socket and for the
 * transcript file.
 *
 * @module
 */

/** The most one write carries: enough lines per system call, without copying a whole backlog at once. */
const MAX_WRITE_BYTES = 64 * 1024;

/** Options for {@linkcode WriteQueue}. */
export interface WriteQueueOptions {
  /** Bytes that may wait; a push past this is refused.
   * @default {1048576} */
  maxBytes?: number;
  /** Called once when a write fails; the queue then refuses everything. */
  onError?: (error: unknown) => void;
  /** Past this many waiting bytes the queue is congested, until half of it is left.
   * @default {maxBytes / 4} */
  highWaterBytes?: number;
  /** Called when the queue becomes congested (`true`) and when it is not any more (`false`). */
  onCongestion?: (congested: boolean) => void;
}

/**
 * Batches writes to `writer`. The first push schedules a flush on the next
 * microtask, so everything pushed by the current task goes out in one
 * write; while a write is in flight, later pushes gather for the next one.
 * One write carries at most 64 KiB (more stays queued for the next), so a
 * backlog is never copied whole.
 *
 * @example Usage
 * ```ts
 * import { WriteQueue } from "./write_queue.ts";
 * const queue = new WriteQueue(Deno.stdout, { maxBytes: 1 << 16 });
 * queue.push(new TextEncoder().encode("one\n"));
 * queue.push(new TextEncoder().encode("two\n")); // same write as "one"
 * await queue.drained();
 * ```
 */
export class WriteQueue {
  #writer: { write(p: Uint8Array): Promise<number> };
  #maxBytes: number;
  #onError: ((error: unknown) => void) | undefined;
  #chunks: Uint8Array[] = [];
  #head = 0;
  #queued = 0;
  #writing = false;
  #failed = false;
  #waiters: (() => void)[] = [];
  #belowWaiters: { bytes: number; resolve: () => void }[] = [];
  #highWater: number;
  #onCongestion: ((congested: boolean) => void) | undefined;
  #congested = false;
  #writeStarted = 0;
  /** What the write in flight was given, to tell a partial write. */
  #inFlight: Uint8Array | undefined;
  // Made once: at low rates every line is its own write, and a closure per write is garbage per line.
  #flushTask = () => this.#flush();
  #onWritten = (n: number) => this.#written(n);
  #onWriteFailed = (error: unknown) => this.#fail(error);

  constructor(writer: { write(p: Uint8Array): Promise<number> }, options: WriteQueueOptions = {}) {
    this.#writer = writer;
    this.#maxBytes = options.maxBytes ?? 1 << 20;
    this.#onError = options.onError;
    this.#highWater = options.highWaterBytes ?? this.#maxBytes / 4;
    this.#onCongestion = options.onCongestion;
  }

  /** Whether more than the high-water mark waits (until half of it is left). */
  get congested(): boolean {
    return this.#congested;
  }

  /** Milliseconds the write in flight has been waiting for the writer (0 when none is). */
  get stalledMs(): number {
    return this.#writeStarted === 0 ? 0 : Date.now() - this.#writeStarted;
  }

  /** Bytes waiting (not counting a write in flight). */
  get queuedBytes(): number {
    return this.#queued;
  }

  /** Whether a write has failed (everything is refused since). */
  get failed(): boolean {
    return this.#failed;
  }

  /** Queues `bytes`; returns `false`, queueing nothing, if that would pass `maxBytes` or a write failed. */
  push(bytes: Uint8Array): boolean {
    if (this.#failed || this.#queued + bytes.length > this.#maxBytes) return false;
    this.#chunks.push(bytes);
    this.#queued += bytes.length;
    if (!this.#congested && this.#queued > this.#highWater) this.#setCongested(true);
    if (!this.#writing) {
      this.#writing = true;
      queueMicrotask(this.#flushTask);
    }
    return true;
  }

  /** Drops what is queued (a write in flight completes). */
  clear(): void {
    this.#chunks = [];
    this.#head = 0;
    this.#queued = 0;
    this.#wakeBelow();
  }

  /**
   * Settles once no more than `bytes` wait (the writer has taken the backlog
   * into a write, or the queue was cleared); at once if that is so already.
   */
  below(bytes: number): Promise<void> {
    if (this.#queued <= bytes) return Promise.resolve();
    return new Promise((resolve) => this.#belowWaiters.push({ bytes, resolve }));
  }

  /** Settles when nothing is queued or in flight (at once if so already, or after a failure). */
  drained(): Promise<void> {
    if (!this.#writing) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #setCongested(congested: boolean): void {
    this.#congested = congested;
    this.#onCongestion?.(congested);
  }

  #wakeBelow(): void {
    if (this.#congested && this.#queued <= this.#highWater / 2) this.#setCongested(false);
    if (this.#belowWaiters.length === 0) return;
    const waiting = this.#belowWaiters;
    this.#belowWaiters = [];
    for (const waiter of waiting) {
      if (this.#queued <= waiter.bytes) waiter.resolve();
      else this.#belowWaiters.push(waiter);
    }
  }

  /** Takes queued chunks, up to MAX_WRITE_BYTES (at least one chunk), as one buffer. */
  #take(): Uint8Array {
    const chunks = this.#chunks;
    const start = this.#head;
    let end = start;
    let size = 0;
    while (end < chunks.length && (end === start || size + chunks[end].length <= MAX_WRITE_BYTES)) {
      size += chunks[end++].length;
    }
    const taken = end - start === 1 ? chunks[start] : concat(chunks, start, end, size);
    this.#queued -= size;
    if (end === chunks.length) {
      if (end === 1) chunks.pop(); // kept, not replaced: one array per queue, not one per write
      else this.#chunks = [];
      this.#head = 0;
    } else if (end > 1024 && end * 2 > chunks.length) {
      this.#chunks = chunks.slice(end);
      this.#head = 0;
    } else {
      this.#head = end;
    }
    this.#wakeBelow();
    return taken;
  }

  // A chain of plain callbacks rather than an async loop: at low rates every
  // line is its own write, and the promise layers would cost more than the write.
  #flush(): void {
    if (this.#queued === 0 || this.#failed) return this.#idle();
    const bytes = this.#take();
    this.#writeStarted = Date.now();
    this.#write(bytes);
  }

  #write(bytes: Uint8Array): void {
    let written: Promise<number>;
    try {
      written = this.#writer.write(bytes);
    } catch (error) {
      return this.#fail(error);
    }
    this.#inFlight = bytes;
    written.then(this.#onWritten, this.#onWriteFailed);
  }

  #written(n: number): void {
    const bytes = this.#inFlight!;
    this.#inFlight = undefined;
    if (n < bytes.length) this.#write(bytes.subarray(n));
    else this.#flush();
  }

  #fail(error: unknown): void {
    this.#failed = true;
    this.clear();
    this.#idle();
    this.#onError?.(error);
  }

  #idle(): void {
    this.#writeStarted = 0;
    this.#writing = false;
    if (this.#waiters.length > 0) { for (const resolve of this.#waiters.splice(0)) resolve(); }
  }
}

function concat(chunks: Uint8Array[], start: number, end: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let offset = 0;
  for (let index = start; index < end; index++) {
    out.set(chunks[index], offset);
    offset += chunks[index].length;
  }
  return out;
}
