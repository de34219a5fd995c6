/**
 * What every transport's member has for output: a bounded, batching
 * {@linkcode WriteQueue} in front of its connection, registered with the
 * room's {@linkcode OutputPressure} so that input waits while members are
 * behind. TCP and WebSocket members each hold one.
 *
 * @module
 */

import type { OutputPressure, PressureHandle, PressureSource } from "./pressure.ts";
import { WriteQueue } from "./write_queue.ts";

/** Output a member may have waiting, unless told otherwise. */
export const DEFAULT_MAX_QUEUE_BYTES = 1 << 20;

/** Options for {@linkcode MemberOutput}, shared by the transports' member options. */
export interface MemberOutputOptions {
  /** Bytes that may wait for a member that does not read; past this it is dropped as too slow.
   * While a quarter of this waits, the member's own lines are not read.
   * @default {1048576} */
  maxQueueBytes?: number;
  /** The room's output pressure, shared by all its members: while most of
   * them are behind, input waits instead of overflowing their queues. */
  pressure?: OutputPressure;
}

/**
 * A member's output queue, joined to the room's pressure tracker.
 *
 * @example Usage
 * ```ts
 * import { MemberOutput } from "./member_output.ts";
 * import { OutputPressure } from "./pressure.ts";
 * const output = new MemberOutput(Deno.stdout, { pressure: new OutputPressure(), onError: () => {} });
 * output.push(new TextEncoder().encode("hello\n"));
 * await output.drained();
 * output.release();
 * ```
 */
export class MemberOutput implements PressureSource {
  /** Queued bytes past which the member's own input should wait (a quarter of the queue's bound). */
  readonly pauseAt: number;
  #queue: WriteQueue;
  #pressure: PressureHandle | undefined;

  constructor(
    writer: { write(p: Uint8Array): Promise<number> },
    options: MemberOutputOptions & { onError: (error: unknown) => void },
  ) {
    const maxBytes = options.maxQueueBytes ?? DEFAULT_MAX_QUEUE_BYTES;
    this.pauseAt = maxBytes / 4;
    const handle = options.pressure?.join(this);
    this.#pressure = handle;
    this.#queue = new WriteQueue(writer, {
      maxBytes,
      onError: options.onError,
      onCongestion: handle ? (congested) => handle.congested(congested) : undefined,
    });
  }

  /** Milliseconds the write in flight has been waiting (0 when none is). */
  get stalledMs(): number {
    return this.#queue.stalledMs;
  }

  /** Bytes waiting to be written. */
  get queuedBytes(): number {
    return this.#queue.queuedBytes;
  }

  /** Queues `bytes`; `false` when the queue would overflow (the member is too slow). */
  push(bytes: Uint8Array): boolean {
    return this.#queue.push(bytes);
  }

  /** Settles once no more than `bytes` wait (see {@linkcode WriteQueue.below}). */
  below(bytes: number): Promise<void> {
    return this.#queue.below(bytes);
  }

  /** Settles when nothing is queued or in flight. */
  drained(): Promise<void> {
    return this.#queue.drained();
  }

  /** Drops what waits (a write in flight completes). */
  clear(): void {
    this.#queue.clear();
  }

  /** The member is gone: drops what waits and leaves the pressure tracker. */
  release(): void {
    this.#queue.clear();
    this.#pressure?.leave();
  }
}
