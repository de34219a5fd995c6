/**
 * Where a transfer's bytes come from and go to. Files are read and written
 * in large chunks, one ahead (the next chunk is read, or the previous one
 * written, while blocks move), so a transfer makes one file operation per
 * chunk rather than one per block. Netascii conversion happens here too.
 *
 * @module
 */

import type { AtomicFile } from "../fs/atomic_file.ts";
import { encodeNetascii, NetasciiDecoder } from "./netascii.ts";

/**
 * A file that a source's or sink's bytes are, unconverted: a transfer thread
 * may open it by `path` and read or write it itself, but only if what it
 * opens is the very file vetted here (the same device and inode), so a path
 * swapped in the meantime is refused rather than served.
 */
export interface FileIdentity {
  /** Where the file is. */
  path: string;
  /** Its device. */
  dev: number;
  /** Its inode. */
  ino: number;
}

/** Supplies a sender with blocks. */
export interface BlockSource {
  /** Fills `into` completely, or partly once the data ends, and gives the bytes filled (0 at the end):
   * a number when the data was at hand, a promise when it had to be read first. */
  read(into: Uint8Array): number | Promise<number>;
  /** The file these bytes are, from its start, when they are one (octet mode): a transfer thread may read it itself. */
  readonly file?: FileIdentity;
}

/** Takes a receiver's blocks. */
export interface BlockSink {
  /** Takes a payload, which must stay unchanged until a returned promise settles; await it before the next call. */
  write(payload: Uint8Array): Promise<void> | void;
  /** Writes out everything still buffered. */
  flush(): Promise<void>;
  /** The empty file these bytes go to, from its start, when they go to one unconverted (octet mode): a transfer
   * thread may write it itself, and calls `flush()` here once it has. */
  readonly file?: FileIdentity;
}

/** Options for {@linkcode readerSource} and {@linkcode writerSink}. */
export interface BlockIoOptions {
  /** Convert to (source) or from (sink) netascii.
   * @default {"octet"} */
  mode?: "octet" | "netascii";
  /** Bytes per file operation.
   * @default {16 blocks of `blksize`, within 128 KiB..1 MiB} */
  chunkSize?: number;
  /** The transfer's block size, which sizes the chunks: large blocks get large chunks.
   * @default {512} */
  blksize?: number;
}

const MIN_CHUNK = 128 * 1024;
const MAX_CHUNK = 1024 * 1024;

function chunkSize(options: BlockIoOptions): number {
  return options.chunkSize ?? Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, 16 * (options.blksize ?? 512)));
}

/**
 * Blocks from anything with a `read` (a `Deno.FsFile`, stdin), read a chunk
 * ahead and, in netascii mode, converted on the way.
 *
 * @example Usage
 * ```ts
 * import { readerSource } from "./block_io.ts";
 * using file = await Deno.open("deno.json");
 * const source = readerSource(file);
 * const block = new Uint8Array(512);
 * const n = await source.read(block); // 512, or fewer at the end of the file
 * ```
 */
export function readerSource(
  reader: { read(p: Uint8Array): Promise<number | null> },
  options: BlockIoOptions = {},
): BlockSource {
  const size = chunkSize(options);
  // Two chunk buffers: one being consumed while the other is read into.
  const buffers = [new Uint8Array(size), new Uint8Array(size)];
  const netascii = options.mode === "netascii" ? new Uint8Array(size * 2) : undefined;
  let fetching = 0;
  const fetch = (buffer: Uint8Array) => {
    const fetched = fill(reader, buffer);
    // A failed read surfaces from read(); it must not count as unhandled meanwhile.
    fetched.catch(() => {});
    return fetched;
  };
  let next = fetch(buffers[0]);
  return new ChunkSource(async () => {
    const chunk = await next;
    if (chunk === null) return null;
    // Read the following chunk into the other buffer while this one is consumed.
    fetching = 1 - fetching;
    next = fetch(buffers[fetching]);
    return netascii ? netascii.subarray(0, encodeNetascii(chunk, netascii)) : chunk;
  });
}

/**
 * Blocks from the open file at `path`, like {@linkcode readerSource}, that
 * also name the file (octet mode), so that a transfer thread can read it
 * itself instead (the ffi backend). Nothing is read here until asked.
 *
 * @example Usage
 * ```ts
 * import { fileSource } from "./block_io.ts";
 * using file = await Deno.open("deno.json");
 * const source = await fileSource(file, "deno.json");
 * console.log(source.file?.path); // "deno.json"
 * ```
 */
