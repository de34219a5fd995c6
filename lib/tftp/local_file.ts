/**
 * A transfer thread's own access to the file of a transfer (octet mode, the
 * ffi backend): it opens the file the main thread vetted, checks it is that
 * very file, and reads or writes it with synchronous calls, so that the data
 * never crosses between threads and large blocks are read straight into the
 * packet and written straight from it, as tftpd-hpa does.
 *
 * @module
 */

import { type BlockSink, type BlockSource, ChunkSource, type FileIdentity } from "./block_io.ts";

/** From this block size up, a block is one system call to the file rather than a copy through a chunk. */
const DIRECT_BYTES = 16 * 1024;

/**
 * Opens `file` for reading or (without creating or truncating) writing, and
 * refuses it with `PermissionDenied` unless it is still the file that was
 * vetted: a path swapped for another file (or a symlink) since then is not
 * followed.
 *
 * @example Usage
 * ```ts
 * import { openVetted } from "./local_file.ts";
 * const { dev, ino } = await Deno.stat("deno.json");
 * using file = openVetted({ path: "deno.json", dev: dev!, ino: ino! }, "read");
 * ```
 */
export function openVetted(file: FileIdentity, access: "read" | "write"): Deno.FsFile {
  const handle = Deno.openSync(file.path, access === "read" ? { read: true } : { write: true });
  try {
    const info = handle.statSync();
    if (info.dev !== file.dev || info.ino !== file.ino) {
      throw new Deno.errors.PermissionDenied("Access violation: the file was replaced while being opened");
    }
    return handle;
  } catch (error) {
    handle.close();
    throw error;
  }
}

/** A vetted file, opened at its first use (so that a failure to open is the transfer's, reported to the peer). */
class LazyFile {
  #identity: FileIdentity;
  #access: "read" | "write";
  #file: Deno.FsFile | undefined;
  #closed = false;

  constructor(identity: FileIdentity, access: "read" | "write") {
    this.#identity = identity;
    this.#access = access;
  }

  get file(): Deno.FsFile {
    if (this.#closed) throw new Deno.errors.BadResource(`${this.#identity.path} is closed`);
    return this.#file ??= openVetted(this.#identity, this.#access);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#file?.close();
  }
}

/**
 * Blocks read from the vetted file on this thread: a large block straight
 * into the packet, small ones copied out of chunks of `chunkBytes`.
 * `close()` closes the file.
 *
 * @example Usage
 * ```ts
 * import { localFileSource } from "./local_file.ts";
 * const { dev, ino } = await Deno.stat("deno.json");
 * const source = localFileSource({ path: "deno.json", dev: dev!, ino: ino! }, 512, 256 * 1024);
 * await source.read(new Uint8Array(512));
 * source.close();
 * ```
 */
export function localFileSource(
  identity: FileIdentity,
  blksize: number,
  chunkBytes: number,
): BlockSource & { close(): void } {
  const lazy = new LazyFile(identity, "read");
  const close = () => lazy.close();
  if (blksize >= DIRECT_BYTES) return { read: (into) => readFully(lazy.file, into), close };
  const chunk = new Uint8Array(Math.max(chunkBytes, blksize));
  // One buffer will do: ChunkSource asks for the next chunk only once it has copied out the last.
  const chunks = new ChunkSource(() => {
    const length = readFully(lazy.file, chunk);
    return Promise.resolve(length === 0 ? null : chunk.subarray(0, length));
  });
  return { read: (into) => chunks.read(into), close };
}

function readFully(file: Deno.FsFile, into: Uint8Array): number {
  let filled = 0;
  while (filled < into.length) {
    const n = file.readSync(into.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return filled;
}

function writeFully(file: Deno.FsFile, bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
}

/**
 * A sink that writes blocks to the vetted (empty) file on this thread, large
 * blocks at once and small ones gathered into chunks of `chunkBytes`; on
 * `flush()` it closes the file and then awaits `finish()`: the main thread's
 * part (say, renaming the complete file into place) before the final ACK.
 *
 * @example Usage
 * ```ts
 * import { LocalFileSink } from "./local_file.ts";
 * const path = await Deno.makeTempFile();
 * const { dev, ino } = await Deno.stat(path);
 * const sink = new LocalFileSink({ path, dev: dev!, ino: ino! }, 256 * 1024, () => Promise.resolve());
 * sink.write(new Uint8Array(512));
 * await sink.flush(); // written and closed
 * ```
 */
export class LocalFileSink implements BlockSink {
  #lazy: LazyFile;
  #chunkBytes: number;
  // Made at the first small block: with large blocks, only the short last one (if any) is gathered.
  #chunk: Uint8Array | undefined;
  #length = 0;
  #finish: () => Promise<void>;

  constructor(identity: FileIdentity, chunkBytes: number, finish: () => Promise<void>) {
    this.#lazy = new LazyFile(identity, "write");
    this.#chunkBytes = chunkBytes;
    this.#finish = finish;
  }

  write(payload: Uint8Array): void {
    if (this.#length + payload.length > this.#chunkBytes) this.#spill();
    if (this.#length === 0 && (payload.length >= DIRECT_BYTES || payload.length > this.#chunkBytes)) {
      writeFully(this.#lazy.file, payload);
      return;
    }
    this.#chunk ??= new Uint8Array(this.#chunkBytes);
    this.#chunk.set(payload, this.#length);
    this.#length += payload.length;
  }

  #spill(): void {
    // Opened even when nothing is left to write, so that an empty upload is vetted too.
    const file = this.#lazy.file;
    if (this.#length === 0) return;
    writeFully(file, this.#chunk!.subarray(0, this.#length));
    this.#length = 0;
  }

  async flush(): Promise<void> {
    this.#spill();
    this.close();
    await this.#finish();
  }

  /** Closes the file (once); what was not flushed is dropped. */
  close(): void {
    this.#lazy.close();
  }
}
