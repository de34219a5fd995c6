/**
 * Small byte-moving helpers shared by every tool.
 *
 * @module
 */

/**
 * Writes all of `bytes` (a single `write()` may take only part).
 *
 * @example Usage
 * ```ts
 * import { writeAll } from "./io.ts";
 * await writeAll(Deno.stdout, new TextEncoder().encode("hello\n"));
 * ```
 */
export async function writeAll(writer: { write(p: Uint8Array): Promise<number> }, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await writer.write(bytes.subarray(offset));
}