export async function fileSource(file: Deno.FsFile, path: string, options: BlockIoOptions = {}): Promise<BlockSource> {
  const identity = options.mode === "netascii" ? undefined : identityOf(path, await file.stat());
  let source: BlockSource | undefined;
  return { file: identity, read: (into) => (source ??= readerSource(file, options)).read(into) };
}

/**
 * A sink into an {@linkcode AtomicFile}, like {@linkcode writerSink}, that
 * also names its temporary file (octet mode, nothing written yet), so that a
 * transfer thread can write it itself instead (the ffi backend).
 *
 * @example Usage
 * ```ts
 * import { fileSink } from "./block_io.ts";
 * import { AtomicFile } from "../fs/atomic_file.ts";
 * await using file = await AtomicFile.create(`${await Deno.makeTempDir()}/boot.img`);
 * const sink = await fileSink(file);
 * await sink.write(new Uint8Array(512));
 * await sink.flush();
 * await file.commit();
 * ```
 */
export async function fileSink(file: AtomicFile, options: BlockIoOptions = {}): Promise<BlockSink> {
  const identity = options.mode === "netascii" || file.bytesWritten > 0
    ? undefined
    : identityOf(file.tempPath, await file.stat());
  const sink = writerSink(file, options);
  return { file: identity, write: (payload) => sink.write(payload), flush: () => sink.flush() };
}

/** A file's identity, where the platform reports one (not on Windows). */
function identityOf(path: string, info: Deno.FileInfo): FileIdentity | undefined {
  return info.dev !== null && info.ino !== null && info.isFile ? { path, dev: info.dev, ino: info.ino } : undefined;
}

async function fill(
  reader: { read(p: Uint8Array): Promise<number | null> },
  buffer: Uint8Array,
): Promise<Uint8Array | null> {
  let length = 0;
  while (length < buffer.length) {
    const n = await reader.read(buffer.subarray(length));
    if (n === null) break;
    length += n;
  }
  return length === 0 ? null : buffer.subarray(0, length);
}

/**
 * Blocks cut from a series of chunks, however they come: `next` gives the
 * next chunk once the current one is used up (`null` at the end). A block
 * inside the current chunk is copied without a promise.
 *
 * @example Usage
 * ```ts
 * import { ChunkSource } from "./block_io.ts";
 * const chunks = [new Uint8Array(1000), new Uint8Array(24)];
 * const source = new ChunkSource(() => Promise.resolve(chunks.shift() ?? null));
 * await source.read(new Uint8Array(512)); // 512
 * ```
 */
export class ChunkSource implements BlockSource {
  #next: () => Promise<Uint8Array | null>;
  #current: Uint8Array = new Uint8Array(0);
  #position = 0;
  #ended = false;

  constructor(next: () => Promise<Uint8Array | null>) {
    this.#next = next;
  }

