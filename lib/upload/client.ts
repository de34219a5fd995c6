/**
 * The upload client: sends files over one connection, hashing each in the
 * same pass that reads it, resumes from what the server already has when
 * asked, and checks the server's SHA-256 against its own.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { formatAddress, type HostPort } from "../net/address.ts";
import { closeQuietly } from "../net/errors.ts";
import { writeAll } from "../net/io.ts";
import { connectTcp } from "../net/tcp_connect.ts";
import { withTimeout } from "../net/timeout.ts";
import { escapeControls } from "../text/sanitize.ts";
import { ConnReader } from "./conn_reader.ts";
import type { LocalFile } from "./files.ts";
import {
  encodeHeader,
  formatTrailer,
  MAX_LINE_BYTES,
  parseReply,
  UPLOAD_ERROR_CODES,
  type UploadErrorCode,
  type UploadReply,
} from "./protocol.ts";

/** Options for {@linkcode uploadFiles}. */
export interface UploadOptions {
  /** The server's shared secret, if it has one. */
  token?: string;
  /** Continue from the data the server kept of an interrupted upload of the same file.
   * @default {false} */
  resume?: boolean;
  /** Give up connecting after this many milliseconds.
   * @default {10000} */
  connectTimeoutMs?: number;
  /** Longest wait for the server: for a reply, or for room to send more.
   * @default {60000} */
  timeoutMs?: number;
  /** Cancels the uploads (the server keeps the partial data of the one in progress). */
  signal?: AbortSignal;
  /** Called when a file starts, with the offset it resumes from (0 for a fresh start). */
  onStart?: (file: LocalFile, offset: number) => void;
  /** Called as data goes out, with the position reached in the file. */
  onProgress?: (file: LocalFile, position: number) => void;
  /** Called when a file is done, stored or not. */
  onResult?: (result: UploadResult) => void;
}

/** What happened to one file. */
export interface UploadResult {
  /** The file. */
  file: LocalFile;
  /** Stored, and the server's SHA-256 and size match ours. */
  ok: boolean;
  /** The name the server stored it under (it differs from `file.name` after a rename). */
  storedName?: string;
  /** The file's SHA-256, when it was read to the end. */
  sha256?: string;
  /** Where the upload started (bytes the server already had). */
  offset: number;
  /** Bytes sent this time. */
  sent: number;
  /** How long it took, in milliseconds. */
  durationMs: number;
  /** Why it failed. */
  error?: Error;
}

const CHUNK_BYTES = 512 * 1024;
// After a failed write: how long to wait for the server's reason.
const REASON_WAIT_MS = 2000;
// A resuming server hashes what it has before it answers: allow it this many bytes per second.
const RESUME_HASH_RATE = 100 * 1024 * 1024;
const encoder = new TextEncoder();

/**
 * Uploads `files` to the server at `address`, one after another over one
 * connection (a new one after a refusal), and resolves to a result per file.
 * Throws only if the server cannot be reached at all (with the connect error).
 *
 * @example Usage
 * ```ts
 * import { collectFiles } from "./files.ts";
 * import { uploadFiles } from "./client.ts";
 * const files = await collectFiles(["report.pdf"]).catch(() => []);
 * const results = await uploadFiles({ hostname: "127.0.0.1", port: 8888 }, files, { resume: true })
 *   .catch((error) => console.error(error.message));
 * for (const result of results ?? []) console.log(result.file.name, result.ok ? result.storedName : result.error?.message);
 * ```
 */
