/**
 * Reading a connection that carries text lines and raw bytes in turn (a
 * header, file data, a trailer): bytes read past a line stay buffered for
 * whatever reads next, and bulk reads go straight into the caller's buffer.
 *
 * @module
 */

/** Anything with a `read` like `Deno.Conn`'s. */
export interface ByteSource {
  /** Reads into `buffer`; resolves to the count, or `null` at end of stream. */
  read(buffer: Uint8Array): Promise<number | null>;
}

/** Options for {@linkcode ConnReader}. */
export interface ConnReaderOptions {
  /** Called whenever bytes arrive (to keep an idle timer alive). */
  onData?: () => void;
}

const CHUNK = 16 * 1024;
const LF = 0x0a;

/**
 * A buffered reader over a connection.
 *
 * @example Usage
 * ```ts
 * import { ConnReader } from "./conn_reader.ts";
 * const bytes = new TextEncoder().encode("hello\nrest");
 * let done = false;
 * const reader = new ConnReader({
 *   read(buffer) {
 *     if (done) return Promise.resolve(null);
 *     done = true;
 *     buffer.set(bytes);
 *     return Promise.resolve(bytes.length);
 *   },
 * });
 * console.log(await reader.readLine(100)); // "hello"
 * console.log(reader.buffered); // 4 ("rest")
 * ```
 */
export class ConnReader {
  #source: ByteSource;
  #onData: (() => void) | undefined;
  #buffer = new Uint8Array(0);
  #start = 0;
  #end = 0;

  constructor(source: ByteSource, options: ConnReaderOptions = {}) {
    this.#source = source;
    this.#onData = options.onData;
  }

  /** Bytes read from the connection but not consumed yet. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** The buffered bytes (a view, valid until the next read or `consume`). */
  peek(): Uint8Array {
    return this.#buffer.subarray(this.#start, this.#end);
  }

  /** Drops `count` buffered bytes. */
  consume(count: number): void {
    this.#start = Math.min(this.#end, this.#start + count);
  }

  /** Reads one more chunk into the buffer; `false` at end of stream. */
  async more(): Promise<boolean> {
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#buffer.length - this.#end < CHUNK) {
      const grown = new Uint8Array(Math.max(this.#buffer.length, this.buffered + CHUNK));
      grown.set(this.peek());
      this.#end -= this.#start;
      this.#start = 0;
      this.#buffer = grown;
    }
    const n = await this.#source.read(this.#buffer.subarray(this.#end, this.#end + CHUNK));
    if (n === null) return false;
    this.#end += n;
    this.#onData?.();
    return true;
  }

  /**
   * Reads into `into`: buffered bytes first, then straight from the
   * connection. Resolves to the count, or `null` at end of stream.
   */
  async read(into: Uint8Array): Promise<number | null> {
    if (this.buffered > 0) {
      const count = Math.min(into.length, this.buffered);
      into.set(this.#buffer.subarray(this.#start, this.#start + count));
      this.consume(count);
      return count;
    }
    const n = await this.#source.read(into);
    if (n !== null) this.#onData?.();
    return n;
  }

  /**
   * The next line without its LF (or CRLF); `null` at end of stream before
   * any byte of it; a `RangeError` when no LF comes within `maxBytes`.
   */
  async readLine(maxBytes: number): Promise<string | null> {
    let scanned = 0;
    while (true) {
      const newline = this.#buffer.subarray(this.#start + scanned, this.#end).indexOf(LF);
      if (newline >= 0) {
        let line = this.#buffer.subarray(this.#start, this.#start + scanned + newline);
        this.consume(scanned + newline + 1);
        if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, -1);
        return new TextDecoder().decode(line);
      }
      scanned = this.buffered;
      if (scanned > maxBytes) throw new RangeError(`a line is longer than ${maxBytes} bytes`);
      if (!(await this.more())) {
        if (this.buffered === 0) return null;
        throw new Deno.errors.UnexpectedEof("the connection ended in the middle of a line");
      }
    }
  }
}
