/**
 * File-system errors as a CLI line says them.
 *
 * @module
 */

/**
 * The reason of a file-system error in plain words, without Deno's
 * `(os error N)` and the `: mkdir '/path'` it appends (the caller names the
 * path in its own sentence): `not a directory`, `permission denied`.
 *
 * @example Usage
 * ```ts
 * import { fsReason } from "./fs_error.ts";
 * try {
 *   Deno.mkdirSync("/dev/null/x");
 * } catch (error) {
 *   console.log(`Cannot create /dev/null/x: ${fsReason(error)}`); // "...: not a directory"
 * }
 * ```
 */
export function fsReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message
    .replace(/\s*\(os error \d+\)(: \w+ '.*')?$/s, "")
    .replace(/^[A-Z](?![A-Z])/, (c) => c.toLowerCase());
}
