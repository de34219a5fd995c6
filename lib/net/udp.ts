/**
 * UDP on `Deno.listenDatagram` (which needs `"unstable": ["net"]`): binding
 * with clear errors, and a reader whose receive can time out without losing
 * the datagram that arrives just after.
 *
 * @module
 */

import type { HostPort } from "./address.ts";
import { bindError } from "./errors.ts";

/** One datagram and who sent it. */
export interface Datagram {
  /** The payload. Valid until the next `receive()` when the reader reuses its buffer. */
  data: Uint8Array;
  /** The sender's address. */
  from: HostPort;
}

/** Options for {@linkcode listenUdp}. */
export interface ListenUdpOptions {
  /** Address to bind.
   * @default {"0.0.0.0"} */
  hostname?: string;
  /** Port to bind; 0 picks a free one.
   * @default {0} */
  port?: number;
}

/**
 * Binds a UDP socket, failing with `Cannot bind to udp HOST:PORT: <reason>`.
 *
 * @example Usage
 * ```ts
 * import { listenUdp } from "./udp.ts";
 * const socket = listenUdp({ hostname: "127.0.0.1", port: 0 });
 * console.log((socket.addr as Deno.NetAddr).port);
 * socket.close();
 * ```
 */
export function listenUdp(options: ListenUdpOptions = {}): Deno.DatagramConn {
  const hostname = options.hostname ?? "0.0.0.0";
  const port = options.port ?? 0;
  try {
    return Deno.listenDatagram({ hostname, port, transport: "udp" });
  } catch (error) {
    throw bindError(error, "udp", { hostname, port });
  }
}

/** The address a UDP socket is bound to. */
export function udpAddress(socket: Deno.DatagramConn): HostPort {
  const { hostname, port } = socket.addr as Deno.NetAddr;
  return { hostname, port };
}

const STOPPED = Symbol("stopped");

/** Options for {@linkcode DatagramReader}. */
export interface DatagramReaderOptions {
  /** Reuse one buffer of this many bytes for every datagram (the payload is then
   * only valid until the next `receive()`); without it each datagram gets its own. */
  reuseBuffer?: number;
}

/**
 * Receives datagrams with a time limit. A plain `receive()` raced against a
 * timer would leave the receive pending and drop the datagram it later
 * returns; this reader keeps that pending receive and hands its datagram to
 * the next call instead.
 *
 * @example Usage
 * ```ts
 * import { DatagramReader, listenUdp } from "./udp.ts";
 * const socket = listenUdp({ hostname: "127.0.0.1" });
 * const reader = new DatagramReader(socket);
 * const datagram = await reader.receive(100); // null: nothing came within 100 ms
 * console.log(datagram);
 * socket.close();
 * await reader.closed;
 * ```
 */
export class DatagramReader {
  #socket: Deno.DatagramConn;
  #buffer: Uint8Array | undefined;
  #pending: Promise<Datagram | null> | undefined;
  #closed = false;

  constructor(socket: Deno.DatagramConn, options: DatagramReaderOptions = {}) {
    this.#socket = socket;
    if (options.reuseBuffer) this.#buffer = new Uint8Array(options.reuseBuffer);
  }

  /**
   * The next datagram, or `null` if none arrives within `timeoutMs` (wait
   * forever when omitted) or the socket is closed. Aborting `signal` also
   * returns `null`.
   */
  async receive(timeoutMs?: number, signal?: AbortSignal): Promise<Datagram | null> {
    if (this.#closed) return null;
    this.#pending ??= this.#receiveOne();
    const pending = this.#pending;
    if (timeoutMs === undefined && !signal) return this.#take(await pending);
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    const stop = new Promise<"stop">((resolve) => {
      if (timeoutMs !== undefined) timer = setTimeout(() => resolve("stop"), timeoutMs);
      onAbort = () => resolve("stop");
      if (signal?.aborted) resolve("stop");
      signal?.addEventListener("abort", onAbort, { once: true });
    });
    try {
      const result = await Promise.race([pending, stop]);
      return result === "stop" ? null : this.#take(result);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * The next datagram, or `null` once `stop` settles first or the socket is
   * closed. Like `receive(timeoutMs)`, a datagram that arrives after `stop`
   * goes to the next call. For loops that keep one deadline across many
   * receives (a `DeadlineTimer`), so each receive costs no timer of its own.
   *
   * @example Usage
   * ```ts
   * import { DatagramReader, listenUdp } from "./udp.ts";
   * import { DeadlineTimer } from "./timeout.ts";
   * const socket = listenUdp({ hostname: "127.0.0.1" });
   * const reader = new DatagramReader(socket);
   * const timer = new DeadlineTimer();
   * const datagram = await reader.receiveUntil(timer.expiry(performance.now() + 50)); // null after 50 ms
   * timer.stop();
   * socket.close();
   * await reader.closed;
   * ```
   */
  async receiveUntil(stop: Promise<unknown>): Promise<Datagram | null> {
    if (this.#closed) return null;
    this.#pending ??= this.#receiveOne();
    const result = await Promise.race([this.#pending, stop.then(() => STOPPED)]);
    return result === STOPPED ? null : this.#take(result as Datagram | null);
  }

  /** Settles once no receive is outstanding (after the socket has been closed). */
  get closed(): Promise<void> {
    return (this.#pending ?? Promise.resolve(null)).then(() => {});
  }

  #take(datagram: Datagram | null): Datagram | null {
    this.#pending = undefined;
    if (datagram === null) this.#closed = true;
    return datagram;
  }

  async #receiveOne(): Promise<Datagram | null> {
    try {
      const [data, from] = await this.#socket.receive(this.#buffer);
      const { hostname, port } = from as Deno.NetAddr;
      return { data, from: { hostname, port } };
    } catch (error) {
      if (error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted) {
        return null;
      }
      throw error;
    }
  }
}
