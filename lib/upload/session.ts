/**
 * One connection to the upload server: protocol uploads (one after another
 * on the same connection) or, when the first bytes are not a header, one raw
 * upload stored under a generated name.
 *
 * @module
 */

import { createHash, type Hash, timingSafeEqual } from "node:crypto";
import { join, relative, sep } from "node:path";
import { AtomicFile, type ConflictPolicy } from "../fs/atomic_file.ts";
import { fsReason } from "../fs/fs_error.ts";
import { checkName, resolveInside } from "../fs/safe_path.ts";
import { formatAddress, type HostPort } from "../net/address.ts";
import { closeQuietly } from "../net/errors.ts";
import type { ConnectionInfo } from "../net/tcp_server.ts";
import { writeAll } from "../net/io.ts";
import { IdleTimer, withTimeout } from "../net/timeout.ts";
import { formatBytes, formatDuration, formatRate } from "../text/format.ts";
import { escapeControls } from "../text/sanitize.ts";
import { ConnReader } from "./conn_reader.ts";
import { isPartialName, partialKey, partialPath, randomKey } from "./partial.ts";
import {
  formatReply,
  MAX_LINE_BYTES,
  opensWithMagic,
  parseHeader,
  parseTrailer,
  type UploadErrorCode,
  type UploadHeader,
  type UploadReply,
} from "./protocol.ts";
import { RECEIVE_BUFFER_BYTES, receiveInto, type ReceiveResult } from "./receive.ts";

/** An upload in progress, as other connections see it (to take over its partial data). */
export interface ActiveUpload {
  /** Ends the upload's connection, keeping its partial data. */
  stop(code: UploadErrorCode, message: string): void;
  /** Settles once the upload has let go of its temporary file. */
  done: Promise<void>;
}

/** What every connection of one server shares. */
export interface SessionContext {
  /** The upload folder (real path). */
  root: string;
  /** What to do when the final name exists. */
  onConflict: ConflictPolicy;
  /** Largest upload accepted, in bytes. */
  maxSize: number;
  /** The shared secret uploads must carry, if any. */
  token: string | undefined;
  /** Store connections that do not open with a header as raw uploads. */
  raw: boolean;
  /** Milliseconds a connection gets to deliver a complete header. */
  headerTimeoutMs: number;
  /** Milliseconds without data after which an upload is cut off. */
  idleTimeoutMs: number;
  /** Keep the data of an interrupted upload for resuming (else remove it). */
  keepPartial: boolean;
  /** Flush files to disk before reporting them stored. */
  fsync: boolean;
  /** Uploads in progress, by temporary path. */
  active: Map<string, ActiveUpload>;
  /** Log line sink. */
  log: (line: string) => void;
}

// Flush to disk in the background every this many bytes, so commit's flush is short.
const SYNC_EVERY_BYTES = 8 * 1024 * 1024;
const TAKEOVER_WAIT_MS = 5000;
const LINGER_MS = 2000;
const LINGER_BYTES = 64 * 1024 * 1024;
const REPLY_TIMEOUT_MS = 1000;
const encoder = new TextEncoder();

/**
 * Serves the connections of one upload server, each until it closes, fails,
 * or the server stops.
 *
 * @example Usage
 * ```ts
 * import { serveTcp } from "../net/tcp_server.ts";
 * import { SessionHandler } from "./session.ts";
 * const sessions = new SessionHandler({
 *   root: await Deno.makeTempDir(),
 *   onConflict: "rename",
 *   maxSize: Infinity,
 *   token: undefined,
 *   raw: true,
 *   headerTimeoutMs: 10_000,
 *   idleTimeoutMs: 30_000,
 *   keepPartial: true,
 *   fsync: true,
 *   active: new Map(),
 *   log: console.log,
 * });
 * const controller = new AbortController();
 * const server = serveTcp((conn, info) => sessions.serve(conn, info), {
 *   hostname: "127.0.0.1",
 *   signal: controller.signal,
 * });
 * controller.abort();
 * await server.finished;
 * ```
 */
