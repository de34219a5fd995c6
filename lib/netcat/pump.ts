/**
 * The two-way copy at the heart of `send` and `listen`: input to the socket
 * and the socket to output at the same time, until the peer is done.
 *
 * @module
 */

import { closeQuietly, isDisconnect } from "../net/errors.ts";
import { writeAll } from "../net/io.ts";
import { IdleTimer } from "../net/timeout.ts";
import { createTranscoder } from "../text/encoding.ts";

/** Options for {@linkcode pump}. */
export interface PumpOptions {
  /** Bytes to send.
   * @default {Deno.stdin.readable} */
  input?: ReadableStream<Uint8Array>;
  /** Where received bytes go.
   * @default {Deno.stdout.writable} */
  output?: WritableStream<Uint8Array>;
  /** The peer's text encoding (WHATWG label); without it bytes pass untouched. */
  encoding?: string;
  /** Applied to received text before it is written. */
  mapText?: (text: string) => string;
  /** Once input has ended, stop after this many milliseconds without data from the peer (0: wait for the peer to close).
   * @default {10000} */
  waitMs?: number;
  /** Closes the connection when aborted. */
  signal?: AbortSignal;
}

/** What {@linkcode pump} moved. */
export interface PumpResult {
  /** Bytes sent to the peer. */
  sent: number;
  /** Bytes received from the peer. */
  received: number;
  /** Why it ended: the peer closed, input ended and the wait expired, or it was aborted. */
  ended: "peer closed" | "wait expired" | "aborted";
}

const READ_SIZE = 64 * 1024;

/**
 * Copies `input` to `conn` and `conn` to `output` concurrently. When input
 * ends, the write side is shut down (the peer sees EOF) and the wait for the
 * peer begins; when the peer closes, input stops being read. Does not close
 * `conn`'s owner's other resources; closes `conn` before returning.
 *
 * @example Usage
 * ```ts
 * import { pump } from "./pump.ts";
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 10888 }).catch(() => undefined);
 * if (conn) console.log(await pump(conn, { input: ReadableStream.from([]), waitMs: 1000 }));
 * ```
 */
export async function pump(conn: Deno.Conn, options: PumpOptions = {}): Promise<PumpResult> {
  const result: PumpResult = { sent: 0, received: 0, ended: "peer closed" };
  const input = (options.input ?? Deno.stdin.readable).getReader();
  const output = (options.output ?? Deno.stdout.writable).getWriter();
  let reason: PumpResult["ended"] | undefined;
  const stop = (why: PumpResult["ended"]) => {
    reason ??= why;
    closeQuietly(conn);
    input.cancel().catch(() => {});
  };
  const onAbort = () => stop("aborted");
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const waitMs = options.waitMs ?? 10_000;
  let idle: IdleTimer | undefined;
  const toPeer = options.encoding ? createTranscoder({ to: options.encoding }) : undefined;
  const fromPeer = options.encoding || options.mapText
    ? createTranscoder({ from: options.encoding, map: options.mapText })
    : undefined;

  const upstream = (async () => {
    try {
      while (true) {
        const { value, done } = await input.read();
        if (done) break;
        const bytes = toPeer ? toPeer(value) : value;
        await writeAll(conn, bytes);
        result.sent += bytes.length;
      }
      if (toPeer) {
        const rest = toPeer(new Uint8Array(), true);
        await writeAll(conn, rest);
        result.sent += rest.length;
      }
      await conn.closeWrite();
      if (waitMs > 0) idle = new IdleTimer(waitMs, () => stop("wait expired"));
    } catch (error) {
      if (!isDisconnect(error)) throw error;
    }
  })();

  const downstream = (async () => {
    const buffer = new Uint8Array(READ_SIZE);
    try {
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) break;
        idle?.touch();
        result.received += n;
        const chunk = buffer.slice(0, n);
        await output.write(fromPeer ? fromPeer(chunk) : chunk);
      }
      if (fromPeer) await output.write(fromPeer(new Uint8Array(), true));
    } catch (error) {
      if (!isDisconnect(error)) throw error;
    } finally {
      // The peer is done (or gone): nothing more can be sent either.
      stop("peer closed");
    }
  })();

  try {
    await Promise.all([upstream, downstream]);
  } finally {
    idle?.stop();
    options.signal?.removeEventListener("abort", onAbort);
    closeQuietly(conn);
    output.releaseLock();
    input.releaseLock();
  }
  result.ended = reason ?? "peer closed";
  return result;
}
