/**
 * Bytes to lines: LF or CRLF endings, UTF-8 with invalid bytes replaced, and
 * a cap on line length so that a peer that never sends a newline cannot grow
 * our memory.
 *
 * @module
 */

/** Marks a line that passed the cap; what followed it up to the next newline was dropped. */
export interface OverlongLine {
  /** Always `true`: tells an overlong marker apart from a line (a string). */
  readonly overlong: true;
  /** The cap that was exceeded, in bytes. */
  readonly maxLineBytes: number;
}

/** What a {@linkcode LineStream} emits: a line without its ending, or an overlong marker. */
export type LineChunk = string | OverlongLine;

/** Options for {@linkcode LineStream}. */
export interface LineStreamOptions {
  /** Longest line accepted, in bytes, not counting the line ending.
   * @default {4096} */
  maxLineBytes?: number;
  /** Text encoding of the bytes, any WHATWG label (`utf-8`, `gbk`, `latin1`...).
   * @default {"utf-8"} */
  encoding?: string;
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * A `TransformStream` from bytes to lines. A line longer than `maxLineBytes`
 * is reported once, as soon as the cap is passed, by an {@linkcode OverlongLine}
 * marker; the rest of it is discarded up to the next newline and the stream
 * carries on. Memory held per stream never exceeds the cap plus one chunk.
 * A last line without a newline is emitted when the input ends.
 *
 * @example Usage
 * ```ts
 * import { LineStream } from "./line_stream.ts";
 * const lines = ReadableStream.from([new TextEncoder().encode("a\r\nb\nc")])
 *   .pipeThrough(new LineStream({ maxLineBytes: 1024 }));
 * for await (const line of lines) console.log(line); // "a", "b", "c"
 * ```
 */
export class LineStream extends TransformStream<Uint8Array, LineChunk> {
  constructor(options: LineStreamOptions = {}) {
    const framer = new LineFramer(options);
    super({
      transform(chunk, controller) {
        framer.push(chunk, (line) => controller.enqueue(line));
      },
      flush(controller) {
        framer.end((line) => controller.enqueue(line));
      },
    });
  }
}

/**
 * The framing state machine behind {@linkcode LineStream}, for callers that
 * read with `conn.read()` and want lines without the cost of a stream per chunk.
 *
 * @example Usage
 * ```ts
 * import { LineFramer } from "./line_stream.ts";
 * const framer = new LineFramer({ maxLineBytes: 16 });
 * framer.push(new TextEncoder().encode("hello\nwor"), console.log); // "hello"
 * framer.push(new TextEncoder().encode("ld\n"), console.log); // "world"
 * ```
 */
export class LineFramer {
  #max: number;
  #decoder: TextDecoder;
  /** The start of a line not yet ended, in one buffer grown as needed (never past the cap + 1). */
  #pending: Uint8Array = new Uint8Array(0);
  #pendingBytes = 0;
  #discarding = false;

  constructor(options: LineStreamOptions = {}) {
    this.#max = options.maxLineBytes ?? 4096;
    if (!Number.isInteger(this.#max) || this.#max < 1) {
      throw new RangeError(`maxLineBytes must be a positive integer, got ${this.#max}`);
    }
    this.#decoder = new TextDecoder(options.encoding ?? "utf-8");
    // Framing on the byte 0x0A is only sound for ASCII-compatible encodings.
    if (this.#decoder.encoding.startsWith("utf-16")) {
      throw new RangeError(`Cannot frame lines in ${this.#decoder.encoding}: use an ASCII-compatible encoding`);
    }
  }

  /** Bytes held for a line not yet ended. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Feeds bytes; calls `emit` for every line (or overlong marker) they complete. */
  push(chunk: Uint8Array, emit: (line: LineChunk) => void): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(LF, start);
      const end = newline < 0 ? chunk.length : newline;
      if (this.#discarding) {
        if (newline >= 0) this.#discarding = false;
      } else if (this.#pendingBytes + (end - start) > this.#max + 1) {
        // +1 tolerates the CR of a CRLF ending split from its LF.
        this.#overflow(emit, newline < 0);
      } else if (newline < 0) {
        this.#hold(chunk.subarray(start));
      } else {
        this.#emitLine(chunk.subarray(start, end), emit);
      }
      if (newline < 0) break;
      start = newline + 1;
    }
  }

  /** Ends the input: emits a last line that had no newline. */
  end(emit: (line: LineChunk) => void): void {
    if (this.#pendingBytes > 0 && !this.#discarding) this.#emitLine(new Uint8Array(0), emit);
    this.#reset();
    this.#discarding = false;
  }

  /**
   * Reads `reader` to its end (64 KiB at a time), framing what arrives;
   * a read's error is thrown.
   *
   * @example Usage
   * ```ts
   * import { LineFramer } from "./line_stream.ts";
   * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 9999 });
   * await new LineFramer({ maxLineBytes: 4096 }).readFrom(conn, console.log);
   * ```
   */
  async readFrom(
    reader: { read(buffer: Uint8Array): Promise<number | null> },
    emit: (line: LineChunk) => void,
  ): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    while (true) {
      const n = await reader.read(buffer);
      if (n === null) break;
      this.push(buffer.subarray(0, n), emit);
    }
    this.end(emit);
  }

  #overflow(emit: (line: LineChunk) => void, lineContinues: boolean): void {
    this.#reset();
    this.#discarding = lineContinues;
    emit({ overlong: true, maxLineBytes: this.#max });
  }

  #emitLine(tail: Uint8Array, emit: (line: LineChunk) => void): void {
    let bytes = tail;
    if (this.#pendingBytes > 0) {
      bytes = new Uint8Array(this.#pendingBytes + tail.length);
      bytes.set(this.#pending.subarray(0, this.#pendingBytes));
      bytes.set(tail, this.#pendingBytes);
      this.#reset();
    }
    let length = bytes.length;
    if (length > 0 && bytes[length - 1] === CR) length--;
    if (length > this.#max) {
      emit({ overlong: true, maxLineBytes: this.#max });
      return;
    }
    emit(this.#decoder.decode(bytes.subarray(0, length)));
  }

  /** Appends to the pending line: one buffer, not one per read (a peer sending a byte per
   * segment would otherwise make us hold thousands of tiny buffers, ~500 bytes each). */
  #hold(bytes: Uint8Array): void {
    const needed = this.#pendingBytes + bytes.length;
    if (needed > this.#pending.length) {
      const grown = new Uint8Array(Math.min(this.#max + 1, Math.max(needed, 2 * this.#pending.length, 256)));
      grown.set(this.#pending.subarray(0, this.#pendingBytes));
      this.#pending = grown;
    }
    this.#pending.set(bytes, this.#pendingBytes);
    this.#pendingBytes = needed;
  }

  #reset(): void {
    this.#pendingBytes = 0;
  }
}
