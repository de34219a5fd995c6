/**
 * The upload server: files arrive over TCP (the upload protocol, or raw
 * bytes until EOF) and, optionally, as UDP datagrams ended by `bye`. Each
 * is streamed to a temporary file beside its target, hashed on the way, and
 * renamed into place only when complete and verified.
 *
 * @module
 */

import type { ConflictPolicy } from "../fs/atomic_file.ts";
import { fsReason } from "../fs/fs_error.ts";
import { formatAddress, formatEndpoint, type HostPort } from "../net/address.ts";
import { closeQuietly } from "../net/errors.ts";
import { writeAll } from "../net/io.ts";
import { serveTcp, type TcpServer } from "../net/tcp_server.ts";
import { delay } from "../net/timeout.ts";
import { listenUdp, udpAddress } from "../net/udp.ts";
import { sweepPartials } from "./partial.ts";
import { DEFAULT_UPLOAD_PORT, formatReply } from "./protocol.ts";
import { type ActiveUpload, type SessionContext, SessionHandler } from "./session.ts";
import { serveUdpRaw } from "./udp_raw.ts";

/** Options for {@linkcode serveUpload}. */
export interface UploadServerOptions {
  /** Address to listen on.
   * @default {"0.0.0.0"} */
  hostname?: string;
  /** TCP port; 0 picks a free one.
   * @default {8888} */
  port?: number;
  /** Folder the files are stored in (created if missing).
   * @default {"./uploads"} */
  dir?: string;
  /** When a file of the same name exists: store as `name (1).ext`, replace it, or refuse the upload.
   * @default {"rename"} */
  onConflict?: ConflictPolicy;
  /** Largest upload accepted, in bytes.
   * @default {Infinity} */
  maxSize?: number;
  /** Shared secret every upload must carry; raw uploads (which cannot carry one) are then
   * refused, and `udpPort` cannot be given. */
  token?: string;
  /** Store connections that do not open with an upload header as raw files.
   * @default {true} */
  raw?: boolean;
  /** Also take UDP raw uploads on this port (0: a free one); off when not given. Not with a
   * `token`: raw datagrams carry none. */
  udpPort?: number;
  /** Connections served at once; more are told the server is busy.
   * @default {256} */
  maxConnections?: number;
  /** Milliseconds a connection gets to send its first bytes, and each header in full.
   * @default {10000} */
  headerTimeoutMs?: number;
  /** Cut an upload off after this many milliseconds without data.
   * @default {30000} */
  idleTimeoutMs?: number;
  /** Keep the data of an interrupted upload this many milliseconds for `--resume` (0: do not keep it).
   * @default {86400000} */
  keepPartialMs?: number;
  /** Flush each file to disk before reporting it stored.
   * @default {true} */
  fsync?: boolean;
  /** Stops the server when aborted; uploads in progress keep their partial data. */
  signal?: AbortSignal;
  /** Receives one line per upload and per problem. */
  log?: (line: string) => void;
}

const SWEEP_INTERVAL_MAX_MS = 3_600_000;
const SWEEP_INTERVAL_MIN_MS = 60_000;

/**
 * A running upload server. Create it with {@linkcode serveUpload}.
 *
 * @example Usage
 * ```ts
 * import { serveUpload } from "./server.ts";
 * const controller = new AbortController();
 * const server = await serveUpload({ hostname: "127.0.0.1", port: 0, dir: await Deno.makeTempDir(), signal: controller.signal });
 * console.log(server.endpoints); // ["tcp://127.0.0.1:40123"]
 * controller.abort();
 * await server.finished;
 * ```
 */
export class UploadServer {
  /** The TCP server. */
  readonly tcp: TcpServer;
  /** The UDP raw-mode address, when enabled. */
  readonly udp: HostPort | undefined;
  /** The upload folder (absolute, real path). */
  readonly dir: string;
  /** Settles once everything has stopped. */
  readonly finished: Promise<void>;
  #stop: AbortController;