export async function uploadFiles(
  address: HostPort,
  files: LocalFile[],
  options: UploadOptions = {},
): Promise<UploadResult[]> {
  const results: UploadResult[] = [];
  let connection: ServerConnection | undefined;
  const drop = async () => {
    await connection?.close();
    connection = undefined;
  };
  try {
    if (files.length > 0) connection = await ServerConnection.open(address, options);
    for (const file of files) {
      let result: UploadResult;
      try {
        connection ??= await ServerConnection.open(address, options);
      } catch (error) {
        // The server went away: nothing further can be sent.
        for (const rest of files.slice(results.length)) {
          const result = failed(rest, error as Error, { started: performance.now(), offset: 0, sent: 0 });
          results.push(result);
          options.onResult?.(result);
        }
        break;
      }
      try {
        result = await uploadOne(connection, file, options, options.resume ?? false);
        if (result.error instanceof PrefixMismatch) {
          // The server's partial data is of another version of this file: start over.
          await drop();
          connection = await ServerConnection.open(address, options);
          result = await uploadOne(connection, file, options, false);
        }
      } catch (error) {
        result = failed(file, error as Error, { started: performance.now(), offset: 0, sent: 0 });
      }
      // After a refusal the server closes the connection; after any failure we start afresh.
      if (!result.ok || connection?.closed) await drop();
      results.push(result);
      options.onResult?.(result);
      if (options.signal?.aborted) break;
    }
  } finally {
    await drop();
  }
  for (const file of files.slice(results.length)) {
    results.push(
      failed(file, new Deno.errors.Interrupted("not sent: interrupted"), {
        started: performance.now(),
        offset: 0,
        sent: 0,
      }),
    );
  }
  return results;
}

/**
 * The server's error line as an error of the matching kind (`PermissionDenied`
 * for unauthorized or bad-name, `AlreadyExists` for exists, `RangeError` for
 * too-large...), with the code kept as `uploadCode`.
 *
 * @example Usage
 * ```ts
 * import { replyError } from "./client.ts";
 * const error = replyError("exists", "report.pdf already exists on the server");
 * console.log(error instanceof Deno.errors.AlreadyExists, error.message);
 * // true "the server refused: report.pdf already exists on the server (exists)"
 * ```
 */
export function replyError(code: string, message: string): Error {
  // The message comes from the network: it must not drive the terminal it is printed on.
  const text = `the server refused: ${
    escapeControls(message) || UPLOAD_ERROR_CODES[code as UploadErrorCode] || code
  } (${code})`;
  const Kind = (
    {
      unauthorized: Deno.errors.PermissionDenied,
      "bad-name": Deno.errors.PermissionDenied,
      exists: Deno.errors.AlreadyExists,
      "too-large": RangeError,
      mismatch: Deno.errors.InvalidData,
      "bad-request": Deno.errors.InvalidData,
      version: Deno.errors.InvalidData,
      timeout: Deno.errors.TimedOut,
      stopping: Deno.errors.ConnectionAborted,
      "taken-over": Deno.errors.ConnectionAborted,
      busy: Deno.errors.Busy,
    } as Record<string, new (message: string) => Error>
  )[code] ?? Error;
  return Object.assign(new Kind(text), { uploadCode: code });
}

class PrefixMismatch extends Error {}

/** How far one file got: what a failure reports. */
interface Progress {
  started: number;
  offset: number;
  sent: number;
  sha256?: string;
  storedName?: string;
}

async function uploadOne(
  connection: ServerConnection,
  file: LocalFile,
  options: UploadOptions,
  resume: boolean,
): Promise<UploadResult> {
  const progress: Progress = { started: performance.now(), offset: 0, sent: 0 };
  try {
    return await sendFile(connection, file, options, resume, progress);
  } catch (error) {
    return failed(file, error as Error, progress);
  }
}

