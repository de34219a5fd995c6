/**
 * The ffi backend, main-thread side: a {@linkcode WorkerLink} is a
 * transfer's socket living in a worker thread (`transfer_worker.ts`), which
 * makes blocking libc calls there and runs the data phase itself; this side
 * sends it the few control packets, feeds its source or drains its sink in
 * chunks, reports its progress and aborts it at once when the signal fires.
 * {@linkcode TransferWorkers} keeps such threads ready for a server.
 *
 * @module
 */

import { lookup } from "node:dns/promises";
import { formatAddress, type HostPort } from "../net/address.ts";
import { parseIp } from "../net/ip.ts";
import { Waker } from "../net/libc_udp.ts";
import type { Datagram } from "../net/udp.ts";
import type { BlockSink, BlockSource } from "./block_io.ts";
import type { ReceiveResult, ReceiverOptions } from "./receiver.ts";
import type { SenderOptions, TransferOptions, TransferStats } from "./sender.ts";
import type { TransferLink } from "./transfer_link.ts";
import {
  deserializeError,
  type FromWorker,
  type JobOptions,
  type ReceiverResult,
  type SenderResult,
  type SerializedError,
  serializeError,
  SharedAbort,
  type ToWorker,
} from "./worker_protocol.ts";

/** The messages that are answered. */
type WorkerRequest = Extract<ToWorker, { id: number }>;

const WORKER_URL = new URL("./transfer_worker.ts", import.meta.url);
const CHUNK_BYTES = 256 * 1024;
const SENT: Promise<void> = Promise.resolve();

/** What a worker's messages go to while a link holds it. */
export interface WorkerOwner {
  /** A message from the thread. */
  message(message: FromWorker): void;
  /** The thread failed (or was stopped). */
  failed(error: Error): void;
}

let alive = 0;

/**
 * How many transfer threads this process runs now (servers' and clients'):
 * 0 once every server has finished and every client transfer has ended.
 *
 * @example Usage
 * ```ts
 * import { transferThreadsAlive } from "./worker_link.ts";
 * console.log(transferThreadsAlive()); // 0
 * ```
 */
export function transferThreadsAlive(): number {
  return alive;
}

/**
 * One transfer thread (a worker running `transfer_worker.ts`), lent to one
 * link at a time. Made and lent by {@linkcode TransferWorkers}, or by
 * {@linkcode WorkerLink.open} for a link of its own.
 *
 * @example Usage
 * ```ts
 * import { TransferWorkers } from "./worker_link.ts";
 * const workers = new TransferWorkers({ max: 1, warm: 0 });
 * const thread = workers.acquire(); // a TransferWorker
 * if (thread) workers.release(thread);
 * workers.close();
 * ```
 */
export class TransferWorker {
  #worker: Worker;
  #owner: WorkerOwner | undefined;
  #terminated = false;
  /** Why the thread cannot be used any more. */
  failure: Error | undefined;

  /** Starts the thread. */
  constructor() {
    this.#worker = new Worker(WORKER_URL, { type: "module", name: "tftp transfer" });
    alive++;
    this.#worker.onmessage = (event: MessageEvent<FromWorker>) => this.#owner?.message(event.data);
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#fail(new Error(`The TFTP transfer thread failed: ${event.message}`));
    };
    this.#worker.onmessageerror = () => this.#fail(new Error("The TFTP transfer thread sent an unreadable message"));
  }

  #fail(error: Error): void {
    this.failure ??= error;
    this.#owner?.failed(error);
  }

  /** Routes the thread's messages to `owner` (or nowhere). */
  lend(owner: WorkerOwner | undefined): void {
    this.#owner = owner;
  }

  /** Sends the thread a message. */
  post(message: ToWorker, transfer: Transferable[] = []): void {
    this.#worker.postMessage(message, transfer);
  }

  /** Stops the thread (once). */
  terminate(): void {
    this.failure ??= new Error("The TFTP transfer thread has been stopped");
    if (this.#terminated) return;
    this.#terminated = true;
    alive--;
    this.#worker.terminate();
  }
}