  /** Use {@linkcode serveUpload}. */
  constructor(dir: string, options: UploadServerOptions) {
    this.dir = dir;
    this.#stop = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, this.#stop.signal]) : this.#stop.signal;
    const log = options.log ?? (() => {});
    const active = new Map<string, ActiveUpload>();
    const keepPartialMs = options.keepPartialMs ?? 86_400_000;
    const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
    const maxConnections = options.maxConnections ?? 256;
    const context: SessionContext = {
      root: dir,
      onConflict: options.onConflict ?? "rename",
      maxSize: options.maxSize ?? Infinity,
      token: options.token,
      raw: options.raw ?? true,
      headerTimeoutMs: options.headerTimeoutMs ?? 10_000,
      idleTimeoutMs,
      keepPartial: keepPartialMs > 0,
      fsync: options.fsync ?? true,
      active,
      log,
    };
    const hostname = options.hostname ?? "0.0.0.0";
    // UDP first: if TCP then fails, only a socket needs closing, not a running server.
    const socket = options.udpPort === undefined ? undefined : listenUdp({ hostname, port: options.udpPort });
    try {
      const sessions = new SessionHandler(context);
      this.tcp = serveTcp((conn, info) => sessions.serve(conn, info), {
        hostname,
        port: options.port ?? DEFAULT_UPLOAD_PORT,
        maxConnections,
        signal,
        onRefused: (conn) => {
          const message = `the server is serving ${maxConnections} connections: try again later`;
          return writeAll(conn, new TextEncoder().encode(formatReply({ kind: "error", code: "busy", message })));
        },
        onError: (error, remote) => log(`upload: ${formatAddress(remote)} ${(error as Error).message}`),
      });
    } catch (error) {
      if (socket) closeQuietly(socket);
      throw error;
    }
    const udpInUse = new Set<string>();
    const inUse = () => new Set([...active.keys(), ...udpInUse]);
    const tasks = [this.tcp.finished, sweepRegularly(dir, keepPartialMs, inUse, signal, log)];
    if (socket) {
      this.udp = udpAddress(socket);
      tasks.push(
        serveUdpRaw(socket, {
          dir,
          idleTimeoutMs,
          maxSize: options.maxSize,
          fsync: options.fsync,
          signal,
          log,
          inUse: udpInUse,
        }),
      );
    }
    this.finished = Promise.all(tasks).then(() => {});
  }

  /** Where the server listens: `tcp://HOST:PORT`, and `udp://HOST:PORT` in UDP raw mode. */
  get endpoints(): string[] {
    const list = [formatEndpoint("tcp", this.tcp.addr)];
    if (this.udp) list.push(formatEndpoint("udp", this.udp));
    return list;
  }

  /** Stops the server (as aborting `signal` does) and waits until it has stopped. */
  close(): Promise<void> {
    this.#stop.abort();
    return this.finished;
  }
}

/**
 * Creates the upload folder if needed and starts the upload server. Throws
 * at once, naming the address, if a port cannot be bound.
 *
 * @example Usage
 * ```ts
 * import { serveUpload } from "./server.ts";
 * const server = await serveUpload({ hostname: "127.0.0.1", port: 0, dir: await Deno.makeTempDir(), udpPort: 0 });
 * console.log(server.endpoints); // ["tcp://127.0.0.1:40123", "udp://127.0.0.1:40124"]
 * await server.close();
 * ```
 */
export async function serveUpload(options: UploadServerOptions = {}): Promise<UploadServer> {
  if (options.token !== undefined && options.udpPort !== undefined) {
    throw new TypeError("UDP raw uploads carry no token: give udpPort or token, not both");
  }
  const dir = options.dir ?? "uploads";
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (error) {
    throw new (error instanceof Error ? error.constructor as ErrorConstructor : Error)(
      `Cannot create the upload folder ${dir}: ${fsReason(error)}`,
    );
  }
  return new UploadServer(await Deno.realPath(dir), options);
}

// Removes partial uploads nobody came back for: at start, then now and then.
async function sweepRegularly(
  dir: string,
  keepPartialMs: number,
  inUse: () => Set<string>,
  signal: AbortSignal,
  log: (line: string) => void,
): Promise<void> {
  const interval = Math.min(SWEEP_INTERVAL_MAX_MS, Math.max(SWEEP_INTERVAL_MIN_MS, keepPartialMs / 4));
  while (!signal.aborted) {
    const removed = await sweepPartials(dir, { maxAgeMs: keepPartialMs, inUse: inUse(), signal });
    if (removed > 0) log(`upload: removed ${removed} partial upload${removed > 1 ? "s" : ""} older than the keep time`);
    await delay(interval, signal).catch(() => {});
  }
}
