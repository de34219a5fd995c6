/**
 * The TCP server every wirebox tool runs on: an accept loop, one task per
 * connection, a connection limit, and graceful shutdown through an
 * `AbortSignal` (stop accepting, tell handlers, close what is left after a
 * grace period, release every resource).
 *
 * @module
 */

import type { HostPort } from "./address.ts";
import { bindError, closeQuietly, isDisconnect } from "./errors.ts";
import { delay, withTimeout } from "./timeout.ts";

/** What a handler learns about its connection. */
export interface ConnectionInfo {
  /** The peer's address. */
  readonly remote: HostPort;
  /** Aborted when the server begins to stop; `reason` says why. Handlers
   * should say goodbye and return; the socket is closed for them after the
   * grace period. */
  readonly signal: AbortSignal;
}

/** Serves one connection. The server closes `conn` when the returned promise settles. */
export type TcpHandler = (conn: Deno.TcpConn, info: ConnectionInfo) => Promise<void> | void;

/** Options for {@linkcode serveTcp}. */
export interface TcpServerOptions {
  /** Address to listen on.
   * @default {"0.0.0.0"} */
  hostname?: string;
  /** Port to listen on; 0 picks a free one (read it back from `addr`).
   * @default {0} */
  port?: number;
  /** Connections served at once; the next ones go to `onRefused`.
   * @default {1024} */
  maxConnections?: number;
  /** Milliseconds handlers get to finish after shutdown begins before their sockets are closed.
   * @default {2000} */
  gracePeriodMs?: number;
  /** Stops the server when aborted. */
  signal?: AbortSignal;
  /** Disable Nagle's algorithm, so small writes go out at once.
   * @default {true} */
  noDelay?: boolean;
  /** Enable TCP keepalive, so a vanished peer is noticed eventually.
   * @default {true} */
  keepAlive?: boolean;
  /** Called with a connection refused because the server is full, to tell the peer
   * (one second at most); the connection is closed afterwards. */
  onRefused?: (conn: Deno.TcpConn) => Promise<void> | void;
  /** Called when a handler fails with something other than a disconnect. */
  onError?: (error: unknown, remote: HostPort) => void;
}

const REFUSE_TIMEOUT_MS = 1000;
const ACCEPT_RETRY_MS = 100;

/**
 * A running TCP server. Create it with {@linkcode serveTcp}.
 *
 * @example Usage
 * ```ts
 * import { serveTcp } from "./tcp_server.ts";
 * const controller = new AbortController();
 * const server = serveTcp(async (conn) => {
 *   await conn.write(new TextEncoder().encode("hello\n"));
 * }, { hostname: "127.0.0.1", port: 0, signal: controller.signal });
 * console.log(server.addr.port);
 * controller.abort();
 * await server.finished;
 * ```
 */
export class TcpServer {
  #listener: Deno.TcpListener;
  #handler: TcpHandler;
  #options: TcpServerOptions;
  #conns = new Set<Deno.TcpConn>();
  #tasks = new Set<Promise<void>>();
  #stopping = new AbortController();
  #finished: Promise<void>;

  /** The address the server actually listens on. */
  readonly addr: HostPort;

  constructor(handler: TcpHandler, options: TcpServerOptions = {}) {
    const hostname = options.hostname ?? "0.0.0.0";
    const port = options.port ?? 0;
    try {
      this.#listener = Deno.listen({ hostname, port, transport: "tcp" });
    } catch (error) {
      throw bindError(error, "tcp", { hostname, port });
    }
    const { hostname: boundHost, port: boundPort } = this.#listener.addr;
    this.addr = { hostname: boundHost, port: boundPort };
    this.#handler = handler;
    this.#options = options;
    const signal = options.signal;
    if (signal?.aborted) this.close(signal.reason);
    signal?.addEventListener("abort", () => this.close(signal.reason), { once: true });
    this.#finished = this.#acceptLoop();
  }

  /** Connections being served now. */
  get connections(): number {
    return this.#conns.size;
  }

  /** Settles when the server has stopped and every connection is closed. */
  get finished(): Promise<void> {
    return this.#finished;
  }

  /** Begins a graceful stop (as aborting `signal` does) and waits for it to finish. */
  close(reason: unknown = "server stopping"): Promise<void> {
    if (!this.#stopping.signal.aborted) {
      this.#stopping.abort(reason);
      try {
        this.#listener.close();
      } catch { /* already closed */ }
    }
    return this.#finished ?? Promise.resolve();
  }

  async #acceptLoop(): Promise<void> {
    const max = this.#options.maxConnections ?? 1024;
    while (!this.#stopping.signal.aborted) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#stopping.signal.aborted || error instanceof Deno.errors.BadResource) break;
        // Out of descriptors or a connection reset before accept: wait a moment, not spin.
        this.#options.onError?.(error, this.addr);
        await delay(ACCEPT_RETRY_MS, this.#stopping.signal).catch(() => {});
        continue;
      }
      this.#track(this.#conns.size >= max ? this.#refuse(conn) : this.#serve(conn));
    }
    await this.#drain();
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  async #serve(conn: Deno.TcpConn): Promise<void> {
    this.#conns.add(conn);
    const remote = conn.remoteAddr;
    const info: ConnectionInfo = {
      remote: { hostname: remote.hostname, port: remote.port },
      signal: this.#stopping.signal,
    };
    try {
      if (this.#options.noDelay ?? true) conn.setNoDelay(true);
      if (this.#options.keepAlive ?? true) conn.setKeepAlive(true);
      await this.#handler(conn, info);
    } catch (error) {
      if (!isDisconnect(error)) this.#options.onError?.(error, info.remote);
    } finally {
      this.#conns.delete(conn);
      closeQuietly(conn);
    }
  }

  async #refuse(conn: Deno.TcpConn): Promise<void> {
    try {
      const said = Promise.resolve(this.#options.onRefused?.(conn));
      await withTimeout(said, REFUSE_TIMEOUT_MS, "telling a refused client");
    } catch {
      /* the peer left first */
    } finally {
      closeQuietly(conn);
    }
  }

  async #drain(): Promise<void> {
    const grace = this.#options.gracePeriodMs ?? 2000;
    const timer = new AbortController();
    const all = Promise.all(this.#tasks);
    const expired = delay(grace, timer.signal).then(() => true, () => false);
    if (await Promise.race([all.then(() => false), expired])) {
      for (const conn of this.#conns) closeQuietly(conn);
    }
    timer.abort();
    await all;
    // Tasks that started while draining (a refusal racing the close) are awaited too.
    while (this.#tasks.size > 0) await Promise.all(this.#tasks);
  }
}

/**
 * Listens on TCP and serves each connection with `handler` in its own task.
 * Throws at once, with a message naming the address, if the port cannot be bound.
 *
 * @example Usage
 * ```ts
 * import { serveTcp } from "./tcp_server.ts";
 * const controller = new AbortController();
 * const server = serveTcp(async (conn) => {
 *   await conn.readable.pipeTo(conn.writable); // echo
 * }, { port: 0, hostname: "127.0.0.1", signal: controller.signal });
 * controller.abort();
 * await server.finished;
 * ```
 */
export function serveTcp(handler: TcpHandler, options: TcpServerOptions = {}): TcpServer {
  return new TcpServer(handler, options);
}
