/**
 * TFTP errors both ways: a peer's ERROR packet becomes an `Error` of the
 * matching built-in class (File not found → `Deno.errors.NotFound`...), and
 * a local failure becomes the ERROR packet to send the peer. The TFTP code
 * travels in the error's `cause` ({@linkcode TftpErrorInfo}).
 *
 * @module
 */

import { formatCount, formatDuration } from "../text/format.ts";
import { stripControls } from "../text/sanitize.ts";
import { encodeError, ERROR_NAMES, ErrorCode, type ErrorPacket } from "./packet.ts";

/** The `cause` of every error this module makes. */
export interface TftpErrorInfo {
  /** The TFTP error code (0-8). */
  tftpCode: number;
  /** Whether the peer sent it (true) or this side raised it (false). */
  remote: boolean;
}

/**
 * An error carrying a TFTP code, of the built-in class that matches the code
 * (1: NotFound, 2: PermissionDenied, 6: AlreadyExists, otherwise Error).
 *
 * @example Usage
 * ```ts
 * import { tftpError } from "./errors.ts";
 * import { ErrorCode } from "./packet.ts";
 * throw tftpError(ErrorCode.accessViolation, "Uploads are disabled on this server");
 * ```
 */
export function tftpError(code: number, message: string, remote = false): Error {
  const cause: TftpErrorInfo = { tftpCode: code, remote };
  switch (code) {
    case ErrorCode.fileNotFound:
      return new Deno.errors.NotFound(message, { cause });
    case ErrorCode.accessViolation:
      return new Deno.errors.PermissionDenied(message, { cause });
    case ErrorCode.fileExists:
      return new Deno.errors.AlreadyExists(message, { cause });
    default:
      return new Error(message, { cause });
  }
}

/**
 * The TFTP details of an error made by this module, if it is one.
 *
 * @example Usage
 * ```ts
 * import { tftpError, tftpInfo } from "./errors.ts";
 * tftpInfo(tftpError(1, "File not found")); // { tftpCode: 1, remote: false }
 * ```
 */
export function tftpInfo(error: unknown): TftpErrorInfo | undefined {
  // Follows the cause chain, so an error re-worded with context (rewrap) keeps its code.
  for (let current = error, depth = 0; current instanceof Error && depth < 8; depth++) {
    const cause = current.cause as Partial<TftpErrorInfo> | undefined;
    if (typeof cause?.tftpCode === "number") return cause as TftpErrorInfo;
    current = cause;
  }
  return undefined;
}

/**
 * The error a peer's ERROR packet means, worded for a person:
 * `the server refused: File not found (code 1): no such file`.
 *
 * @example Usage
 * ```ts
 * import { peerError } from "./errors.ts";
 * const error = peerError({ type: "ERROR", code: 1, message: "File not found" }, "server");
 * console.log(error.message); // the server refused: File not found (code 1)
 * ```
 */
export function peerError(packet: ErrorPacket, peer: string): Error {
  const name = ERROR_NAMES[packet.code] ?? `Error`;
  const said = stripControls(packet.message).trim();
  const detail = said === "" || said.toLowerCase() === name.toLowerCase() ? "" : `: ${said}`;
  return tftpError(packet.code, `the ${peer} refused: ${name} (code ${packet.code})${detail}`, true);
}

/**
 * The timeout error: `no answer from the server: timed out after 5 retries (12.4 s)`.
 *
 * @example Usage
 * ```ts
 * import { timeoutError } from "./errors.ts";
 * timeoutError("server", 5, 12_400).message; // "no answer from the server: timed out after 5 retries (12.4 s)"
 * ```
 */
export function timeoutError(peer: string, retries: number, waitedMs: number): Error {
  return new Deno.errors.TimedOut(
    `no answer from the ${peer}: timed out after ${formatCount(retries, "retry", "retries")} (${
      formatDuration(waitedMs)
    })`,
  );
}

/**
 * The ERROR packet that tells a peer why this side gave up: the TFTP code of
 * an error from {@linkcode tftpError}, or one that fits the error's class
 * (NotFound → 1, PermissionDenied → 2, AlreadyExists → 6, a full disk → 3).
 *
 * @example Usage
 * ```ts
 * import { errorPacketFor } from "./errors.ts";
 * errorPacketFor(new Deno.errors.NotFound("no such file")); // ERROR 1 "no such file"
 * ```
 */
export function errorPacketFor(error: unknown): Uint8Array {
  return encodeError(errorCodeFor(error), error instanceof Error ? error.message : String(error));
}

/** The TFTP code that best describes a local failure. */
export function errorCodeFor(error: unknown): number {
  const info = tftpInfo(error);
  if (info) return info.tftpCode;
  if (error instanceof Deno.errors.NotFound) return ErrorCode.fileNotFound;
  if (error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable) {
    return ErrorCode.accessViolation;
  }
  if (error instanceof Deno.errors.AlreadyExists) return ErrorCode.fileExists;
  if (error instanceof Error && /no space left|quota|file too large/i.test(error.message)) return ErrorCode.diskFull;
  return ErrorCode.undefined;
}
