/**
 * The server's hot path: bytes from a connection into an atomic file,
 * hashed in the same pass. Two buffers take turns, so the disk write of one
 * overlaps the socket read and the hashing of the next; memory per upload is
 * those two buffers, whatever the file's size.
 *
 * @module
 */

import type { Hash } from "node:crypto";
import type { AtomicFile } from "../fs/atomic_file.ts";
import type { ByteSource } from "./conn_reader.ts";

/** Bytes per receive buffer (an upload uses two). */
export const RECEIVE_BUFFER_BYTES = 512 * 1024;

/** Where {@linkcode receiveInto} puts the bytes: the file, and the hash that sees every byte. */
export interface ReceiveTarget {
  /** The file being written. */
  file: AtomicFile;
  /** Updated with every byte written. */
  hash: Hash;
}

/** Options for {@linkcode receiveInto}. */
export interface ReceiveOptions {
  /** Receive exactly this many bytes; without it, receive until the peer closes. */
  length?: number;
  /** Until-close only: give up once more than this many bytes have come. */
  maxBytes?: number;
  /** The two buffers to take turns with (reused across uploads on one connection).
   * @default {two new buffers of RECEIVE_BUFFER_BYTES} */
  buffers?: [Uint8Array, Uint8Array];
  /** Called after each write is started, with the bytes received so far by this call. */
  onProgress?: (bytes: number) => void;
}

/** How {@linkcode receiveInto} ended, and the bytes it wrote. */
export type ReceiveResult =
  | { ended: "complete" | "eof" | "too-large"; bytes: number }
  | { ended: "write-failed" | "read-failed"; bytes: number; error: unknown };

/**
 * Reads from `source` into `target.file`, updating `target.hash` with every byte. Never
 * throws: a full disk, a reset connection, or an early end come back as the
 * result's `ended` ("complete" means `length` bytes arrived; "eof" that the
 * peer closed, before `length` if one was given).
 *
 * @example Usage
 * ```ts
 * import { createHash } from "node:crypto";
 * import { AtomicFile } from "../fs/atomic_file.ts";
 * import { receiveInto } from "./receive.ts";
 * const dir = await Deno.makeTempDir();
 * const file = await AtomicFile.create(`${dir}/copy.bin`);
 * const hash = createHash("sha256");
 * const chunks = [new Uint8Array([1, 2, 3])];
 * const source = {
 *   read(into: Uint8Array): Promise<number | null> {
 *     const next = chunks.shift();
 *     if (!next) return Promise.resolve(null);
 *     into.set(next);
 *     return Promise.resolve(next.length);
 *   },
 * };
 * const result = await receiveInto(source, { file, hash }, { length: 3 });
 * console.log(result); // { ended: "complete", bytes: 3 }
 * await file.commit();
 * ```
 */
export async function receiveInto(
  source: ByteSource,
  target: ReceiveTarget,
  options: ReceiveOptions = {},
): Promise<ReceiveResult> {
  const { file, hash } = target;
  const buffers = options.buffers ?? [new Uint8Array(RECEIVE_BUFFER_BYTES), new Uint8Array(RECEIVE_BUFFER_BYTES)];
  const { length, maxBytes = Infinity } = options;
  let received = 0;
  let turn = 0;
  let writing: Promise<unknown> | undefined;
  // A write's failure, once seen; the loop stops at the next turn.
  let writeError: { error: unknown } | undefined;
  const track = (write: Promise<void>) => write.catch((error) => writeError = { error });
  try {
    while (length === undefined || received < length) {
      const buffer = buffers[turn];
      const want = length === undefined ? buffer.length : Math.min(buffer.length, length - received);
      let n: number | null;
      try {
        n = await source.read(buffer.subarray(0, want));
      } catch (error) {
        await writing;
        return writeError ? { ended: "write-failed", bytes: received, ...writeError } : {
          ended: "read-failed",
          bytes: received,
          error,
        };
      }
      if (n === null) break;
      received += n;
      if (received > maxBytes) {
        await writing;
        return { ended: "too-large", bytes: received - n };
      }
      const chunk = buffer.subarray(0, n);
      hash.update(chunk);
      await writing;
      if (writeError) return { ended: "write-failed", bytes: received - n, ...writeError };
      writing = track(file.write(chunk));
      options.onProgress?.(received);
      turn ^= 1;
    }
    await writing;
    writing = undefined;
    if (writeError) return { ended: "write-failed", bytes: received, ...writeError };
    return { ended: length === undefined || received < length ? "eof" : "complete", bytes: received };
  } finally {
    await writing;
  }
}
