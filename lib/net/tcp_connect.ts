/**
 * Connecting to a TCP server with a time limit and a clear error.
 *
 * @module
 */

import type { HostPort } from "./address.ts";
import { connectError } from "./errors.ts";
import { formatSeconds } from "./timeout.ts";

/** Options for {@linkcode connectTcp}. */
export interface ConnectTcpOptions {
  /** Give up after this many milliseconds.
   * @default {10000} */
  timeoutMs?: number;
  /** Cancels the attempt. */
  signal?: AbortSignal;
  /** Disable Nagle's algorithm so small writes leave at once.
   * @default {true} */
  noDelay?: boolean;
}

/**
 * Connects to `address`, failing with `Cannot connect to HOST:PORT: <reason>`
 * (refused, timed out, host not found) instead of a bare OS error.
 *
 * @example Usage
 * ```ts
 * import { connectTcp } from "./tcp_connect.ts";
 * const conn = await connectTcp({ hostname: "127.0.0.1", port: 9999 }, { timeoutMs: 3000 })
 *   .catch((error) => console.error(error.message));
 * conn?.close();
 * ```
 */
export async function connectTcp(
  address: HostPort,
  options: ConnectTcpOptions = {},
): Promise<Deno.TcpConn> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: address.hostname, port: address.port, signal });
  } catch (error) {
    if (timeout.aborted) {
      throw connectError(new Deno.errors.TimedOut(`timed out after ${formatSeconds(timeoutMs)}`), address);
    }
    if (options.signal?.aborted) throw options.signal.reason;
    throw connectError(error, address);
  }
  if (options.noDelay ?? true) conn.setNoDelay(true);
  return conn;
}
