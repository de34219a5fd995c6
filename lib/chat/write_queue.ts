/**
 * A bounded queue of byte chunks in front of a writer: pushing never waits,
 * and everything queued while a write is in flight leaves in the next single
 * write. Used for every chat member's socket and for the transcript file.
 *
 * @module
 */

import { writeAll } from "../net/io.ts";

/** Options for {@linkcode WriteQueue}. */
export interface WriteQueueOptions {
  /** Bytes that may wait; a push past this is refused.
   * @default {1048576} */
  maxBytes?: number;
  /** Called once when a write fails; the queue then refuses everything. */
  onError?: (error: unknown) => void;
}

/**
 * Batches writes to `writer`. The first push schedules a flush on the next
 * microtask, so everything pushed by the current task goes out in one
 * write; while a write is in flight, later pushes gather for the next one.
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
  #queued = 0;
  #writing = false;
  #failed = false;
  #waiters: (() => void)[] = [];

  constructor(writer: { write(p: Uint8Array): Promise<number> }, options: WriteQueueOptions = {}) {
    this.#writer = writer;
    this.#maxBytes = options.maxBytes ?? 1 << 20;
    this.#onError = options.onError;
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
    if (!this.#writing) {
      this.#writing = true;
      queueMicrotask(() => this.#flush());
    }
    return true;
  }

  /** Drops what is queued (a write in flight completes). */
  clear(): void {
    this.#chunks = [];
    this.#queued = 0;
  }

  /** Settles when nothing is queued or in flight (at once if so already, or after a failure). */
  drained(): Promise<void> {
    if (!this.#writing) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  async #flush(): Promise<void> {
    try {
      while (this.#chunks.length > 0) {
        const chunks = this.#chunks;
        const size = this.#queued;
        this.#chunks = [];
        this.#queued = 0;
        await writeAll(this.#writer, chunks.length === 1 ? chunks[0] : concat(chunks, size));
      }
    } catch (error) {
      this.#failed = true;
      this.clear();
      this.#onError?.(error);
    } finally {
      this.#writing = false;
      for (const resolve of this.#waiters.splice(0)) resolve();
    }
  }
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
