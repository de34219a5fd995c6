/**
 * The client's list of what to send: files as they are, directories walked
 * recursively, each with the name it will have on the server.
 *
 * @module
 */

import { basename, join, resolve } from "node:path";
import { checkName } from "../fs/safe_path.ts";

/** A local file to upload. */
export interface LocalFile {
  /** Where it is on this machine (absolute). */
  path: string;
  /** The name it is sent under: relative, "/"-separated. */
  name: string;
  /** Its size in bytes when it was listed. */
  size: number;
  /** Its modification time when it was listed (milliseconds since the epoch). */
  mtimeMs: number;
}

/** Options for {@linkcode collectFiles}. */
export interface CollectOptions {
  /** With exactly one path: the name to send it under (for a directory, the name of the top folder). */
  name?: string;
  /** Told about every entry that is left out (a symbolic link to a folder, a socket, a device) and why. */
  onSkip?: (path: string, why: string) => void;
}

/**
 * Lists the files to send for `paths`: a file under its own name (or
 * `options.name`), a directory's files under `dir/relative/path`, in name
 * order. Symbolic links to files are followed; links to folders are skipped
 * (they could loop). Throws `Deno.errors.NotFound` for a path that does not
 * exist and `Deno.errors.PermissionDenied` for a name the server would refuse.
 *
 * @example Usage
 * ```ts
 * import { collectFiles } from "./files.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "hello");
 * const files = await collectFiles([dir], { name: "notes" });
 * console.log(files.map((file) => file.name)); // ["notes/a.txt"]
 * ```
 */
export async function collectFiles(paths: string[], options: CollectOptions = {}): Promise<LocalFile[]> {
  if (options.name !== undefined && paths.length !== 1) {
    throw new RangeError("A name can be given only when sending exactly one file or folder");
  }
  const files: LocalFile[] = [];
  for (const given of paths) {
    const path = resolve(given);
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new Deno.errors.NotFound(`Cannot send ${given}: no such file or folder`);
      }
      throw error;
    }
    const name = options.name ?? (basename(path) || "root");
    if (info.isDirectory) {
      await walk(path, checkName(name), files, options);
    } else if (info.isFile) {
      files.push(describe(path, checkName(name), info));
    } else {
      throw new Deno.errors.InvalidData(`Cannot send ${given}: it is not a file or a folder`);
    }
  }
  return files;
}

async function walk(dir: string, prefix: string, into: LocalFile[], options: CollectOptions): Promise<void> {
  const entries = (await Array.fromAsync(Deno.readDir(dir))).sort((a, b) => a.name < b.name ? -1 : 1);
  for (const entry of entries) {
    const path = join(dir, entry.name);
    const name = `${prefix}/${entry.name}`;
    if (entry.isDirectory) {
      await walk(path, name, into, options);
      continue;
    }
    const info = entry.isSymlink ? await Deno.stat(path).catch(() => undefined) : await Deno.stat(path);
    if (info?.isFile) {
      into.push(describe(path, checkName(name), info));
    } else {
      const why = !info
        ? "a broken symbolic link"
        : info.isDirectory
        ? "a symbolic link to a folder"
        : "not a regular file";
      options.onSkip?.(path, why);
    }
  }
}

function describe(path: string, name: string, info: Deno.FileInfo): LocalFile {
  return { path, name, size: info.size, mtimeMs: info.mtime?.getTime() ?? 0 };
}
