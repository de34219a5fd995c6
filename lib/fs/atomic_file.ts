/**
 * A file that appears under its final name only when it is complete: bytes
 * go to a temporary name beside the target, are flushed to disk, and are
 * renamed into place. An aborted write leaves nothing under the final name.
 *
 * @module
 */

import { basename, dirname, extname, join } from "node:path";

/** What to do when the final name is already taken at commit time. */
export type ConflictPolicy = "overwrite" | "reject" | "rename";

/** Options for {@linkcode AtomicFile.create}. */
export interface AtomicFileOptions {
  /** Temporary path to write to. It must be in the target's directory, so the
   * rename stays on one file system.
   * @default {".<name>.<random>.part" beside the target} */
  tempPath?: string;
  /** Keep what `tempPath` already holds and append to it (resuming a transfer).
   * @default {false} */
  append?: boolean;
  /** Leave the temporary file in place on `abort()` (so a transfer can resume later).
   * @default {false} */
  keepOnAbort?: boolean;
  /** Flush data and the directory entry to disk before the file counts as complete.
   * @default {true} */
  fsync?: boolean;
  /** Permission bits of the new file.
   * @default {0o644} */
  mode?: number;
  /** Start flushing written data to disk in the background each time this many
   * more bytes have been written, so the flush at `commit()` has little left to
   * do and a large file's disk writes overlap its transfer (0: flush only at commit).
   * Has no effect with `fsync: false`.
   * @default {0} */
  syncEveryBytes?: number;
}

/** Options for {@linkcode AtomicFile.commit}. */
export interface CommitOptions {
  /** When the final name exists: replace it, fail with `Deno.errors.AlreadyExists`,
   * or pick a free name `name (1).ext`, `name (2).ext`...
   * @default {"overwrite"} */
  onConflict?: ConflictPolicy;
}

const MAX_RENAME_ATTEMPTS = 10_000;

/**
 * A file being written under a temporary name.
 *
 * @example Usage
 * ```ts
 * import { AtomicFile } from "./atomic_file.ts";
 * const dir = await Deno.makeTempDir();
 * const file = await AtomicFile.create(`${dir}/report.pdf`);
 * try {
 *   await file.write(new TextEncoder().encode("%PDF-1.7 ..."));
 *   const stored = await file.commit({ onConflict: "rename" });
 *   console.log(stored); // ".../report.pdf", or ".../report (1).pdf" if that was taken
 * } finally {
 *   await file.abort(); // no-op after commit; removes the temporary file otherwise
 * }
 * ```
 */
export class AtomicFile {
  #file: Deno.FsFile | undefined;
  #options: AtomicFileOptions;
  #written: number;
  #done = false;
  #syncer: Deno.FsFile | undefined;
  #syncing: Promise<void> | undefined;
  #syncedAt: number;

  /** The final path the file is meant for. */
  readonly path: string;
  /** Where the bytes are being written. */
  readonly tempPath: string;

  private constructor(path: string, tempPath: string, file: Deno.FsFile, offset: number, options: AtomicFileOptions) {
    this.path = path;
    this.tempPath = tempPath;
    this.#file = file;
    this.#written = offset;
    this.#syncedAt = offset;
    this.#options = options;
  }

  /** Opens a temporary file for `path` (creating nothing under `path` itself). */
  static async create(path: string, options: AtomicFileOptions = {}): Promise<AtomicFile> {
    const tempPath = options.tempPath ?? temporaryPathFor(path);
    if (dirname(tempPath) !== dirname(path)) {
      throw new TypeError(`Temporary file ${tempPath} must be in the same directory as ${path}`);
    }
    const file = await Deno.open(tempPath, {
      write: true,
      create: true,
      createNew: !options.append && options.tempPath === undefined,
      truncate: !options.append,
      append: options.append ?? false,
      mode: options.mode ?? 0o644,
    });
    const offset = options.append ? (await file.stat()).size : 0;
    return new AtomicFile(path, tempPath, file, offset, options);
  }

  /** Bytes in the temporary file so far (including any resumed from before). */
  get bytesWritten(): number {
    return this.#written;
  }

  /** The temporary file's metadata. */
  stat(): Promise<Deno.FileInfo> {
    return this.#open().stat();
  }

  /** Appends `bytes` (all of them). */
  async write(bytes: Uint8Array): Promise<void> {
    const file = this.#open();
    let offset = 0;
    while (offset < bytes.length) offset += await file.write(bytes.subarray(offset));
    this.#written += bytes.length;
    this.#syncInBackground();
  }

  /**
   * Flushes, closes and renames the file into place; returns the path it was
   * stored under (which differs from `path` when `onConflict` is "rename").
   */
  async commit(options: CommitOptions = {}): Promise<string> {
    const file = this.#open();
    const fsync = this.#options.fsync ?? true;
    await this.#stopBackgroundSync();
    if (fsync) await file.sync();
    file.close();
    this.#file = undefined;
    let finalPath: string;
    try {
      finalPath = await placeFile(this.tempPath, this.path, options.onConflict ?? "overwrite");
    } catch (error) {
      await this.abort();
      throw error;
    }
    this.#done = true;
    if (fsync) await syncDirectory(dirname(finalPath));
    return finalPath;
  }

