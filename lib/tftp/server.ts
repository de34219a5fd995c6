/**
 * The TFTP server: requests arrive on one port; each transfer gets its own
 * socket (a fresh transfer ID), its own timers, and runs the sender (RRQ) or
 * the receiver (WRQ) state machine.
 *
 * - Files are served from under `root` only: names are resolved with
 *   `resolveInside` (absolute paths, `..` and symbolic links out of the root
 *   are refused with an access violation).
 * - Read-only unless `create` (new files) and/or `overwrite` (existing
 *   files); an upload is written to a temporary name and renamed into place
 *   only when complete (just before the final ACK; flushed to disk right
 *   after), so a failed one leaves nothing.
 * - A request repeated by a client whose transfer is already running is
 *   ignored; past `maxTransfers` a request gets "server busy".
 *
 * @module
 */

import { formatAddress, formatEndpoint, type HostPort } from "../net/address.ts";
import { closeQuietly } from "../net/errors.ts";
import { DatagramReader, listenUdp, udpAddress } from "../net/udp.ts";
import { AtomicFile, syncToDisk } from "../fs/atomic_file.ts";
import { resolveInside } from "../fs/safe_path.ts";
import { formatBytes, formatDuration, formatRate } from "../text/format.ts";
import { stripControls } from "../text/sanitize.ts";
import { openTransferLink, resolveBackend, type UdpBackendChoice } from "./backend.ts";
import { fileSink, fileSource } from "./block_io.ts";
import { errorPacketFor, tftpError, tftpInfo } from "./errors.ts";
import { isSupportedMode, negotiate, type ServerLimits, type TransferSettings } from "./options.ts";
import {
  decodePacket,
  encodeAck,
  encodeError,
  encodeOack,
  ErrorCode,
  MAX_BLKSIZE,
  Opcode,
  opcodeOf,
  type RequestPacket,
} from "./packet.ts";
import type { RetransmitOptions } from "./rto.ts";
import type { TransferStats } from "./sender.ts";
import type { TransferLink, UdpBackend } from "./transfer_link.ts";
import { TransferWorkers } from "./worker_link.ts";

/** Options for {@linkcode serveTftp}. */
export interface TftpServerOptions extends ServerLimits {
  /** The folder served; nothing outside it is ever read or written. */
  root: string;
  /** Address to listen on.
   * @default {"0.0.0.0"} */
  hostname?: string;
  /** Port to listen on (69 needs privileges; 0 picks a free one).
   * @default {69} */
  port?: number;
  /** Accept uploads of new files.
   * @default {false} */
  create?: boolean;
  /** Accept uploads that replace existing files.
   * @default {false} */
  overwrite?: boolean;
  /** Transfers at once; more requests get "server busy".
   * @default {256} */
  maxTransfers?: number;
  /** Read a leading "/" in a requested name as the root (some boot ROMs send one);
   * by default absolute names are refused.
   * @default {false} */
  allowLeadingSlash?: boolean;
  /** Retransmit tuning (retries, bounds of the adaptive timer).
   * @default {{ retries: 6 }} */
  retransmit?: Omit<RetransmitOptions, "timeoutMs">;
  /** After acknowledging an upload's final block, stay this long (milliseconds)
   * to acknowledge it again if the client did not hear the ACK.
   * @default {6000} */
  dallyMs?: number;
  /** How transfers move their datagrams: `ffi` (blocking libc calls in a thread per transfer; 64-bit
   * Linux with glibc and `--allow-ffi`), `deno` (`Deno.listenDatagram`), or `auto` (ffi where it can run).
   * Requests always arrive through `Deno.listenDatagram`.
   * @default {"auto"} */
  udpBackend?: UdpBackendChoice;
  /** ffi backend: transfer threads at most; a transfer that finds them all busy runs on the deno backend.
   * @default {16} */
  maxThreads?: number;
  /** Stops the server when aborted: transfers in progress are told so with an ERROR. */
  signal?: AbortSignal;
  /** Receives one line per transfer and per refused request. */
  log?: (line: string) => void;
}

/** One finished (or failed) transfer, as the server logs it. */
export interface TransferRecord {
  /** The client's address. */
  client: HostPort;
  /** "RRQ" (the client reads) or "WRQ" (the client writes). */
  direction: "RRQ" | "WRQ";
  filename: string;
  mode: string;
  /** Payload bytes moved. */
  bytes: number;
  /** DATA blocks the server sent again (downloads only). */
  retransmitted: number;
  /** The UDP backend that moved it. */
  backend: UdpBackend;
  durationMs: number;
  /** `undefined` on success, or what went wrong. */
  error?: Error;
}

const SHUTDOWN = "Server shutting down";