  read(into: Uint8Array): number | Promise<number> {
    // The common case, a block inside the current chunk, takes no promise.
    if (this.#current.length - this.#position >= into.length) return this.#copy(into, 0);
    return this.#readAcross(into);
  }

  async #readAcross(into: Uint8Array): Promise<number> {
    let filled = 0;
    while (filled < into.length) {
      if (this.#position === this.#current.length && !(await this.#advance())) break;
      filled = this.#copy(into, filled);
    }
    return filled;
  }

  /** Copies what the current chunk has into `into` from `filled` on; returns the new fill. */
  #copy(into: Uint8Array, filled: number): number {
    const n = Math.min(into.length - filled, this.#current.length - this.#position);
    into.set(this.#current.subarray(this.#position, this.#position + n), filled);
    this.#position += n;
    return filled + n;
  }

  async #advance(): Promise<boolean> {
    if (this.#ended) return false;
    const chunk = await this.#next();
    if (chunk === null) {
      this.#ended = true;
      return false;
    }
    this.#current = chunk;
    this.#position = 0;
    return true;
  }
}

/**
 * Blocks from bytes in memory.
 *
 * @example Usage
 * ```ts
 * import { bytesSource } from "./block_io.ts";
 * const source = bytesSource(new TextEncoder().encode("hello"));
 * ```
 */
export function bytesSource(bytes: Uint8Array, options: Pick<BlockIoOptions, "mode"> = {}): BlockSource {
  let position = 0;
  let data = bytes;
  if (options.mode === "netascii") {
    const encoded = new Uint8Array(bytes.length * 2);
    data = encoded.subarray(0, encodeNetascii(bytes, encoded));
  }
  return {
    read(into) {
      const n = Math.min(into.length, data.length - position);
      into.set(data.subarray(position, position + n));
      position += n;
      return n;
    },
  };
}

/**
 * A sink that gathers chunks and hands each full one to `writer.write`
 * (an `AtomicFile`, say) while the next fills, and in netascii mode converts
 * back to local line ends.
 *
 * @example Usage
 * ```ts
 * import { writerSink } from "./block_io.ts";
 * const chunks: Uint8Array[] = [];
 * const sink = writerSink({ write: (bytes) => Promise.resolve(void chunks.push(bytes.slice())) });
 * await sink.write(new TextEncoder().encode("hello"));
 * await sink.flush();
 * ```
 */
export function writerSink(writer: { write(p: Uint8Array): Promise<void> }, options: BlockIoOptions = {}): BlockSink {
  return new ChunkedSink(writer, chunkSize(options), options.mode === "netascii");
}

class ChunkedSink implements BlockSink {
  #writer: { write(p: Uint8Array): Promise<void> };
  #buffer: Uint8Array;
  #spare: Uint8Array;
  #length = 0;
  #writing: Promise<void> | undefined;
  #decoder: NetasciiDecoder | undefined;

  constructor(writer: { write(p: Uint8Array): Promise<void> }, chunkSize: number, netascii: boolean) {
    this.#writer = writer;
    this.#buffer = new Uint8Array(chunkSize);
    this.#spare = new Uint8Array(chunkSize);
    if (netascii) this.#decoder = new NetasciiDecoder();
  }

  write(payload: Uint8Array): Promise<void> | void {
    // Room for a netascii CR carried over from the previous block.
    const needed = payload.length + 1;
    if (this.#length + needed > this.#buffer.length) return this.#spill().then(() => this.#append(payload));
    this.#append(payload);
  }

  #append(payload: Uint8Array): void {
    if (payload.length + 1 > this.#buffer.length) {
      // A block larger than a chunk (tiny chunk sizes in tests): grow.
      const larger = new Uint8Array(payload.length + 1 + this.#length);
      larger.set(this.#buffer.subarray(0, this.#length));
      this.#buffer = larger;
    }
    if (this.#decoder) {
      this.#length += this.#decoder.decode(payload, this.#buffer.subarray(this.#length));
    } else {
      this.#buffer.set(payload, this.#length);
      this.#length += payload.length;
    }
  }

  /** Starts writing the full buffer and switches to the spare one. */
  async #spill(): Promise<void> {
    await this.#writing;
    this.#writing = undefined;
    if (this.#length === 0) return;
    const full = this.#buffer.subarray(0, this.#length);
    [this.#buffer, this.#spare] = [this.#spare, this.#buffer];
    this.#length = 0;
    const writing = this.#writer.write(full);
    this.#writing = writing;
    writing.catch(() => {}); // surfaces from the next spill or flush
  }

  async flush(): Promise<void> {
    if (this.#decoder) {
      if (this.#length + 1 > this.#buffer.length) await this.#spill();
      this.#length += this.#decoder.end(this.#buffer.subarray(this.#length));
    }
    await this.#spill();
    await this.#writing;
    this.#writing = undefined;
  }
}

/**
 * A sink that keeps everything in memory (for small transfers and tests).
 *
 * @example Usage
 * ```ts
 * import { memorySink } from "./block_io.ts";
 * const sink = memorySink();
 * sink.write(new TextEncoder().encode("hi"));
 * await sink.flush();
 * console.log(sink.bytes()); // Uint8Array "hi"
 * ```
 */
export function memorySink(options: Pick<BlockIoOptions, "mode"> = {}): BlockSink & { bytes(): Uint8Array } {
  const chunks: Uint8Array[] = [];
  const sink = writerSink({ write: (bytes) => Promise.resolve(void chunks.push(bytes.slice())) }, {
    mode: options.mode,
    chunkSize: 64 * 1024,
  });
  return {
    write: (payload) => sink.write(payload),
    flush: () => sink.flush(),
    bytes() {
      const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
      const out = new Uint8Array(total);
      let offset = 0;
      for (const chunk of chunks) {
        out.set(chunk, offset);
        offset += chunk.length;
      }
      return out;
    },
  };
}