/** Options for {@linkcode TransferWorkers}. */
export interface TransferWorkersOptions {
  /** Threads at most; a transfer that finds none free runs on the deno backend instead.
   * @default {16} */
  max?: number;
  /** Threads started at once and kept even when idle, so that a first transfer does not wait for one.
   * @default {1} */
  warm?: number;
  /** An idle thread beyond `warm` ends after this many milliseconds.
   * @default {30000} */
  idleMs?: number;
}

/**
 * The transfer threads of a server: started when needed (up to `max`),
 * lent to one transfer at a time, ended when idle for a while, and all
 * stopped by `close()`.
 *
 * @example Usage
 * ```ts
 * import { TransferWorkers, WorkerLink } from "./worker_link.ts";
 * const workers = new TransferWorkers({ max: 8 });
 * const link = await WorkerLink.open({ hostname: "127.0.0.1", workers }); // undefined when all 8 are busy
 * await link?.close();
 * workers.close();
 * ```
 */
export class TransferWorkers {
  #max: number;
  #warm: number;
  #idleMs: number;
  #idle: TransferWorker[] = [];
  #busy = new Set<TransferWorker>();
  #timers = new Map<TransferWorker, ReturnType<typeof setTimeout>>();
  #closed = false;

  /** A pool; `warm` threads start at once. */
  constructor(options: TransferWorkersOptions = {}) {
    this.#max = Math.max(0, options.max ?? 16);
    this.#warm = Math.min(this.#max, Math.max(0, options.warm ?? 1));
    this.#idleMs = options.idleMs ?? 30_000;
    for (let i = 0; i < this.#warm; i++) this.#idle.push(new TransferWorker());
  }

  /** Threads alive (busy or idle). */
  get size(): number {
    return this.#idle.length + this.#busy.size;
  }

  /** Threads lent to a transfer now. */
  get busy(): number {
    return this.#busy.size;
  }

  /** A thread for one transfer, or `undefined` when `max` are busy (or the pool is closed). */
  acquire(): TransferWorker | undefined {
    if (this.#closed) return undefined;
    let worker = this.#idle.pop();
    if (worker) {
      clearTimeout(this.#timers.get(worker));
      this.#timers.delete(worker);
    } else if (this.#busy.size < this.#max) {
      worker = new TransferWorker();
    } else {
      return undefined;
    }
    this.#busy.add(worker);
    return worker;
  }

  /** Takes a thread back once its transfer's socket is closed. */
  release(worker: TransferWorker): void {
    this.#busy.delete(worker);
    worker.lend(undefined);
    if (this.#closed || worker.failure) return worker.terminate();
    this.#idle.push(worker);
    if (this.#idle.length > this.#warm) {
      const timer = setTimeout(() => {
        this.#timers.delete(worker);
        this.#idle = this.#idle.filter((idle) => idle !== worker);
        worker.terminate();
      }, this.#idleMs);
      Deno.unrefTimer(timer);
      this.#timers.set(worker, timer);
    }
  }

  /** Stops every idle thread now and every busy one when it comes back. */
  close(): void {
    this.#closed = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    for (const worker of this.#idle) worker.terminate();
    this.#idle = [];
  }
}

/** Options for {@linkcode WorkerLink.open}. */
export interface WorkerLinkOptions {
  /** The local address to bind (an IP literal; the port is always a fresh one). */
  hostname: string;
  /** The peer's transfer ID, if known. */
  peer?: HostPort;
  /** Aborts whatever the link is doing, at once (the worker is woken). */
  signal?: AbortSignal;
  /** Borrow a thread from here; without it the link starts one of its own and stops it on close. */
  workers?: TransferWorkers;
}

/** The running data phase: where its data comes from or goes, and what failed on this side. */
interface Job {
  blksize: number;
  chunkBytes: number;
  source?: BlockSource;
  sink?: BlockSink;
  onProgress?: (bytes: number) => void;
  /** The source or sink failed here: the worker's copy of the error stands for this one. */
  error?: unknown;
  /** The source is exhausted (or failed): no more chunks. */
  ended: boolean;
  /** File operations, one at a time. */
  queue: Promise<void>;
}

/**
 * A transfer's socket in a worker thread (the ffi backend). Control packets
 * cross one message each way; the data phase runs entirely in the worker.
 *
 * @example Usage
 * ```ts
 * import { WorkerLink } from "./worker_link.ts";
 * import { bytesSource } from "./block_io.ts";
 * import { DEFAULT_SETTINGS } from "./options.ts";
 * const link = (await WorkerLink.open({ hostname: "127.0.0.1", peer: { hostname: "127.0.0.1", port: 50000 } }))!;
 * try {
 *   await link.sendBlocks(bytesSource(new Uint8Array(100)), { settings: DEFAULT_SETTINGS });
 * } finally {
 *   await link.close();
 * }
 * ```
 */
export class WorkerLink implements TransferLink {
  readonly backend = "ffi";
  #worker: TransferWorker;
  #workers: TransferWorkers | undefined;
  #abort = new SharedAbort();
  /** The reason given to the worker: the worker's copy of it stands for this one. */
  #abortReason: unknown;
  #waker: Waker;
  #signal: AbortSignal | undefined;
  #onAbort = () => this.#abortNow(this.#signal!.reason);
  #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>();
  #lastId = 0;
  #failure: Error | undefined;
  #local: HostPort = { hostname: "", port: 0 };
  #peer: HostPort | undefined;
  #job: Job | undefined;
  /** A name lookup that messages sent after it must wait for. */
  #lookup: Promise<void> | undefined;
  #sendError: unknown;
  #closing: Promise<void> | undefined;

  private constructor(worker: TransferWorker, options: WorkerLinkOptions) {
    this.#worker = worker;
    this.#workers = options.workers;
    this.#waker = new Waker();
    worker.lend({ message: (message) => this.#message(message), failed: (error) => this.#failed(error) });
    if (worker.failure) this.#failed(worker.failure);
    this.#signal = options.signal;
    this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
    if (this.#signal?.aborted) this.#onAbort();
  }

  /**
   * Opens a socket bound to `hostname` in a worker thread: one borrowed from
   * `workers` (`undefined` when none is free), or a new one. Throws what
   * binding throws.
   */
  static async open(options: WorkerLinkOptions): Promise<WorkerLink | undefined> {
    const worker = options.workers ? options.workers.acquire() : new TransferWorker();
    if (!worker) return undefined;
    let link: WorkerLink;
    try {
      link = new WorkerLink(worker, options);
    } catch (error) {
      if (options.workers) options.workers.release(worker);
      else worker.terminate();
      throw error;
    }
    try {
      link.#local = await link.#call<HostPort>(
        { op: "open", id: 0, hostname: options.hostname, wakeFd: link.#waker.fd, abort: link.#abort.buffer },
      );
    } catch (error) {
      await link.close();
      throw error;
    }
    if (options.peer) link.connect(options.peer);
    return link;
  }

  /** The peer's transfer ID, once known. */
  get peer(): HostPort | undefined {
    return this.#peer;
  }

  /** The local address of the socket. */
  get localAddress(): HostPort {
    return this.#local;
  }

  connect(peer: HostPort): void {
    this.#peer = { hostname: peer.hostname, port: peer.port };
    this.#post({ op: "connect", peer: this.#peer });
  }

  send(packet: Uint8Array): Promise<void> {
    if (!this.#peer) throw new Error("WorkerLink.send: no peer yet (call connect first)");
    const copy = packet.slice();
    this.#post({ op: "send", packet: copy }, [copy.buffer]);
    return SENT;
  }

  sendTo(packet: Uint8Array, to: HostPort): Promise<void> {
    const copy = packet.slice();
    if (parseIp(to.hostname)) {
      this.#post({ op: "send", packet: copy, to: { hostname: to.hostname, port: to.port } }, [copy.buffer]);
      return SENT;
    }
    // A name: look it up first; what is sent after waits for it.
    this.#enqueue(async () => {
      try {
        const hostname = await this.#resolve(to.hostname);
        this.#worker.post({ op: "send", packet: copy, to: { hostname, port: to.port } }, [copy.buffer]);
      } catch (error) {
        this.#sendError ??= error;
      }
    });
    return SENT;
  }

  /** Runs `action` after what is queued behind a name lookup. */
  #enqueue(action: () => void | Promise<void>): void {
    const next = (this.#lookup ?? SENT).then(action);
    this.#lookup = next;
    next.then(() => {
      if (this.#lookup === next) this.#lookup = undefined;
    });
  }

  async #resolve(hostname: string): Promise<string> {
    // An IPv6 socket reaches IPv4 too (mapped); an IPv4 one only IPv4.
    const family = this.#local.hostname.includes(":") ? 0 : 4;
    try {
      return (await lookup(hostname, { family })).address;
    } catch (error) {
      // Worded as Deno words it, so that both backends fail alike.
      const reason = (error as { code?: string }).code === "ENOTFOUND"
        ? "Name or service not known"
        : (error as Error).message;
      throw new Deno.errors.NotFound(`failed to lookup address information: ${reason}`, { cause: error });
    }
  }

  async receive(timeoutMs: number): Promise<Uint8Array | null> {
    return (await this.receiveDatagram(timeoutMs))?.data ?? null;
  }

  async receiveDatagram(timeoutMs: number): Promise<Datagram | null> {
    if (this.#lookup) await this.#lookup;
    if (this.#sendError !== undefined) throw this.#sendError;
    if (this.#closing) return null;
    return await this.#call<Datagram | null>({ op: "receive", id: 0, timeoutMs });
  }

  async sendBlocks(source: BlockSource, options: SenderOptions): Promise<TransferStats> {
    const job = this.#startJob(options, { source });
    // A file the worker reads itself; else two chunks ahead: one being sent, one ready.
    if (!source.file) { for (let i = 0; i < 2; i++) this.#refill(new ArrayBuffer(job.chunkBytes)); }
    const result = await this.#runJob<SenderResult>(options, {
      op: "send-blocks",
      id: 0,
      job: { ...this.#jobOptions(options, job), file: source.file },
    });
    const { bytes, blocks, retransmitted } = result;
    return { bytes, blocks, retransmitted };
  }

  async receiveBlocks(sink: BlockSink, options: ReceiverOptions): Promise<ReceiveResult> {
    const job = this.#startJob(options, { sink });
    const result = await this.#runJob<ReceiverResult>(options, {
      op: "receive-blocks",
      id: 0,
      job: {
        ...this.#jobOptions(options, job),
        file: sink.file,
        first: options.first?.slice(),
        maxBytes: options.maxBytes,
      },
    });
    const { bytes, blocks, retransmitted, finalAck } = result;
    return { bytes, blocks, retransmitted, finalAck };
  }

  async dally(finalAck: Uint8Array, ms: number): Promise<void> {
    await this.#call({ op: "dally", id: 0, finalAck: finalAck.slice(), ms });
  }

  #startJob(options: TransferOptions, io: Pick<Job, "source" | "sink">): Job {
    if (this.#job) throw new Error("WorkerLink: a transfer is already running on this link");
    const blksize = options.settings.blksize;
    const chunkBytes = Math.max(1, Math.floor(CHUNK_BYTES / blksize)) * blksize;
    this.#job = { blksize, chunkBytes, ...io, onProgress: options.onProgress, ended: false, queue: SENT };
    return this.#job;
  }

  #jobOptions(options: SenderOptions | ReceiverOptions, job: Job): JobOptions {
    const { blksize, windowsize, timeoutMs, rollover } = options.settings;
    return {
      settings: { blksize, windowsize, timeoutMs, rollover },
      timer: options.timer?.snapshot(),
      retransmit: options.retransmit,
      peerName: options.peerName,
      progress: options.onProgress !== undefined,
      chunkBytes: job.chunkBytes,
      opening: options.opening?.slice(),
    };
  }

  async #runJob<T extends SenderResult | ReceiverResult>(options: TransferOptions, message: WorkerRequest): Promise<T> {
    // The job's own signal, when it is not the link's, aborts it too.
    const signal = options.signal;
    const extra = signal && signal !== this.#signal ? () => this.#abortNow(signal.reason) : undefined;
    if (extra) {
      signal!.addEventListener("abort", extra, { once: true });
      if (signal!.aborted) extra();
    }
    try {
      const result = await this.#call<T>(message);
      options.timer?.restore(result.timer);
      return result;
    } finally {
      if (extra) signal!.removeEventListener("abort", extra);
      this.#job!.ended = true;
      this.#job = undefined;
    }
  }

  #abortNow(reason: unknown): void {
    if (this.#closing || this.#abort.aborted) return;
    this.#abortReason = reason;
    this.#abort.abort(reason);
    this.#waker.wake();
  }

  /** Reads the next chunk of whole blocks into `buffer` and sends it to the worker. */
  #refill(buffer: ArrayBuffer): void {
    const job = this.#job;
    if (!job?.source || job.ended) return;
    job.queue = job.queue.then(async () => {
      if (job.ended) return;
      let length = 0;
      let end = false;
      try {
        while (length < buffer.byteLength) {
          const read = job.source!.read(new Uint8Array(buffer, length, job.blksize));
          const n = typeof read === "number" ? read : await read;
          length += n;
          if (n < job.blksize) {
            end = true;
            break;
          }
        }
      } catch (error) {
        job.error = error;
        job.ended = true;
        return this.#post({ op: "chunk-error", error: serializeError(error, "main") });
      }
      if (end) job.ended = true;
      this.#post({ op: "chunk", buffer, length, end }, [buffer]);
    });
  }

  /** Hands a chunk of received blocks to the sink, block by block as the local path would, and the buffer back. */
  #write(buffer: ArrayBuffer, length: number): void {
    const job = this.#job;
    if (!job?.sink) return;
    job.queue = job.queue.then(async () => {
      if (job.error === undefined) {
        try {
          for (let offset = 0; offset < length; offset += job.blksize) {
            const writing = job.sink!.write(new Uint8Array(buffer, offset, Math.min(job.blksize, length - offset)));
            if (writing) await writing;
          }
        } catch (error) {
          job.error = error;
        }
      }
      this.#post({ op: "written", buffer, error: this.#jobError(job) }, [buffer]);
    });
  }

  #flushSink(): void {
    const job = this.#job;
    if (!job?.sink) return;
    job.queue = job.queue.then(async () => {
      if (job.error === undefined) {
        try {
          await job.sink!.flush();
        } catch (error) {
          job.error = error;
        }
      }
      this.#post({ op: "flushed", error: this.#jobError(job) });
    });
  }

  #jobError(job: Job): SerializedError | undefined {
    return job.error === undefined ? undefined : serializeError(job.error, "main");
  }

  #message(message: FromWorker): void {
    switch (message.op) {
      case "reply": {
        const pending = this.#pending.get(message.id);
        this.#pending.delete(message.id);
        if (message.error) pending?.reject(this.#errorOf(message.error));
        else pending?.resolve(message.value);
        return;
      }
      case "need":
        return this.#refill(message.buffer);
      case "write":
        return this.#write(message.buffer, message.length);
      case "flush":
        return this.#flushSink();
      case "progress":
        return this.#job?.onProgress?.(message.bytes);
    }
  }

  /** The error a worker reported: this thread's original where it has one. */
  #errorOf(serialized: SerializedError): unknown {
    if (serialized.origin === "abort" && this.#abort.aborted) return this.#abortReason;
    if (serialized.origin === "main" && this.#job?.error !== undefined) return this.#job.error;
    return deserializeError(serialized);
  }

  #failed(error: Error): void {
    this.#failure ??= error;
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }

  #call<T>(message: WorkerRequest, transfer: Transferable[] = []): Promise<T> {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = ++this.#lastId;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.#post({ ...message, id } as WorkerRequest, transfer);
    });
  }

  #post(message: ToWorker, transfer: Transferable[] = []): void {
    if (this.#lookup) this.#enqueue(() => this.#worker.post(message, transfer));
    else this.#worker.post(message, transfer);
  }

  /** Closes the socket and gives the thread back (or stops it); resolves once the worker is done with it. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#signal?.removeEventListener("abort", this.#onAbort);
      try {
        if (!this.#failure) await this.#call({ op: "close", id: 0 });
      } catch { /* the thread failed: it is stopped below */ }
      // Only now is the eventfd certain to be polled no more.
      this.#waker.close();
      if (this.#workers) this.#workers.release(this.#worker);
      else this.#worker.terminate();
    })();
    return this.#closing;
  }

  /** Describes the peer for logs (`127.0.0.1:50000`). */
  toString(): string {
    return this.#peer ? formatAddress(this.#peer) : "(no peer yet)";
  }
}