async function sendFile(
  connection: ServerConnection,
  file: LocalFile,
  options: UploadOptions,
  resume: boolean,
  progress: Progress,
): Promise<UploadResult> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  // Opened first: a file that has gone is not announced to the server (which would keep an empty partial).
  using local = await Deno.open(file.path, { read: true });
  const header = { name: file.name, size: file.size, id: fileId(file), token: options.token, resume };
  await connection.write(encodeHeader(header));
  const ready = await connection.reply(resume ? timeoutMs + (file.size / RESUME_HASH_RATE) * 1000 : timeoutMs);
  if (ready.kind === "error") throw replyError(ready.code, ready.message);
  if (ready.kind !== "ready" || ready.offset > file.size) throw unexpected();
  const offset = progress.offset = ready.offset;
  const hash = createHash("sha256");
  const buffers = [new Uint8Array(CHUNK_BYTES), new Uint8Array(CHUNK_BYTES)];
  const read = async (buffer: Uint8Array, limit: number) => {
    const n = await local.read(buffer.subarray(0, Math.min(buffer.length, limit)));
    if (n === null || n === 0) {
      throw new Deno.errors.UnexpectedEof(`${file.path} became shorter while it was being sent`);
    }
    return n;
  };
  // The bytes the server already has are hashed, not sent, and must match its own hash of them.
  let position = 0;
  while (position < offset) {
    const n = await read(buffers[0], offset - position);
    hash.update(buffers[0].subarray(0, n));
    position += n;
  }
  if (offset > 0 && hash.copy().digest("hex") !== ready.prefixSha256) throw new PrefixMismatch("partial data differs");
  options.onStart?.(file, offset);
  let turn = 0;
  let next = position < file.size ? read(buffers[0], file.size - position) : undefined;
  try {
    while (next) {
      const n = await next;
      const chunk = buffers[turn].subarray(0, n);
      position += n;
      next = position < file.size ? read(buffers[turn ^ 1], file.size - position) : undefined;
      if (connection.hasNews) break; // the server gave up early (or the connection ended): hear why
      const writing = connection.write(chunk);
      hash.update(chunk); // while the write waits for room in the socket
      await writing;
      progress.sent += n;
      options.onProgress?.(file, position);
      turn ^= 1;
    }
  } finally {
    await next?.catch(() => {});
  }
  if (connection.hasNews) throw await connection.reason();
  const sha256 = progress.sha256 = hash.digest("hex");
  await connection.write(encoder.encode(formatTrailer(sha256)));
  const reply = await connection.reply(timeoutMs);
  if (reply.kind === "error") throw replyError(reply.code, reply.message);
  if (reply.kind !== "ok") throw unexpected();
  progress.storedName = reply.name;
  if (reply.sha256 !== sha256 || reply.size !== file.size) {
    throw new Deno.errors.InvalidData(
      `the server reports ${reply.size} bytes with SHA-256 ${reply.sha256}, but the file has ${file.size} bytes with ${sha256}`,
    );
  }
  const durationMs = performance.now() - progress.started;
  return { file, ok: true, storedName: reply.name, sha256, offset, sent: progress.sent, durationMs };
}

function failed(file: LocalFile, error: Error, progress: Progress): UploadResult {
  const { offset, sent, sha256, storedName } = progress;
  return { file, ok: false, offset, sent, sha256, storedName, durationMs: performance.now() - progress.started, error };
}

function unexpected(): Error {
  return new Deno.errors.InvalidData("the server sent an unexpected reply");
}

/** Who this file is, for the server's partial data: its path, size and modification time. */
function fileId(file: LocalFile): string {
  return createHash("sha256").update(`${file.path}\0${file.size}\0${file.mtimeMs}`).digest("hex").slice(0, 32);
}

/** A connection to the server with its replies read as they come. */
class ServerConnection {
  #conn: Deno.TcpConn;
  #address: HostPort;
  #timeoutMs: number;
  #signal: AbortSignal | undefined;
  #onAbort: () => void;
  #replies: UploadReply[] = [];
  #wake: (() => void) | undefined;
  // Why the reader stopped (the server closed, or the connection failed).
  #readerEnded: Error | undefined;
  // A failure on our side: a write that failed, a timeout, an abort.
  #failed: Error | undefined;
  #listening: Promise<void>;

  private constructor(conn: Deno.TcpConn, address: HostPort, options: UploadOptions) {
    this.#conn = conn;
    this.#address = address;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#signal = options.signal;
    this.#onAbort = () => this.#fail(new Deno.errors.Interrupted("interrupted"));
    this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
    this.#listening = this.#listen();
  }

  static async open(address: HostPort, options: UploadOptions): Promise<ServerConnection> {
    const conn = await connectTcp(address, { timeoutMs: options.connectTimeoutMs, signal: options.signal });
    return new ServerConnection(conn, address, options);
  }

