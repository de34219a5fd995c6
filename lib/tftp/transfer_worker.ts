/**
 * The transfer worker: a thread that owns one transfer's socket at a time
 * (a {@linkcode BlockingLink} on libc) and runs the state machines over it,
 * so that each datagram costs a system call and no event-loop round trip.
 * The main thread drives it with the messages of `worker_protocol.ts`
 * through `WorkerLink`. A plain file (octet mode) the worker opens and reads
 * or writes itself (`local_file.ts`); other data (netascii, stdin) stays on
 * the main thread and crosses in chunks of whole blocks, two at a time at
 * most each way (bounded memory).
 *
 * Operations run one after another; the data messages of the running one
 * (chunks, written, flushed) are taken as they come.
 *
 * @module
 */

import { BlockingUdpSocket } from "../net/libc_udp.ts";
import { type BlockSink, type BlockSource, ChunkSource } from "./block_io.ts";
import { BlockingLink } from "./blocking_link.ts";
import { LocalFileSink, localFileSource } from "./local_file.ts";
import { dally, receiveBlocks } from "./receiver.ts";
import { RetransmitTimer } from "./rto.ts";
import { sendBlocks, type TransferOptions } from "./sender.ts";
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

interface WorkerScope {
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
}

const scope = globalThis as unknown as WorkerScope;

function post(message: FromWorker, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}

/** Errors that came from the main thread's source or sink: the main thread has the original. */
const fromMain = new WeakSet<Error>();

function mainError(serialized: SerializedError): Error {
  const error = deserializeError(serialized);
  fromMain.add(error);
  return error;
}

/** Source chunks as the main thread reads and sends them; each used-up one goes back to be refilled. */
class RemoteChunks {
  #chunks: { bytes: Uint8Array; end: boolean }[] = [];
  #error: Error | undefined;
  #waiter: (() => void) | undefined;
  #used: ArrayBuffer | undefined;
  #ended = false;

  deliver(buffer: ArrayBuffer, length: number, end: boolean): void {
    this.#chunks.push({ bytes: new Uint8Array(buffer, 0, length), end });
    this.#wake();
  }

  fail(error: SerializedError): void {
    this.#error = mainError(error);
    this.#wake();
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }

