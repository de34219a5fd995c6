/**
 * Resolving an untrusted relative name inside a root directory. Names come
 * from the network (upload headers, TFTP requests); every one is checked
 * here, once, before it touches the file system.
 *
 * @module
 */

import { isAbsolute, join, relative, resolve, sep } from "node:path";

/** Options for {@linkcode resolveInside}. */
export interface ResolveInsideOptions {
  /** Create missing parent directories (inside the root only).
   * @default {false} */
  createParents?: boolean;
  /** Read "\\" as a path separator, as Windows and PXE clients send it.
   * @default {false} */
  backslashIsSeparator?: boolean;
  /** Accept a leading "/" as meaning the root itself (TFTP clients often send one).
   * @default {false} */
  allowLeadingSlash?: boolean;
}

/** A name accepted by {@linkcode resolveInside}. */
export interface ResolvedPath {
  /** Absolute path on disk, inside the root. */
  path: string;
  /** The name normalised: relative, "/"-separated, no "." or "..". */
  name: string;
}

const MAX_NAME_BYTES = 4096;
const MAX_COMPONENT_BYTES = 255;
const encoder = new TextEncoder();

/**
 * Checks an untrusted name without touching the disk and returns its
 * normalised "/"-separated form. Refuses, with `Deno.errors.PermissionDenied`
 * and a message saying why: empty names, absolute paths, drive letters, `..`,
 * `.` and empty components, control characters, bidirectional overrides (which
 * make a name display as something else: "\u202Efdp.exe" shows as "exe.pdf"),
 * and overlong names.
 *
 * @example Usage
 * ```ts
 * import { checkName } from "./safe_path.ts";
 * checkName("photos/cat.jpg"); // "photos/cat.jpg"
 * try {
 *   checkName("../etc/passwd");
 * } catch (error) {
 *   console.log((error as Error).message); // Refused name "../etc/passwd": ".." is not allowed
 * }
 * ```
 */
export function checkName(name: string, options: ResolveInsideOptions = {}): string {
  const refuse = (why: string) => new Deno.errors.PermissionDenied(`Refused name ${quoteName(name)}: ${why}`);
  let text = options.backslashIsSeparator ? name.replaceAll("\\", "/") : name;
  if (text === "") throw refuse("the name is empty");
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f-\x9f\u2028\u2029]/.test(text)) throw refuse("control characters are not allowed");
  if (/[\u202a-\u202e\u2066-\u2069]/.test(text)) throw refuse("bidirectional text overrides are not allowed");
  if (encoder.encode(text).length > MAX_NAME_BYTES) throw refuse(`longer than ${MAX_NAME_BYTES} bytes`);
  if (/^[a-zA-Z]:/.test(text)) throw refuse("drive letters are not allowed");
  if (text.startsWith("/")) {
    if (!options.allowLeadingSlash) throw refuse("absolute paths are not allowed");
    text = text.replace(/^\/+/, "");
  }
  if (!options.backslashIsSeparator && text.includes("\\")) throw refuse('"\\" is not allowed');
  const parts = text.split("/");
  for (const part of parts) {
    if (part === "..") throw refuse('".." is not allowed');
    if (part === "" || part === ".") throw refuse('empty or "." path components are not allowed');
    if (encoder.encode(part).length > MAX_COMPONENT_BYTES) {
      throw refuse(`a path component is longer than ${MAX_COMPONENT_BYTES} bytes`);
    }
  }
  return parts.join("/");
}

// JSON quoting escapes control characters; bidirectional overrides are escaped too,
// so the message shows the name as it is.
function quoteName(name: string): string {
  return JSON.stringify(name).replace(/[\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

/**
 * Resolves an untrusted relative `name` inside `root`. Besides everything
 * {@linkcode checkName} refuses, refuses names that lead out of the root
 * through a symbolic link (at any depth, existing file included). With
 * `createParents`, creates missing directories one at a time, checking each.
 *
 * @example Usage
 * ```ts
 * import { resolveInside } from "./safe_path.ts";
 * const root = await Deno.makeTempDir();
 * const { path } = await resolveInside(root, "photos/cat.jpg", { createParents: true });
 * console.log(path); // <root>/photos/cat.jpg
 * ```
 */
export async function resolveInside(
  root: string,
  name: string,
  options: ResolveInsideOptions = {},
): Promise<ResolvedPath> {
  const clean = checkName(name, options);
  const realRoot = await Deno.realPath(root);
  const parts = clean.split("/");
  let current = realRoot;
  for (let i = 0; i < parts.length; i++) {
    const next = join(current, parts[i]);
    const isLast = i === parts.length - 1;
    let info: Deno.FileInfo | undefined;
    try {
      info = await Deno.lstat(next);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    if (info?.isSymlink) {
      const target = await Deno.realPath(next).catch(() => undefined);
      if (target === undefined || !isInside(realRoot, target)) {
        throw new Deno.errors.PermissionDenied(
          `Refused name ${JSON.stringify(name)}: it leads out of the served folder through a symbolic link`,
        );
      }
    }
    if (!info && !isLast) {
      if (!options.createParents) {
        // Nothing further can exist, so nothing further can be a symbolic link.
        return { path: join(realRoot, ...parts), name: clean };
      }
      await Deno.mkdir(next).catch((error) => {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      });
    } else if (info && !isLast && !info.isDirectory && !info.isSymlink) {
      throw new Deno.errors.NotADirectory(
        `Refused name ${JSON.stringify(name)}: ${parts.slice(0, i + 1).join("/")} is a file`,
      );
    }
    current = next;
  }
  return { path: current, name: clean };
}

/**
 * Whether `path` is `root` itself or lies under it (both absolute).
 *
 * @example Usage
 * ```ts
 * import { isInside } from "./safe_path.ts";
 * isInside("/srv/tftp", "/srv/tftp/boot/x"); // true
 * isInside("/srv/tftp", "/srv/tftp-other"); // false
 * ```
 */
export function isInside(root: string, path: string): boolean {
  const rel = relative(resolve(root), resolve(path));
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}