  /** Whether the server has said something (a reply, or closing) or the connection failed. */
  get hasNews(): boolean {
    return this.#replies.length > 0 || this.closed;
  }

  /** Whether the connection has ended or failed. */
  get closed(): boolean {
    return this.#readerEnded !== undefined || this.#failed !== undefined;
  }

  /**
   * Writes all of `bytes`, failing if the server takes none of them for the
   * timeout. A failed write rejects with the server's reason when it sent one.
   */
  async write(bytes: Uint8Array): Promise<void> {
    if (this.closed) throw await this.reason();
    try {
      await withTimeout(writeAll(this.#conn, bytes), this.#timeoutMs, `sending to ${formatAddress(this.#address)}`);
    } catch (error) {
      // A timeout ends the connection; a broken pipe leaves the reader to pick up the server's reason.
      if (error instanceof Deno.errors.TimedOut) this.#fail(error);
      else this.#failed ??= error as Error;
      throw await this.reason();
    }
  }

  /** The next reply; rejects with the reason if the connection ends or nothing comes within `timeoutMs`. */
  async reply(timeoutMs: number): Promise<UploadReply> {
    const arrived = await this.#until(() => this.hasNews, timeoutMs);
    if (!arrived) {
      this.#fail(
        new Deno.errors.TimedOut(`${formatAddress(this.#address)} did not answer within ${timeoutMs / 1000} s`),
      );
    }
    const reply = this.#replies.shift();
    if (reply) return reply;
    throw await this.reason();
  }

  /** Why the connection cannot go on: the server's error line if it sent one, else how it ended. */
  async reason(): Promise<Error> {
    // The server's reason may still be on its way behind a failed write.
    await this.#until(() => this.#replies.length > 0 || this.#readerEnded !== undefined, REASON_WAIT_MS);
    const reply = this.#replies.shift();
    if (reply) return reply.kind === "error" ? replyError(reply.code, reply.message) : unexpected();
    if (this.#signal?.aborted) return new Deno.errors.Interrupted("interrupted");
    const ended = this.#failed ?? this.#readerEnded;
    if (ended instanceof Deno.errors.TimedOut || ended instanceof Deno.errors.InvalidData) return ended;
    return new Deno.errors.ConnectionReset(`the connection to ${formatAddress(this.#address)} was cut off`, {
      cause: ended,
    });
  }

  /** Closes the connection and waits for the reply reader to stop. */
  async close(): Promise<void> {
    this.#signal?.removeEventListener("abort", this.#onAbort);
    closeQuietly(this.#conn);
    await this.#listening;
  }

  // Waits until `condition` holds (re-checked whenever something happens); false on timeout.
  async #until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
    if (condition()) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let timedOut = false;
    try {
      while (!condition() && !timedOut) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          timer ??= setTimeout(() => {
            timedOut = true;
            resolve();
          }, timeoutMs);
        });
      }
    } finally {
      clearTimeout(timer);
      this.#wake = undefined;
    }
    return condition();
  }

  async #listen(): Promise<void> {
    const reader = new ConnReader(this.#conn);
    try {
      while (true) {
        const line = await reader.readLine(MAX_LINE_BYTES);
        if (line === null) break;
        const reply = parseReply(line);
        if (!reply) {
          this.#fail(
            new Deno.errors.InvalidData(
              `${formatAddress(this.#address)} sent something that is not an upload reply: ${
                escapeControls(JSON.stringify(line.slice(0, 80)))
              }`,
            ),
          );
          break;
        }
        this.#replies.push(reply);
        this.#wake?.();
      }
      this.#readerEnded ??= new Deno.errors.ConnectionReset(`${formatAddress(this.#address)} closed the connection`);
    } catch (error) {
      this.#readerEnded ??= error as Error;
    }
    this.#wake?.();
  }

  #fail(error: Error): void {
    this.#failed ??= error;
    closeQuietly(this.#conn);
    this.#wake?.();
  }
}
