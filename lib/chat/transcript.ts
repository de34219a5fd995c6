/**
 * The chat transcript: every public event appended to a file as one JSON
 * line, written in batches so that a busy room costs one write per batch.
 *
 * @module
 */

import { reasonOf } from "../net/errors.ts";
import { WriteQueue } from "./write_queue.ts";

/** Options for {@linkcode Transcript.open}. */
export interface TranscriptOptions {
  /** Bytes that may wait for the disk; lines past this are dropped (and counted).
   * @default {8388608} */
  maxQueueBytes?: number;
  /** Told once when writing fails or lines had to be dropped. */
  onError?: (message: string) => void;
}

/**
 * An append-only JSON-lines file. Opening creates it if needed and never
 * truncates; `close` writes what is queued and closes the file.
 *
 * @example Usage
 * ```ts
 * import { Transcript } from "./transcript.ts";
 * const path = await Deno.makeTempFile();
 * const transcript = Transcript.open(path);
 * transcript.write(new TextEncoder().encode('{"type":"info"}\n'));
 * await transcript.close();
 * ```
 */
export class Transcript {
  /** Where the transcript is written. */
  readonly path: string;
  #file: Deno.FsFile;
  #queue: WriteQueue;
  #onError: (message: string) => void;
  #dropped = 0;
  #closed = false;

  private constructor(path: string, file: Deno.FsFile, options: TranscriptOptions) {
    this.path = path;
    this.#file = file;
    this.#onError = options.onError ?? (() => {});
    this.#queue = new WriteQueue(file, {
      maxBytes: options.maxQueueBytes ?? 8 << 20,
      onError: (error) =>
        this.#onError(`Cannot write the transcript ${path}: ${reasonOf(error)}; it is no longer kept`),
    });
  }

  /** Opens (creating it if needed) `path` for appending; throws `Cannot open the transcript PATH: reason`. */
  static open(path: string, options: TranscriptOptions = {}): Transcript {
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(path, { append: true, create: true });
    } catch (error) {
      const Kind = error instanceof Error ? error.constructor as ErrorConstructor : Error;
      throw new Kind(`Cannot open the transcript ${path}: ${reasonOf(error)}`, { cause: error });
    }
    return new Transcript(path, file, options);
  }

  /** Lines dropped because the disk could not keep up. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Appends `line` (JSON and its newline). Never waits. */
  write(line: Uint8Array): void {
    if (this.#closed || this.#queue.push(line) || this.#queue.failed) return;
    if (this.#dropped++ === 0) this.#onError(`The transcript ${this.path} cannot keep up: lines are being dropped`);
  }

  /** Writes what is queued and closes the file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue.drained();
    this.#file.close();
  }
}
