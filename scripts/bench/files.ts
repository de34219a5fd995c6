/**
 * Test files for transfers, and their SHA-256, streamed (never whole in memory).
 *
 * @module
 */

import { createHash } from "node:crypto";

/** Writes `bytes` of random data to `path`. */
export async function randomFile(path: string, bytes: number): Promise<void> {
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  const chunk = new Uint8Array(1 << 20);
  for (let written = 0; written < bytes;) {
    const size = Math.min(chunk.length, bytes - written);
    for (let offset = 0; offset < size; offset += 65536) {
      crypto.getRandomValues(chunk.subarray(offset, Math.min(offset + 65536, size)));
    }
    let done = 0;
    while (done < size) done += await file.write(chunk.subarray(done, size));
    written += size;
  }
}

/** The SHA-256 of a file, hex. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path);
  const buffer = new Uint8Array(1 << 20);
  for (let n; (n = await file.read(buffer)) !== null;) hash.update(buffer.subarray(0, n));
  return hash.digest("hex");
}

/** Throws unless the file at `path` has the expected SHA-256. */
export async function verifyFile(path: string, expected: string, what: string): Promise<void> {
  let actual: string;
  try {
    actual = await sha256File(path);
  } catch (error) {
    throw new Error(`${what}: no file to verify (${(error as Error).message})`);
  }
  if (actual !== expected) throw new Error(`${what}: SHA-256 mismatch (got ${actual.slice(0, 12)}…)`);
}