/**
 * A running TFTP server. Create it with {@linkcode serveTftp}.
 *
 * @example Usage
 * ```ts
 * import { serveTftp } from "./server.ts";
 * const controller = new AbortController();
 * const server = serveTftp({ root: ".", hostname: "127.0.0.1", port: 0, signal: controller.signal });
 * console.log(server.endpoint); // "udp://127.0.0.1:40123"
 * controller.abort();
 * await server.finished;
 * ```
 */
export class TftpServer {
  /** The address the server listens on. */
  readonly address: HostPort;
  /** The UDP backend transfers run on (when its threads are all busy, a transfer runs on deno). */
  readonly backend: UdpBackend;
  /** Settles once the server and every transfer have stopped. */
  readonly finished: Promise<void>;
  #options: TftpServerOptions;
  #socket: Deno.DatagramConn;
  #active = new Map<string, Promise<void>>();
  #lingering = new Set<Promise<void>>();
  #stop = new AbortController();
  #workers: TransferWorkers | undefined;
  #log: (line: string) => void;
  #onRecord: ((record: TransferRecord) => void) | undefined;

  constructor(options: TftpServerOptions, onRecord?: (record: TransferRecord) => void) {
    this.#options = options;
    this.#log = options.log ?? (() => {});
    this.#onRecord = onRecord;
    this.backend = resolveBackend(options.udpBackend);
    this.#socket = listenUdp({ hostname: options.hostname ?? "0.0.0.0", port: options.port ?? 69 });
    this.address = udpAddress(this.#socket);
    if (this.backend === "ffi") this.#workers = new TransferWorkers({ max: options.maxThreads });
    const signal = options.signal;
    const onAbort = () => this.#stop.abort(new Deno.errors.Interrupted(SHUTDOWN));
    if (signal?.aborted) onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    this.finished = this.#serve().finally(() => signal?.removeEventListener("abort", onAbort));
  }

  /** `udp://HOST:PORT`. */
  get endpoint(): string {
    return formatEndpoint("udp", this.address);
  }

  /** Transfers in progress. */
  get activeTransfers(): number {
    return this.#active.size;
  }

  /** Transfer threads alive (ffi backend), busy or kept ready. */
  get threads(): number {
    return this.#workers?.size ?? 0;
  }

  async #serve(): Promise<void> {
    const stop = () => closeQuietly(this.#socket);
    if (this.#stop.signal.aborted) stop();
    this.#stop.signal.addEventListener("abort", stop, { once: true });
    const reader = new DatagramReader(this.#socket, { reuseBuffer: MAX_BLKSIZE + 64 });
    try {
      while (true) {
        const datagram = await reader.receive();
        if (!datagram) break;
        this.#dispatch(datagram.data, datagram.from);
      }
    } finally {
      closeQuietly(this.#socket);
      // A transfer that ends now may leave a dallying socket behind: wait for those too.
      while (this.#active.size > 0 || this.#lingering.size > 0) {
        await Promise.all([...this.#active.values(), ...this.#lingering]);
      }
      this.#workers?.close();
    }
  }

  #dispatch(bytes: Uint8Array, from: HostPort): void {
    const packet = decodePacket(bytes);
    if (packet.type === "RRQ" || packet.type === "WRQ") return this.#request(packet, from);
    const opcode = opcodeOf(bytes);
    if (packet.type === "malformed") {
      // A garbled request is worth an answer; other noise is not.
      if (opcode === Opcode.RRQ || opcode === Opcode.WRQ) {
        this.#refuse(from, ErrorCode.illegalOperation, `Malformed request: ${packet.reason}`);
      }
      return;
    }
    if (packet.type !== "ERROR") {
      // DATA, ACK or OACK belong to a transfer, never to this port.
      this.#reply(from, encodeError(ErrorCode.unknownTransferId, "Unknown transfer ID"));
    }
  }

  #request(request: RequestPacket, client: HostPort): void {
    const key = formatAddress(client);
    if (this.#active.has(key)) return; // the client repeated its request: its transfer is under way
    const limit = this.#options.maxTransfers ?? 256;
    if (this.#active.size >= limit) {
      this.#refuse(client, ErrorCode.undefined, `Server busy: ${limit} transfers at once, try again later`);
      return;
    }
    const transfer = new Transfer(request, client, this.#options, {
      signal: this.#stop.signal,
      hostname: this.address.hostname,
      backend: this.backend,
      workers: this.#workers,
    });
    const done = transfer.run().then((record) => {
      this.#report(record);
      this.#active.delete(key);
      // The socket may still be closing, or an upload's stays a little to repeat the final ACK.
      const lingering = transfer.lingering;
      this.#lingering.add(lingering);
      lingering.finally(() => this.#lingering.delete(lingering));
    });
    this.#active.set(key, done);
  }

  #refuse(client: HostPort, code: number, message: string): void {
    this.#log(`tftp: ${formatAddress(client)} refused: ${message}`);
    this.#reply(client, encodeError(code, message));
  }

  #reply(to: HostPort, packet: Uint8Array): void {
    this.#socket.send(packet, { transport: "udp", ...to }).catch(() => {});
  }

  #report(record: TransferRecord): void {
    this.#onRecord?.(record);
    const what = `${record.direction} ${JSON.stringify(stripControls(record.filename))} ${record.mode}`;
    const moved = record.direction === "RRQ" ? "sent" : "received";
    const amount = `${formatBytes(record.bytes)} in ${formatDuration(record.durationMs)}`;
    const again = record.retransmitted > 0 ? `, ${record.retransmitted} sent again` : "";
    // A transfer that found every thread busy ran on the other backend: say so.
    const backend = record.backend === this.backend ? "" : ` [${record.backend} backend: all threads busy]`;
    const outcome = record.error
      ? `failed after ${amount}: ${stripControls(record.error.message)}`
      : `${moved} ${amount} (${formatRate(record.bytes, record.durationMs)}${again})`;
    this.#log(`tftp: ${formatAddress(record.client)} ${what}: ${outcome}${backend}`);
  }
}

/** Where a transfer's socket comes from, and what stops it. */
interface TransferContext {
  signal: AbortSignal;
  /** The server's address: the transfer's socket is bound there, on a fresh port. */
  hostname: string;
  backend: UdpBackend;
  workers: TransferWorkers | undefined;
}

/** One transfer on its own socket. */
class Transfer {
  #request: RequestPacket;
  #client: HostPort;
  #options: TftpServerOptions;
  #context: TransferContext;
  #signal: AbortSignal;
  #bytes = 0;
  #retransmitted = 0;
  #dallying: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(request: RequestPacket, client: HostPort, options: TftpServerOptions, context: TransferContext) {
    this.#request = request;
    this.#client = client;
    this.#options = options;
    this.#context = context;
    this.#signal = context.signal;
  }

  async run(): Promise<TransferRecord> {
    const started = performance.now();
    const request = this.#request;
    const record: TransferRecord = {
      client: this.#client,
      direction: request.type,
      filename: request.filename,
      mode: request.mode,
      bytes: 0,
      retransmitted: 0,
      backend: this.#context.backend,
      durationMs: 0,
    };
    let link: TransferLink | undefined;
    try {
      const { hostname, backend, workers } = this.#context;
      link = await openTransferLink({ backend, workers, hostname, peer: this.#client, signal: this.#signal });
      record.backend = link.backend;
      if (request.type === "RRQ") await this.#read(link);
      else await this.#write(link);
    } catch (error) {
      record.error = error as Error;
    } finally {
      record.bytes = this.#bytes;
      record.retransmitted = this.#retransmitted;
      record.durationMs = performance.now() - started;
      // Closing goes on after the outcome is known (a client may ask again at once, from the same port);
      // an upload that dallies closes its socket when the dally ends.
      if (link && !this.#dallying) this.#closing = link.close();
    }
    return record;
  }

  /** Settles when the transfer's socket is closed (uploads stay a while to repeat their final ACK). */
  get lingering(): Promise<void> {
    return this.#dallying ?? this.#closing ?? Promise.resolve();
  }

  /** Refuses the request before any data moved: sends the client the ERROR, returns the error to throw. */
  async #refuse(link: TransferLink, error: Error): Promise<Error> {
    await link.send(errorPacketFor(error));
    return error;
  }

  /** `promise`, or, when it fails on a file-system error, a refusal that tells the client why. */
  async #orRefuse<T>(link: TransferLink, promise: Promise<T>): Promise<T> {
    try {
      return await promise;
    } catch (error) {
      throw await this.#refuse(link, cleanFileError(error));
    }
  }

  async #resolve(link: TransferLink): Promise<string> {
    const request = this.#request;
    if (!isSupportedMode(request.mode)) {
      throw await this.#refuse(link, tftpError(ErrorCode.illegalOperation, `Mode ${request.mode} is not supported`));
    }
    const resolved = resolveInside(this.#options.root, request.filename, {
      backslashIsSeparator: true,
      allowLeadingSlash: this.#options.allowLeadingSlash,
    });
    return (await this.#orRefuse(link, resolved)).path;
  }

  async #read(link: TransferLink): Promise<void> {
    const path = await this.#resolve(link);
    const info = await this.#orRefuse(link, Deno.stat(path));
    if (!info.isFile) throw await this.#refuse(link, tftpError(ErrorCode.accessViolation, "Not a regular file"));
    const negotiated = await this.#negotiate(link, info.size);
    using file = await this.#orRefuse(link, Deno.open(path, { read: true }));
    const source = await this.#orRefuse(
      link,
      fileSource(file, path, {
        mode: this.#request.mode as "octet" | "netascii",
        blksize: negotiated.settings.blksize,
      }),
    );
    await this.#transfer((onProgress) =>
      link.sendBlocks(source, {
        opening: negotiated.oack,
        ...this.#transferOptions(negotiated.settings, onProgress),
      })
    );
  }

  async #write(link: TransferLink): Promise<void> {
    const { create = false, overwrite = false } = this.#options;
    const refusal = (code: number, message: string) => this.#refuse(link, tftpError(code, message));
    if (!create && !overwrite) {
      throw await refusal(ErrorCode.accessViolation, "This server is read-only (uploads need --create or --overwrite)");
    }
    const path = await this.#resolve(link);
    const existing = await Deno.lstat(path).catch(() => undefined);
    if (existing && !existing.isFile) throw await refusal(ErrorCode.accessViolation, "Not a regular file");
    if (existing && !overwrite) {
      throw await refusal(ErrorCode.fileExists, "File already exists (replacing it needs --overwrite)");
    }
    if (!existing && !create) {
      throw await refusal(ErrorCode.accessViolation, "Creating files is not allowed (needs --create)");
    }
    const negotiated = await this.#negotiate(link, undefined);
    // The complete file is renamed into place before the final ACK, so a client told "done"
    // finds it; it is flushed to disk just after (an fsync of 32 MiB takes 40-60 ms).
    await using file = await this.#orRefuse(link, AtomicFile.create(path, { fsync: false }));
    const written = await this.#orRefuse(
      link,
      fileSink(file, { mode: this.#request.mode as "octet" | "netascii", blksize: negotiated.settings.blksize }),
    );
    let stored = path;
    const sink = {
      file: written.file,
      write: (payload: Uint8Array) => written.write(payload),
      flush: async () => {
        await written.flush();
        stored = await file.commit({ onConflict: overwrite ? "overwrite" : "reject" });
      },
    };
    const result = await this.#transfer((onProgress) =>
      link.receiveBlocks(sink, {
        opening: negotiated.oack ?? encodeAck(0),
        maxBytes: this.#options.maxUploadBytes,
        ...this.#transferOptions(negotiated.settings, onProgress),
      })
    );
    this.#dallying = link.dally(result.finalAck, this.#options.dallyMs ?? 6000).finally(() => link.close());
    await syncToDisk(stored);
  }

  async #negotiate(link: TransferLink, fileSize: number | undefined) {
    const result = negotiate(this.#request, fileSize, this.#options);
    if (!result.ok) throw await this.#refuse(link, tftpError(result.code, result.message));
    return { settings: result.settings, oack: result.oack ? encodeOack(result.oack) : undefined };
  }

  #transferOptions(settings: TransferSettings, onProgress: (bytes: number) => void) {
    return { settings, onProgress, retransmit: this.#options.retransmit, signal: this.#signal, peerName: "client" };
  }

  async #transfer<T extends TransferStats>(run: (onProgress: (bytes: number) => void) => Promise<T>): Promise<T> {
    const result = await run((bytes) => this.#bytes = bytes);
    this.#bytes = result.bytes;
    this.#retransmitted = result.retransmitted;
    return result;
  }
}