  /** Closes and removes the temporary file, unless committed (or `keepOnAbort`). Safe to call twice. */
  async abort(): Promise<void> {
    await this.#stopBackgroundSync();
    if (this.#file) {
      try {
        this.#file.close();
      } catch { /* already closed */ }
      this.#file = undefined;
    }
    if (this.#done) return;
    this.#done = true;
    if (!this.#options.keepOnAbort) await Deno.remove(this.tempPath).catch(() => {});
  }

  /** Same as `abort()`, so `await using` cleans up a file that was not committed. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.abort();
  }

  // A second descriptor, so the flush never waits behind (or holds up) a write on the first.
  #syncInBackground(): void {
    const every = this.#options.syncEveryBytes ?? 0;
    if (every <= 0 || this.#options.fsync === false || this.#syncing) return;
    if (this.#written - this.#syncedAt < every) return;
    this.#syncedAt = this.#written;
    this.#syncing = (async () => {
      try {
        this.#syncer ??= await Deno.open(this.tempPath, { read: true });
        await this.#syncer.syncData();
      } catch { /* the flush at commit reports a real failure */ }
    })().finally(() => this.#syncing = undefined);
  }

  async #stopBackgroundSync(): Promise<void> {
    await this.#syncing;
    if (this.#syncer) {
      try {
        this.#syncer.close();
      } catch { /* already closed */ }
      this.#syncer = undefined;
    }
  }

  #open(): Deno.FsFile {
    if (!this.#file) throw new Deno.errors.BadResource(`${this.path} is already committed or aborted`);
    return this.#file;
  }
}

const MAX_FILE_NAME_BYTES = 255;

/**
 * `.name.<tag>.part` beside `path`: hidden, and recognisable as unfinished.
 * `tag` defaults to a random word; pass a fixed one to find the file again
 * (to resume a transfer). A long name is shortened so the temporary name still
 * fits the file system's 255-byte limit.
 *
 * @example Usage
 * ```ts
 * import { temporaryPathFor } from "./atomic_file.ts";
 * temporaryPathFor("/srv/report.pdf", "1f2e3d"); // "/srv/.report.pdf.1f2e3d.part"
 * ```
 */
export function temporaryPathFor(path: string, tag?: string): string {
  const suffix = `.${tag ?? crypto.getRandomValues(new Uint32Array(1))[0].toString(36)}.part`;
  const room = MAX_FILE_NAME_BYTES - 1 - encoder.encode(suffix).length;
  return join(dirname(path), `.${truncateUtf8(basename(path), room)}${suffix}`);
}

const encoder = new TextEncoder();

// The longest prefix of `text` that fits in `maxBytes` of UTF-8, cut between characters.
function truncateUtf8(text: string, maxBytes: number): string {
  if (encoder.encode(text).length <= maxBytes) return text;
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = encoder.encode(char).length;
    if (bytes + size > maxBytes) break;
    bytes += size;
    end += char.length;
  }
  return text.slice(0, end);
}

/**
 * `report.pdf` → `report (1).pdf`, `report (2).pdf`... for the n-th alternative.
 *
 * @example Usage
 * ```ts
 * import { alternativeName } from "./atomic_file.ts";
 * alternativeName("/srv/report.pdf", 2); // "/srv/report (2).pdf"
 * ```
 */
export function alternativeName(path: string, n: number): string {
  const name = basename(path);
  // Dotfiles like ".bashrc" have no extension to keep apart.
  const ext = name.startsWith(".") && name.indexOf(".", 1) < 0 ? "" : extname(name);
  const tag = ` (${n})${ext}`;
  // Shorten the stem so the alternative still fits the 255-byte limit of a file name.
  const stem = truncateUtf8(name.slice(0, name.length - ext.length), MAX_FILE_NAME_BYTES - encoder.encode(tag).length);
  return join(dirname(path), `${stem}${tag}`);
}

async function placeFile(tempPath: string, path: string, policy: ConflictPolicy): Promise<string> {
  if (policy === "overwrite") {
    await Deno.rename(tempPath, path);
    return path;
  }
  for (let n = 0; n < MAX_RENAME_ATTEMPTS; n++) {
    const candidate = n === 0 ? path : alternativeName(path, n);
    if (await linkNoClobber(tempPath, candidate)) {
      await Deno.remove(tempPath);
      return candidate;
    }
    if (policy === "reject") throw new Deno.errors.AlreadyExists(`${basename(path)} already exists`);
  }
  throw new Deno.errors.AlreadyExists(`No free name for ${basename(path)} after ${MAX_RENAME_ATTEMPTS} tries`);
}

// A hard link fails when the name exists, so two writers can never both win
// the same name (a check-then-rename could let both through).
async function linkNoClobber(from: string, to: string): Promise<boolean> {
  try {
    await Deno.link(from, to);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return false;
    if (error instanceof Deno.errors.NotSupported || error instanceof Deno.errors.PermissionDenied) {
      // File systems without hard links (FAT, some network mounts): check, then rename.
      if (await exists(to)) return false;
      await Deno.rename(from, to);
      await Deno.writeFile(from, new Uint8Array()); // the caller removes the temporary name
      return true;
    }
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Flushes a file already in place, and its directory entry, to disk. For
 * writers that commit with `fsync: false`, so that the complete file appears
 * at once (a network peer told "done" finds it), and make it durable right
 * after, off the critical path.
 *
 * @example Usage
 * ```ts
 * import { AtomicFile, syncToDisk } from "./atomic_file.ts";
 * const dir = await Deno.makeTempDir();
 * const file = await AtomicFile.create(`${dir}/upload.bin`, { fsync: false });
 * await file.write(new Uint8Array(1024));
 * const path = await file.commit(); // renamed into place, not yet flushed
 * await syncToDisk(path);
 * ```
 */
export async function syncToDisk(path: string): Promise<void> {
  {
    using file = await Deno.open(path, { read: true });
    await file.sync();
  }
  await syncDirectory(dirname(path));
}

async function syncDirectory(dir: string): Promise<void> {
  try {
    using handle = await Deno.open(dir, { read: true });
    await handle.sync();
  } catch { /* some platforms cannot open or sync a directory; the rename itself stands */ }
}
