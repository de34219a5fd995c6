/**
 * What the main thread and a transfer worker say to each other (see
 * `worker_link.ts` and `transfer_worker.ts`): operations on the worker's
 * socket, whole transfers run there, the file data those transfers read or
 * write on the main thread (in chunks of whole blocks), errors as plain
 * data, and the abort flag the worker checks without waiting for a message.
 *
 * @module
 */

import type { HostPort } from "../net/address.ts";
import type { FileIdentity } from "./block_io.ts";
import type { TransferSettings } from "./options.ts";
import type { RetransmitOptions, RetransmitSnapshot } from "./rto.ts";
import type { TransferStats } from "./sender.ts";

/** An error as plain data. `origin` says whose error it really is: the main thread's own
 * (a source or sink failed there), the abort's reason, or the worker's. */
export interface SerializedError {
  name: string;
  message: string;
  /** The TFTP details, when the error carries them. */
  cause?: { tftpCode: number; remote: boolean };
  origin?: "main" | "abort";
}

/** What a transfer run in the worker needs besides its data. */
export interface JobOptions {
  settings: Pick<TransferSettings, "blksize" | "windowsize" | "timeoutMs" | "rollover">;
  timer?: RetransmitSnapshot;
  retransmit?: Omit<RetransmitOptions, "timeoutMs">;
  peerName?: string;
  /** Whether to report progress. */
  progress: boolean;
  /** Bytes per data chunk (a whole number of blocks). */
  chunkBytes: number;
  /** The file to read or write on the worker's thread; without it, data crosses in chunks. */
  file?: FileIdentity;
  opening?: Uint8Array;
}

/** A receiving job's extras. */
export interface ReceiverJob extends JobOptions {
  first?: Uint8Array;
  maxBytes?: number;
}

/** Messages to the worker. Those with an `id` are answered with a {@linkcode Reply} of that id. */
export type ToWorker =
  | { op: "open"; id: number; hostname: string; wakeFd: number; abort: SharedArrayBuffer }
  | { op: "connect"; peer: HostPort }
  | { op: "send"; packet: Uint8Array; to?: HostPort }
  | { op: "receive"; id: number; timeoutMs: number }
  | { op: "send-blocks"; id: number; job: JobOptions }
  | { op: "receive-blocks"; id: number; job: ReceiverJob }
  | { op: "dally"; id: number; finalAck: Uint8Array; ms: number }
  | { op: "close"; id: number }
  // The running job's data: source chunks, and sink chunks handed back.
  | { op: "chunk"; buffer: ArrayBuffer; length: number; end: boolean }
  | { op: "chunk-error"; error: SerializedError }
  | { op: "written"; buffer: ArrayBuffer; error?: SerializedError }
  | { op: "flushed"; error?: SerializedError };

/** Messages from the worker. */
export type FromWorker =
  | Reply
  // The running job: a consumed source chunk to refill, a sink chunk to write, a flush, progress.
  | { op: "need"; buffer: ArrayBuffer }
  | { op: "write"; buffer: ArrayBuffer; length: number }
  | { op: "flush" }
  | { op: "progress"; bytes: number };

/** The answer to a request with an `id`. */
export type Reply = { op: "reply"; id: number; value?: unknown; error?: SerializedError };

/** What `send-blocks` answers. */
export interface SenderResult extends TransferStats {
  timer: RetransmitSnapshot;
}

/** What `receive-blocks` answers. */
export interface ReceiverResult extends TransferStats {
  finalAck: Uint8Array;
  timer: RetransmitSnapshot;
}

/**
 * An error as plain data that survives `postMessage`: class name, message
 * and TFTP details.
 *
 * @example Usage
 * ```ts
 * import { deserializeError, serializeError } from "./worker_protocol.ts";
 * const copy = deserializeError(serializeError(new Deno.errors.TimedOut("no answer")));
 * copy instanceof Deno.errors.TimedOut; // true
 * ```
 */
export function serializeError(error: unknown, origin?: SerializedError["origin"]): SerializedError {
  const real = error instanceof Error ? error : new Error(String(error));
  const cause = real.cause as { tftpCode?: unknown; remote?: unknown } | undefined;
  const serialized: SerializedError = { name: real.name, message: real.message };
  if (typeof cause?.tftpCode === "number") serialized.cause = { tftpCode: cause.tftpCode, remote: !!cause.remote };
  if (origin) serialized.origin = origin;
  return serialized;
}

const BUILT_IN: Record<string, ErrorConstructor> = { TypeError, RangeError };

/** The error {@linkcode serializeError} described, of the same class where that is a built-in one. */
export function deserializeError(serialized: SerializedError): Error {
  const options = serialized.cause ? { cause: { ...serialized.cause } } : undefined;
  const Kind = (Deno.errors as unknown as Record<string, ErrorConstructor>)[serialized.name] ??
    BUILT_IN[serialized.name];
  if (Kind) return new Kind(serialized.message, options);
  const error = new Error(serialized.message, options);
  if (serialized.name !== "Error") error.name = serialized.name;
  return error;
}

const REASON_BYTES = 1024;

/**
 * An abort flag with its reason, in shared memory: the main thread sets it
 * (then wakes the worker); the worker reads it between two system calls,
 * without waiting for a message it could only receive once its blocking
 * calls are done.
 *
 * @example Usage
 * ```ts
 * import { SharedAbort } from "./worker_protocol.ts";
 * const abort = new SharedAbort();
 * const inWorker = new SharedAbort(abort.buffer); // the same memory, in the worker
 * abort.abort(new Deno.errors.Interrupted("Server shutting down"));
 * inWorker.reason(); // Interrupted: Server shutting down
 * ```
 */
export class SharedAbort {
  /** The shared memory: a flag, a length, and the reason as JSON. */
  readonly buffer: SharedArrayBuffer;
  #header: Int32Array;

  constructor(buffer = new SharedArrayBuffer(8 + REASON_BYTES)) {
    this.buffer = buffer;
    this.#header = new Int32Array(buffer, 0, 2);
  }

  /** Records the reason, then raises the flag (once). */
  abort(reason: unknown): void {
    if (this.aborted) return;
    let json = new TextEncoder().encode(JSON.stringify(serializeError(reason)));
    if (json.length > REASON_BYTES) {
      json = new TextEncoder().encode(JSON.stringify({ name: "Error", message: "aborted" }));
    }
    new Uint8Array(this.buffer, 8, REASON_BYTES).set(json);
    Atomics.store(this.#header, 1, json.length);
    Atomics.store(this.#header, 0, 1);
  }

  /** Whether the flag is up. */
  get aborted(): boolean {
    return Atomics.load(this.#header, 0) === 1;
  }

  /** The reason (a copy of the main thread's error), once aborted. */
  reason(): Error {
    const length = Atomics.load(this.#header, 1);
    // TextDecoder refuses views of shared memory: copy first.
    const json = new TextDecoder().decode(new Uint8Array(this.buffer, 8, length).slice());
    return deserializeError(JSON.parse(json));
  }
}