/** A file-system error as a client may see it: the reason, never the server's paths. */
function cleanFileError(error: unknown): Error {
  if (tftpInfo(error)) return error as Error;
  if (error instanceof Deno.errors.NotFound) return tftpError(ErrorCode.fileNotFound, "File not found");
  if (error instanceof Deno.errors.PermissionDenied) {
    const message = (error as Error).message;
    // resolveInside's refusals say why ("..", absolute, symlink out); the OS's would name paths.
    return tftpError(ErrorCode.accessViolation, message.startsWith("Refused name") ? message : "Access violation");
  }
  if (error instanceof Deno.errors.NotADirectory) return tftpError(ErrorCode.fileNotFound, "File not found");
  if (error instanceof Deno.errors.IsADirectory) return tftpError(ErrorCode.accessViolation, "Not a regular file");
  return tftpError(ErrorCode.undefined, "Cannot open the file");
}

/**
 * Starts a TFTP server. Throws at once if the port cannot be bound
 * ("Cannot bind to udp 0.0.0.0:69: permission denied").
 *
 * @example Usage
 * ```ts
 * import { serveTftp } from "./server.ts";
 * const controller = new AbortController();
 * const server = serveTftp({
 *   root: "/srv/tftp",
 *   port: 6969,
 *   create: true,
 *   signal: controller.signal,
 *   log: console.log,
 * });
 * controller.abort();
 * await server.finished;
 * ```
 */
export function serveTftp(options: TftpServerOptions, onRecord?: (record: TransferRecord) => void): TftpServer {
  return new TftpServer(options, onRecord);
}