export class SessionHandler {
  #context: SessionContext;

  constructor(context: SessionContext) {
    this.#context = context;
  }

  /** Serves `conn`: pass it to `serveTcp` as the connection handler. */
  async serve(conn: Deno.TcpConn, info: ConnectionInfo): Promise<void> {
    await new Session(conn, info.remote, info.signal, this.#context).run();
  }
}

class Session {
  #conn: Deno.TcpConn;
  #remote: HostPort;
  #peer: string;
  #signal: AbortSignal;
  #context: SessionContext;
  #reader: ConnReader;
  #idle: IdleTimer | undefined;
  #stopped: { code: UploadErrorCode; message: string } | undefined;
  #buffers: [Uint8Array, Uint8Array] | undefined;

  constructor(conn: Deno.TcpConn, remote: HostPort, signal: AbortSignal, context: SessionContext) {
    this.#conn = conn;
    this.#remote = remote;
    this.#peer = formatAddress(remote);
    this.#signal = signal;
    this.#context = context;
    this.#reader = new ConnReader(conn, { onData: () => this.#idle?.touch() });
  }

  async run(): Promise<void> {
    const onAbort = () => this.stop("stopping", "the server is shutting down");
    if (this.#signal.aborted) onAbort();
    this.#signal.addEventListener("abort", onAbort, { once: true });
    try {
      const opening = await this.#withDeadline(() => this.#detect(), "nothing arrived");
      if (opening === "empty") return this.#log("closed without sending anything; nothing stored");
      if (opening === "raw") return await this.#raw();
      while (await this.#nextUpload());
    } catch (error) {
      if (!this.#stopped) this.#log(`connection failed: ${(error as Error).message}`);
    } finally {
      this.#signal.removeEventListener("abort", onAbort);
      this.#idle?.stop();
    }
  }

  /** Ends the connection (after telling the client why, if it can hear). */
  stop(code: UploadErrorCode, message: string): void {
    if (this.#stopped) return;
    this.#stopped = { code, message };
    withTimeout(this.#send({ kind: "error", code, message }), REPLY_TIMEOUT_MS, "sending an error")
      .catch(() => {})
      .finally(() => closeQuietly(this.#conn));
  }

  // Whether the connection opens with an upload header, raw bytes, or nothing at all.
  async #detect(): Promise<"upload" | "raw" | "empty"> {
    while (true) {
      const verdict = opensWithMagic(this.#reader.peek());
      if (verdict !== undefined) return verdict ? "upload" : "raw";
      if (!(await this.#reader.more())) return this.#reader.buffered === 0 ? "empty" : "raw";
    }
  }

  // Runs `step` with a time limit on the whole of it (for headers: a slow trickle is no excuse).
  async #withDeadline<T>(step: () => Promise<T>, what: string): Promise<T> {
    const limit = this.#context.headerTimeoutMs;
    const timer = setTimeout(() => {
      const why = `${what} within ${formatDuration(limit)}`;
      this.#log(`closed: ${why}`);
      this.stop("timeout", why);
    }, limit);
    try {
      return await step();
    } finally {
      clearTimeout(timer);
    }
  }

  // Reads and serves one upload; false once the connection is done.
  async #nextUpload(): Promise<boolean> {
    const parsed = await this.#withDeadline(() => this.#readHeader(), "no complete header arrived");
    if (parsed === null) return false;
    if (parsed.status === "invalid") {
      this.#log(`refused: ${parsed.code}: ${escapeControls(parsed.message)}`);
      await this.#refuse(parsed.code, parsed.message);
      return false;
    }
    this.#reader.consume(parsed.length);
    return await this.#upload(parsed.header);
  }

  async #readHeader() {
    while (true) {
      const parsed = parseHeader(this.#reader.peek());
      if (parsed.status !== "incomplete") return parsed;
      if (!(await this.#reader.more())) {
        if (this.#reader.buffered > 0) this.#log("closed in the middle of a header");
        return null;
      }
    }
  }

  async #upload(header: UploadHeader): Promise<boolean> {
    const context = this.#context;
    const refusal = this.#check(header);
    if (refusal) return await this.#refuseUpload(header.name, ...refusal);
    let target: { path: string; name: string };
    try {
      target = await resolveInside(context.root, header.name, { createParents: true });
    } catch (error) {
      // resolveInside's own refusals say why; a system error would name the server's folder.
      const message = (error as Error).message;
      const why = /\(os error \d+\)/.test(message) ? `cannot store ${header.name}: ${fsReason(error)}` : message;
      return await this.#refuseUpload(header.name, "bad-name", why);
    }
    const existing = await Deno.lstat(target.path).catch(() => undefined);
    if (existing?.isDirectory) {
      return await this.#refuseUpload(header.name, "bad-name", `${target.name} is a folder on the server`);
    }
    if (existing && context.onConflict === "reject") {
      return await this.#refuseUpload(header.name, "exists", `${target.name} already exists on the server`);
    }
    let resumable = context.keepPartial;
    let tempPath = partialPath(target.path, resumable ? partialKey(target.name, header.size, header.id) : randomKey());
    const holder = context.active.get(tempPath);
    if (holder && header.resume) {
      // The same file again, asking to resume: the earlier connection is most likely dead.
      holder.stop("taken-over", "a resumed upload of this file took over");
      const released = await withTimeout(holder.done, TAKEOVER_WAIT_MS, "").then(() => true, () => false);
      // Another resumer may have taken the file over while this one waited: only one may write to it.
      if (!released || context.active.has(tempPath)) {
        return await this.#refuseUpload(header.name, "busy", "this file is being uploaded by another connection");
      }
    } else if (holder) {
      resumable = false;
      tempPath = partialPath(target.path, randomKey());
    }
    let release!: () => void;
    const done = new Promise<void>((resolve) => release = resolve);
    const entry: ActiveUpload = { stop: (code, message) => this.stop(code, message), done };
    context.active.set(tempPath, entry);
    try {
      return await this.#receive(header, target, tempPath, resumable);
    } finally {
      if (context.active.get(tempPath) === entry) context.active.delete(tempPath);
      release();
    }
  }

  // Refusals that need no disk access, in the order that reveals least to a stranger.
  #check(header: UploadHeader): [UploadErrorCode, string] | undefined {
    const { token, maxSize } = this.#context;
    if (token !== undefined && !sameSecret(header.token, token)) {
      return ["unauthorized", header.token === undefined ? "this server needs a token" : "wrong token"];
    }
    try {
      checkName(header.name);
    } catch (error) {
      return ["bad-name", (error as Error).message];
    }
    if (header.name.split("/").some(isPartialName)) {
      return [
        "bad-name",
        `Refused name ${JSON.stringify(header.name)}: names of that shape are kept for partial uploads`,
      ];
    }
    if (header.size > maxSize) {
      return ["too-large", `the file (${formatBytes(header.size)}) is larger than the ${formatBytes(maxSize)} allowed`];
    }
    return undefined;
  }

  async #receive(
    header: UploadHeader,
    target: { path: string; name: string },
    tempPath: string,
    resumable: boolean,
  ): Promise<boolean> {
    const context = this.#context;
    const started = performance.now();
    const hash = createHash("sha256");
    const buffers = this.#buffers ??= [new Uint8Array(RECEIVE_BUFFER_BYTES), new Uint8Array(RECEIVE_BUFFER_BYTES)];
    let file: AtomicFile;
    let offset = 0;
    let prefixSha256: string | undefined;
    try {
      offset = await preparePartial(tempPath, header.size, header.resume && resumable ? hash : undefined, buffers[0]);
      if (offset > 0) prefixSha256 = hash.copy().digest("hex");
      file = await AtomicFile.create(target.path, {
        tempPath,
        append: offset > 0,
        keepOnAbort: resumable,
        fsync: context.fsync,
        syncEveryBytes: SYNC_EVERY_BYTES,
      });
    } catch (error) {
      return await this.#refuseUpload(
        header.name,
        storageCode(error),
        `cannot store ${target.name}: ${fsReason(error)}`,
      );
    }
    const fail = async (why: string, options: { keep?: boolean; reply?: [UploadErrorCode, string] } = {}) => {
      await file.abort();
      const kept = options.keep && resumable && file.bytesWritten > 0;
      if (!kept) await Deno.remove(tempPath).catch(() => {});
      this.#log(
        `failed ${quote(target.name)} after ${formatBytes(file.bytesWritten)} of ${formatBytes(header.size)} ` +
          `in ${formatDuration(performance.now() - started)}: ${why}${kept ? " (partial data kept for --resume)" : ""}`,
      );
      if (options.reply) await this.#refuse(...options.reply);
      return false;
    };
    try {
      await this.#send({ kind: "ready", offset, prefixSha256 });
      this.#idle = new IdleTimer(context.idleTimeoutMs, () => this.#timedOut());
      const result = await receiveInto(this.#reader, { file, hash }, { length: header.size - offset, buffers });
      if (result.ended !== "complete") return await fail(...this.#cutOff(result));
      const line = await this.#reader.readLine(MAX_LINE_BYTES).catch((error) =>
        error instanceof RangeError ? error : null
      );
      this.#idle.stop();
      if (line instanceof RangeError) {
        const why = `expected "sha256: <64 hex digits>" after the data, got a line longer than ${MAX_LINE_BYTES} bytes`;
        return await fail(why, { reply: ["bad-request", why] });
      }
      if (line === null) {
        return await fail(this.#stopped?.message ?? "the connection ended before the sha256 line", { keep: true });
      }
      const claimed = parseTrailer(line);
      if (claimed === undefined) {
        const why = `expected "sha256: <64 hex digits>" after the data, got ${JSON.stringify(line.slice(0, 80))}`;
        return await fail(why, { reply: ["bad-request", why] });
      }
      const sha256 = hash.digest("hex");
      if (sha256 !== claimed) {
        const why = `the data received has SHA-256 ${sha256}, not ${claimed}: nothing was stored`;
        return await fail("SHA-256 mismatch", { reply: ["mismatch", why] });
      }
      let stored: string;
      try {
        stored = await file.commit({ onConflict: context.onConflict });
      } catch (error) {
        const code = error instanceof Deno.errors.AlreadyExists ? "exists" : storageCode(error);
        return await fail(fsReason(error), { reply: [code, fsReason(error)] });
      }
      const name = relative(context.root, stored).split(sep).join("/");
      await this.#send({ kind: "ok", size: header.size, sha256, name }).catch(() => {});
      const ms = performance.now() - started;
      this.#log(
        `stored ${quote(name)} ${formatBytes(header.size)} in ${formatDuration(ms)} (${formatRate(result.bytes, ms)})` +
          `${offset > 0 ? `, resumed at ${formatBytes(offset)}` : ""}, sha256 ${sha256}`,
      );
      return true;
    } finally {
      this.#idle?.stop();
      await file.abort();
    }
  }

  // What to log (and tell the client) when the data did not all arrive.
  #cutOff(result: ReceiveResult): [string, { keep?: boolean; reply?: [UploadErrorCode, string] }] {
    if (result.ended === "write-failed") {
      const why = `cannot write: ${fsReason(result.error)}`;
      return [why, { reply: [storageCode(result.error), why] }];
    }
    if (this.#stopped) return [this.#stopped.message, { keep: true }];
    if (result.ended === "read-failed") return [`connection lost: ${fsReason(result.error)}`, { keep: true }];
    return ["cut off: the connection ended before the last byte", { keep: true }];
  }

  async #raw(): Promise<void> {
    const context = this.#context;
    if (context.token !== undefined || !context.raw) {
      const why = context.token !== undefined
        ? "this server needs a token: send with 'wirebox upload send --token'"
        : "raw uploads are off on this server: send with 'wirebox upload send'";
      this.#log(`refused a raw upload: ${why}`);
      return void await this.#refuse(context.token !== undefined ? "unauthorized" : "bad-request", why);
    }
    const started = performance.now();
    const name = rawName(new Date(), this.#remote);
    const path = join(context.root, name);
    let file: AtomicFile;
    const tempPath = partialPath(path, randomKey());
    try {
      file = await AtomicFile.create(path, {
        tempPath,
        fsync: context.fsync,
        syncEveryBytes: SYNC_EVERY_BYTES,
      });
    } catch (error) {
      const why = `cannot store ${name}: ${fsReason(error)}`;
      this.#log(`raw upload failed: ${why}`);
      return void await this.#refuse(storageCode(error), why);
    }
    const hash = createHash("sha256");
    // In use: the sweep of old partial uploads must leave it alone.
    context.active.set(tempPath, { stop: (code, message) => this.stop(code, message), done: Promise.resolve() });
    try {
      this.#idle = new IdleTimer(context.idleTimeoutMs, () => this.#timedOut());
      const buffers = this.#buffers ??= [new Uint8Array(RECEIVE_BUFFER_BYTES), new Uint8Array(RECEIVE_BUFFER_BYTES)];
      const result = await receiveInto(this.#reader, { file, hash }, { maxBytes: context.maxSize, buffers });
      this.#idle.stop();
      const fail = async (why: string, reply?: [UploadErrorCode, string]) => {
        this.#log(`raw upload failed after ${formatBytes(result.bytes)}: ${why}; nothing stored`);
        if (reply) await this.#refuse(...reply);
      };
      if (result.ended === "too-large") {
        const why = `more than the ${formatBytes(context.maxSize)} allowed`;
        return await fail(why, ["too-large", why]);
      }
      if (result.ended === "write-failed") {
        const why = `cannot write: ${fsReason(result.error)}`;
        return await fail(why, [storageCode(result.error), why]);
      }
      if (result.ended !== "eof") {
        const why = this.#stopped?.code === "timeout"
          ? `${this.#stopped.message}, and a raw upload ends only when the sender closes (nc needs -N or -q 0)`
          : this.#stopped?.message ?? `connection lost: ${fsReason((result as { error: unknown }).error)}`;
        return await fail(why);
      }
      let stored: string;
      try {
        stored = await file.commit({ onConflict: "rename" });
      } catch (error) {
        return await fail(fsReason(error), [storageCode(error), fsReason(error)]);
      }
      const sha256 = hash.digest("hex");
      const storedName = relative(context.root, stored).split(sep).join("/");
      const ms = performance.now() - started;
      await this.#send({ kind: "ok", size: result.bytes, sha256, name: storedName }).catch(() => {});
      this.#log(
        `stored raw upload as ${quote(storedName)} ${formatBytes(result.bytes)} in ${formatDuration(ms)} ` +
          `(${formatRate(result.bytes, ms)}), sha256 ${sha256} (raw: no name, no integrity check)`,
      );
    } finally {
      context.active.delete(tempPath);
      this.#idle?.stop();
      await file.abort();
    }
  }

  #timedOut(): void {
    this.stop("timeout", `no data for ${formatDuration(this.#context.idleTimeoutMs)}`);
  }

  async #refuseUpload(name: string, code: UploadErrorCode, why: string): Promise<false> {
    this.#log(`refused ${quote(name)}: ${code}: ${why}`);
    await this.#refuse(code, why);
    return false;
  }

  // Says why, stops reading, and lets the client's data in flight drain for a
  // moment before closing: closing with unread data would reset the
  // connection and could destroy the reply before the client reads it.
  async #refuse(code: UploadErrorCode, why: string): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = { code, message: why };
    try {
      await withTimeout(this.#send({ kind: "error", code, message: why }), REPLY_TIMEOUT_MS, "sending an error");
      await this.#conn.closeWrite();
      const drain = async () => {
        const scratch = new Uint8Array(64 * 1024);
        let drained = 0;
        while (drained < LINGER_BYTES) {
          const n = await this.#reader.read(scratch);
          if (n === null) break;
          drained += n;
        }
      };
      await withTimeout(drain(), LINGER_MS, "draining");
    } catch { /* the client left first, or kept sending: either way, close */ }
    closeQuietly(this.#conn);
  }

  // A client that never reads its replies must not hold the connection forever.
  async #send(reply: UploadReply): Promise<void> {
    const write = writeAll(this.#conn, encoder.encode(formatReply(reply)));
    const limit = this.#context.idleTimeoutMs;
    if (!(limit > 0)) return await write;
    try {
      await withTimeout(write, Math.max(limit, REPLY_TIMEOUT_MS), "sending a reply");
    } catch (error) {
      if (error instanceof Deno.errors.TimedOut) {
        if (!this.#stopped) this.#log(`closed: the client has not read its replies for ${formatDuration(limit)}`);
        this.#stopped ??= { code: "timeout", message: "the client does not read its replies" };
        closeQuietly(this.#conn);
      }
      throw error;
    }
  }

  #log(line: string): void {
    this.#context.log(`upload: ${this.#peer} ${line}`);
  }
}

/**
 * Readies the temporary file of a resumable upload: removes whatever is not a
 * plain file or is too long; with `hash`, hashes what is there and returns its
 * length (the offset to resume from), else returns 0 (the file is then truncated).
 */
async function preparePartial(
  tempPath: string,
  size: number,
  hash: Hash | undefined,
  scratch: Uint8Array,
): Promise<number> {
  const info = await Deno.lstat(tempPath).catch(() => undefined);
  if (!info) return 0;
  if (!info.isFile || info.size > size) {
    await Deno.remove(tempPath);
    return 0;
  }
  if (!hash) return 0;
  using file = await Deno.open(tempPath, { read: true });
  let offset = 0;
  while (offset < info.size) {
    const n = await file.read(scratch.subarray(0, Math.min(scratch.length, info.size - offset)));
    if (n === null) break;
    hash.update(scratch.subarray(0, n));
    offset += n;
  }
  return offset;
}

// Compares secrets in constant time (hashing first evens out their lengths).
function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * `raw-20250131-235959-192.168.1.20-51234.bin`: when (local time) and from whom a raw upload came.
 *
 * @example Usage
 * ```ts
 * import { rawName } from "./session.ts";
 * rawName(new Date(2025, 0, 31, 23, 59, 59), { hostname: "::1", port: 5000 }, "udp"); // "udp-20250131-235959-__1-5000.bin"
 * ```
 */
export function rawName(when: Date, from: HostPort, prefix = "raw"): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  const date = `${when.getFullYear()}${pad(when.getMonth() + 1)}${pad(when.getDate())}`;
  const time = `${pad(when.getHours())}${pad(when.getMinutes())}${pad(when.getSeconds())}`;
  return `${prefix}-${date}-${time}-${from.hostname.replaceAll(":", "_")}-${from.port}.bin`;
}

/**
 * The error code for a storage failure: a full disk, or anything else.
 *
 * @example Usage
 * ```ts
 * import { storageCode } from "./session.ts";
 * storageCode(Object.assign(new Error("No space left on device"), { code: "ENOSPC" })); // "disk-full"
 * ```
 */
export function storageCode(error: unknown): UploadErrorCode {
  const code = (error as { code?: string }).code;
  return code === "ENOSPC" || code === "EDQUOT" ? "disk-full" : "io-error";
}

function quote(name: string): string {
  return escapeControls(JSON.stringify(name));
}