  /** The next chunk (null at the end); the one before it is used up and goes back for refilling. */
  async next(): Promise<Uint8Array | null> {
    if (this.#used) post({ op: "need", buffer: this.#used }, [this.#used]);
    this.#used = undefined;
    if (this.#ended) return null;
    while (this.#chunks.length === 0) {
      if (this.#error) throw this.#error;
      await new Promise<void>((resolve) => this.#waiter = resolve);
    }
    const chunk = this.#chunks.shift()!;
    this.#ended = chunk.end;
    if (!chunk.end) this.#used = chunk.bytes.buffer as ArrayBuffer;
    return chunk.bytes.length > 0 ? chunk.bytes : null;
  }
}

/** A sink that gathers blocks into chunks and sends them to the main thread to write. */
class RemoteSink implements BlockSink {
  #free: ArrayBuffer[] | undefined;
  #chunkBytes: number;
  #current: Uint8Array | undefined;
  #length = 0;
  #error: Error | undefined;
  #waiter: (() => void) | undefined;
  #flushed = false;

  constructor(chunkBytes: number) {
    this.#chunkBytes = chunkBytes;
  }

  /** A chunk came back from the main thread (written, or not). */
  returned(buffer: ArrayBuffer, error: SerializedError | undefined): void {
    this.#free?.push(buffer);
    if (error) this.#error ??= mainError(error);
    this.#wake();
  }

  flushed(error: SerializedError | undefined): void {
    if (error) this.#error ??= mainError(error);
    this.#flushed = true;
    this.#wake();
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }

  write(payload: Uint8Array): Promise<void> | void {
    if (this.#error) throw this.#error;
    if (this.#current && this.#length + payload.length > this.#current.length) this.#send();
    if (!this.#current) {
      // Allocated at the first block: a sink the worker writes itself never needs them.
      const free = this.#free ??= [new ArrayBuffer(this.#chunkBytes), new ArrayBuffer(this.#chunkBytes)];
      const buffer = free.pop();
      if (!buffer) return this.#waitFor(() => free.length > 0).then(() => this.write(payload));
      this.#current = new Uint8Array(buffer);
    }
    this.#current.set(payload, this.#length);
    this.#length += payload.length;
    if (this.#length === this.#current.length) this.#send();
  }

  #send(): void {
    const buffer = this.#current!.buffer as ArrayBuffer;
    post({ op: "write", buffer, length: this.#length }, [buffer]);
    this.#current = undefined;
    this.#length = 0;
  }

  async #waitFor(condition: () => boolean): Promise<void> {
    while (!condition()) {
      if (this.#error) throw this.#error;
      await new Promise<void>((resolve) => this.#waiter = resolve);
    }
    if (this.#error) throw this.#error;
  }

  async flush(): Promise<void> {
    if (this.#error) throw this.#error;
    if (this.#current && this.#length > 0) this.#send();
    this.#flushed = false;
    post({ op: "flush" });
    await this.#waitFor(() => this.#flushed);
  }
}

/** Progress, sent at most every 100 ms, or every 64 KiB but not more than every 2 ms; and the last value. */
function progressReporter(enabled: boolean) {
  let posted = -1;
  let postedAt = -Infinity;
  let latest = 0;
  return {
    report: enabled
      ? (bytes: number) => {
        latest = bytes;
        const now = performance.now();
        if (now - postedAt >= 100 || (bytes - posted >= 65536 && now - postedAt >= 2)) {
          post({ op: "progress", bytes });
          posted = bytes;
          postedAt = now;
        }
      }
      : undefined,
    flush() {
      if (enabled && latest !== posted) post({ op: "progress", bytes: latest });
    },
  };
}

let link: BlockingLink | undefined;
let source: RemoteChunks | undefined;
let sink: RemoteSink | undefined;
let running: Promise<void> = Promise.resolve();
/** The running job's file, when the worker reads or writes it itself. */
let local: { close(): void } | undefined;

scope.onmessage = (event) => {
  const message = event.data;
  switch (message.op) {
    case "chunk":
      return source?.deliver(message.buffer, message.length, message.end);
    case "chunk-error":
      return source?.fail(message.error);
    case "written":
      return sink?.returned(message.buffer, message.error);
    case "flushed":
      return sink?.flushed(message.error);
    default:
      running = running.then(() => perform(message));
  }
};

function opened(): BlockingLink {
  if (!link) throw new Error("The transfer worker has no socket open");
  return link;
}

function transferOptions(job: JobOptions, current: BlockingLink, onProgress?: (bytes: number) => void) {
  const timer = job.timer
    ? RetransmitTimer.fromSnapshot(job.timer)
    : new RetransmitTimer({ ...job.retransmit, timeoutMs: job.settings.timeoutMs });
  const options: TransferOptions = {
    settings: job.settings,
    timer,
    signal: current.signal,
    peerName: job.peerName,
    onProgress,
  };
  return { timer, options };
}

async function perform(message: ToWorker): Promise<void> {
  if (!("id" in message)) {
    try {
      if (message.op === "connect") opened().connect(message.peer);
      else if (message.op === "send") {
        if (message.to) opened().sendTo(message.packet, message.to);
        else opened().send(message.packet);
        opened().flush();
      }
    } catch { /* a send never fails loudly: the next receive reports it */ }
    return;
  }
  const reply = (value?: unknown, transfer: Transferable[] = []) =>
    post({ op: "reply", id: message.id, value }, transfer);
  const current = link;
  try {
    switch (message.op) {
      case "open": {
        link?.close();
        const socket = BlockingUdpSocket.bind({ hostname: message.hostname, port: 0 });
        link = new BlockingLink(socket, { abort: new SharedAbort(message.abort), wakeFd: message.wakeFd });
        return reply(link.localAddress);
      }
      case "receive": {
        const datagram = await opened().receiveDatagram(message.timeoutMs);
        if (!datagram) return reply(null);
        const data = datagram.data.slice();
        return reply({ data, from: datagram.from }, [data.buffer]);
      }
      case "send-blocks": {
        const progress = progressReporter(message.job.progress);
        const { timer, options } = transferOptions(message.job, opened(), progress.report);
        let from: BlockSource;
        if (message.job.file) {
          from = local = localFileSource(message.job.file, message.job.settings.blksize, message.job.chunkBytes);
        } else {
          const chunks = source = new RemoteChunks();
          from = new ChunkSource(() => chunks.next());
        }
        const stats = await sendBlocks(opened(), from, {
          ...options,
          opening: message.job.opening,
        });
        progress.flush();
        return reply({ ...stats, timer: timer.snapshot() } satisfies SenderResult);
      }
      case "receive-blocks": {
        const { job } = message;
        const progress = progressReporter(job.progress);
        const { timer, options } = transferOptions(job, opened(), progress.report);
        const remote = sink = new RemoteSink(job.chunkBytes);
        let into: BlockSink = remote;
        if (job.file) {
          // The main thread's sink is flushed once the file is written (it renames it into place).
          into = local = new LocalFileSink(job.file, job.chunkBytes, () => remote.flush());
        }
        const result = await receiveBlocks(opened(), into, {
          ...options,
          opening: job.opening,
          first: job.first,
          maxBytes: job.maxBytes,
        });
        progress.flush();
        const { bytes, blocks, retransmitted, finalAck } = result;
        return reply({ bytes, blocks, retransmitted, finalAck, timer: timer.snapshot() } satisfies ReceiverResult);
      }
      case "dally":
        await dally(opened(), message.finalAck, message.ms);
        return reply();
      case "close":
        link?.close();
        link = undefined;
        return reply();
    }
  } catch (error) {
    const origin = error instanceof Error && fromMain.has(error)
      ? "main"
      : current?.signal.aborted && error === current.signal.reason
      ? "abort"
      : undefined;
    post({ op: "reply", id: message.id, error: serializeError(error, origin) });
  } finally {
    link?.flush();
    local?.close(); // idempotent: a sink's flush may have closed it already
    local = undefined;
    source = undefined;
    sink = undefined;
  }
}
