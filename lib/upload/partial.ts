/**
 * Partial uploads: the temporary file an unfinished upload leaves beside its
 * target, named after a key of the name, size and client id, so only the same
 * file can continue it; and the sweep that removes the ones nobody came back for.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join } from "node:path";
import { temporaryPathFor } from "../fs/atomic_file.ts";

// ".<name>.<32 hex digits>.part": the shape of every temporary file the upload server makes.
const PARTIAL_NAME = /^\..+\.[0-9a-f]{32}\.part$/s;

/**
 * The key a partial upload is kept under: 32 hex digits of SHA-256 over the
 * stored name, the size and the client's id for the file.
 *
 * @example Usage
 * ```ts
 * import { partialKey } from "./partial.ts";
 * partialKey("photos/cat.jpg", 1024, "a1b2"); // "5d0c…" (32 hex digits)
 * ```
 */
export function partialKey(name: string, size: number, id = ""): string {
  return createHash("sha256").update(`wirebox-upload\0${name}\0${size}\0${id}`).digest("hex").slice(0, 32);
}

/**
 * A key no other upload will have (for uploads that cannot be resumed).
 *
 * @example Usage
 * ```ts
 * import { randomKey } from "./partial.ts";
 * randomKey().length; // 32
 * ```
 */
export function randomKey(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The temporary path of the upload of `path` under `key`.
 *
 * @example Usage
 * ```ts
 * import { partialPath } from "./partial.ts";
 * partialPath("/srv/up/cat.jpg", "0123456789abcdef0123456789abcdef"); // "/srv/up/.cat.jpg.0123….part"
 * ```
 */
export function partialPath(path: string, key: string): string {
  return temporaryPathFor(path, key);
}

/**
 * Whether a file name has the shape of a partial upload (such names are
 * refused as upload names, so an upload can never replace another's partial data).
 *
 * @example Usage
 * ```ts
 * import { isPartialName } from "./partial.ts";
 * isPartialName(".cat.jpg.0123456789abcdef0123456789abcdef.part"); // true
 * isPartialName("cat.jpg"); // false
 * ```
 */
export function isPartialName(name: string): boolean {
  return PARTIAL_NAME.test(name);
}

/** Options for {@linkcode sweepPartials}. */
export interface SweepOptions {
  /** Remove partial uploads last written longer ago than this, in milliseconds. */
  maxAgeMs: number;
  /** Temporary paths in use right now: never removed. */
  inUse?: Set<string>;
  /** Stops the sweep early. */
  signal?: AbortSignal;
}

/**
 * Removes the partial uploads under `root` (at any depth, symbolic links not
 * followed) that nobody has written to for `maxAgeMs`; resolves to how many.
 *
 * @example Usage
 * ```ts
 * import { sweepPartials } from "./partial.ts";
 * const root = await Deno.makeTempDir();
 * console.log(await sweepPartials(root, { maxAgeMs: 24 * 3600_000 })); // 0
 * ```
 */
export async function sweepPartials(root: string, options: SweepOptions): Promise<number> {
  const now = Date.now();
  let removed = 0;
  const visit = async (dir: string): Promise<void> => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch {
      return; // removed or unreadable meanwhile
    }
    for (const entry of entries) {
      if (options.signal?.aborted) return;
      const path = join(dir, entry.name);
      if (entry.isDirectory) {
        await visit(path);
      } else if (entry.isFile && isPartialName(entry.name) && !options.inUse?.has(path)) {
        const info = await Deno.lstat(path).catch(() => undefined);
        const age = now - (info?.mtime?.getTime() ?? now);
        if (info?.isFile && age > options.maxAgeMs) {
          await Deno.remove(path).then(() => removed++, () => {});
        }
      }
    }
  };
  await visit(root);
  return removed;
}
