/**
 * Echo server: TCP connections get back every byte they send; UDP datagrams
 * are answered to their sender. Many TCP clients are served at once, one
 * async task each.
 *
 * @module
 */

import { formatAddress, formatEndpoint, type HostPort } from "../net/address.ts";
import { closeQuietly, isDisconnect } from "../net/errors.ts";
import { writeAll } from "../net/io.ts";
import { serveTcp, type TcpServer } from "../net/tcp_server.ts";
import { IdleTimer } from "../net/timeout.ts";
import { DatagramReader, listenUdp, udpAddress } from "../net/udp.ts";

/** Options for {@linkcode serveEcho}. */
export interface EchoServerOptions {
  /** Address to listen on.
   * @default {"0.0.0.0"} */
  hostname?: string;
  /** Port for both TCP and UDP; 0 picks a free one (UDP then tries the port TCP got).
   * @default {10888} */
  port?: number;
  /** Serve TCP.
   * @default {true} */
  tcp?: boolean;
  /** Serve UDP.
   * @default {true} */
  udp?: boolean;
  /** TCP connections served at once.
   * @default {1024} */
  maxConnections?: number;
  /** Close a TCP connection after this long without data, in milliseconds (0: never).
   * @default {300000} */
  idleTimeoutMs?: number;
  /** Stops the server when aborted. */
  signal?: AbortSignal;
  /** Receives one line per event (connections, errors). */
  log?: (line: string) => void;
}

const BUFFER_SIZE = 64 * 1024;

/**
 * A running echo server. Create it with {@linkcode serveEcho}.
 *
 * @example Usage
 * ```ts
 * import { serveEcho } from "./server.ts";
 * const controller = new AbortController();
 * const echo = serveEcho({ hostname: "127.0.0.1", port: 0, signal: controller.signal });
 * console.log(echo.endpoints); // ["tcp://127.0.0.1:41234", "udp://127.0.0.1:41234"]
 * controller.abort();
 * await echo.finished;
 * ```
 */
export class EchoServer {
  /** The TCP server, when TCP is served. */
  readonly tcp: TcpServer | undefined;
  /** The UDP address, when UDP is served. */
  readonly udp: HostPort | undefined;
  /** Settles once both servers have stopped. */
  readonly finished: Promise<void>;

  constructor(options: EchoServerOptions = {}) {
    const hostname = options.hostname ?? "0.0.0.0";
    const port = options.port ?? 10888;
    const log = options.log ?? (() => {});
    const idleMs = options.idleTimeoutMs ?? 300_000;
    if (options.tcp === false && options.udp === false) {
      throw new RangeError("Nothing to serve: enable TCP, UDP or both");
    }
    const tasks: Promise<void>[] = [];
    if (options.tcp ?? true) {
      this.tcp = serveTcp((conn, info) => echoConnection(conn, info.remote, idleMs, log), {
        hostname,
        port,
        maxConnections: options.maxConnections,
        signal: options.signal,
        onError: (error, remote) => log(`echo: ${formatAddress(remote)}: ${(error as Error).message}`),
      });
      tasks.push(this.tcp.finished);
    }
    if (options.udp ?? true) {
      let socket: Deno.DatagramConn;
      try {
        socket = listenUdp({ hostname, port: port === 0 && this.tcp ? this.tcp.addr.port : port });
      } catch (error) {
        if (port !== 0) {
          this.tcp?.close();
          throw error;
        }
        socket = listenUdp({ hostname, port: 0 });
      }
      this.udp = udpAddress(socket);
      tasks.push(echoDatagrams(socket, options.signal, log));
    }
    this.finished = Promise.all(tasks).then(() => {});
  }

  /** Where the server listens, as `tcp://HOST:PORT` and `udp://HOST:PORT`. */
  get endpoints(): string[] {
    const list: string[] = [];
    if (this.tcp) list.push(formatEndpoint("tcp", this.tcp.addr));
    if (this.udp) list.push(formatEndpoint("udp", this.udp));
    return list;
  }
}

/**
 * Starts an echo server over TCP and UDP. Throws at once if a port cannot be bound.
 *
 * @example Usage
 * ```ts
 * import { serveEcho } from "./server.ts";
 * const controller = new AbortController();
 * const echo = serveEcho({ port: 0, udp: false, signal: controller.signal });
 * controller.abort();
 * await echo.finished;
 * ```
 */
export function serveEcho(options: EchoServerOptions = {}): EchoServer {
  return new EchoServer(options);
}

async function echoConnection(
  conn: Deno.TcpConn,
  remote: HostPort,
  idleMs: number,
  log: (line: string) => void,
): Promise<void> {
  const peer = formatAddress(remote);
  const idle = new IdleTimer(idleMs, () => {
    log(`echo: ${peer} idle for ${idleMs / 1000} s, closing`);
    closeQuietly(conn);
  });
  const buffer = new Uint8Array(BUFFER_SIZE);
  let total = 0;
  log(`echo: ${peer} connected`);
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      idle.touch();
      await writeAll(conn, buffer.subarray(0, n));
      total += n;
    }
  } catch (error) {
    if (!isDisconnect(error)) throw error;
  } finally {
    idle.stop();
    log(`echo: ${peer} closed after ${total} bytes`);
  }
}

async function echoDatagrams(
  socket: Deno.DatagramConn,
  signal: AbortSignal | undefined,
  log: (line: string) => void,
): Promise<void> {
  const stop = () => closeQuietly(socket);
  if (signal?.aborted) stop();
  signal?.addEventListener("abort", stop, { once: true });
  const reader = new DatagramReader(socket, { reuseBuffer: 65536 });
  try {
    while (true) {
      const datagram = await reader.receive();
      if (!datagram) break;
      try {
        await socket.send(datagram.data, { transport: "udp", ...datagram.from });
      } catch (error) {
        // One unreachable sender must not stop the others from being answered.
        log(`echo: udp reply to ${formatAddress(datagram.from)} failed: ${(error as Error).message}`);
      }
    }
  } finally {
    signal?.removeEventListener("abort", stop);
    closeQuietly(socket);
  }
}
