/**
 * A {@linkcode Link} on a blocking libc UDP socket, for a transfer worker
 * (see `transfer_worker.ts`): the state machines run over it unchanged, but
 * each `receive` is a system call or two made right there, on the worker's
 * thread, instead of a trip through Deno's async runtime.
 *
 * - Sends are queued and go out together, with one `sendmmsg`, when the state
 *   machine next waits (a window is one system call, not `windowsize`).
 * - A datagram from any other port is answered with error 5 and changes
 *   nothing, as with `UdpLink`.
 * - Abort: the main thread raises a {@linkcode SharedAbort} and makes the wake
 *   descriptor readable; a wait in progress ends at once, and every later
 *   one returns `null`, with {@linkcode BlockingLink.signal} aborted with
 *   (a copy of) the main thread's reason.
 *
 * @module
 */

import type { HostPort } from "../net/address.ts";
import type { Datagram } from "../net/udp.ts";
import { type BlockingUdpSocket, type SocketAddress, TIMED_OUT } from "../net/libc_udp.ts";
import type { Link } from "./link.ts";
import { encodeError, ErrorCode, MAX_BLKSIZE } from "./packet.ts";
import type { SharedAbort } from "./worker_protocol.ts";

/** Options for {@linkcode BlockingLink}. */
export interface BlockingLinkOptions {
  /** The abort flag the main thread raises. */
  abort?: SharedAbort;
  /** A descriptor the main thread makes readable after raising the flag (an eventfd). */
  wakeFd?: number;
}

const SENT: Promise<void> = Promise.resolve();
const STRANGER = encodeError(ErrorCode.unknownTransferId, "Unknown transfer ID");

/**
 * A {@linkcode Link} over a {@linkcode BlockingUdpSocket} that it owns and closes.
 *
 * @example Usage
 * ```ts
 * import { BlockingLink } from "./blocking_link.ts";
 * import { BlockingUdpSocket } from "../net/libc_udp.ts";
 * const link = new BlockingLink(BlockingUdpSocket.bind({ hostname: "127.0.0.1", port: 0 }));
 * link.connect({ hostname: "127.0.0.1", port: 6969 });
 * const packet = await link.receive(10); // null: nothing within 10 ms
 * link.close();
 * ```
 */
export class BlockingLink implements Link {
  #socket: BlockingUdpSocket;
  #buffer = new Uint8Array(MAX_BLKSIZE + 64);
  #peer: SocketAddress | undefined;
  #queue: Uint8Array[] = [];
  #sendError: unknown;
  #abort: SharedAbort | undefined;
  #wakeFd: number;
  #controller = new AbortController();

  constructor(socket: BlockingUdpSocket, options: BlockingLinkOptions = {}) {
    this.#socket = socket;
    this.#abort = options.abort;
    this.#wakeFd = options.wakeFd ?? -1;
  }

  /** Aborted, with the main thread's reason, once the main thread aborts the transfer. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The local address of the socket. */
  get localAddress(): HostPort {
    return this.#socket.address;
  }

  /** Fixes the peer's transfer ID: from now on only its datagrams are received. */
  connect(peer: HostPort): void {
    this.flush();
    this.#peer = this.#socket.addressFor(peer);
  }

  /** Queues a packet for the peer; it goes out at the next wait (or close). Never rejects. */
  send(packet: Uint8Array): Promise<void> {
    if (!this.#peer) throw new Error("BlockingLink.send: no peer yet (call connect first)");
    if (this.#socket.closed) return SENT;
    this.#queue.push(packet);
    return SENT;
  }

  /** Sends to any address at once (a client's request goes to the server's well-known port). Never rejects. */
  sendTo(packet: Uint8Array, to: HostPort): Promise<void> {
    this.flush();
    try {
      this.#socket.sendTo(packet, this.#socket.addressFor(to));
    } catch (error) {
      this.#sendError ??= error;
    }
    return SENT;
  }

  /** Waits up to `timeoutMs` for the peer's next packet (valid until the next call); sends what is queued first. */
  receive(timeoutMs: number): Promise<Uint8Array | null> {
    const length = this.#next(timeoutMs);
    return Promise.resolve(length < 0 ? null : this.#buffer.subarray(0, length));
  }

  /**
   * The next datagram from the peer, or, before `connect()`, from anyone;
   * `null` when `timeoutMs` passes first, the transfer is aborted or the link closes.
   */
  receiveDatagram(timeoutMs: number): Promise<Datagram | null> {
    const length = this.#next(timeoutMs);
    if (length < 0) return Promise.resolve(null);
    return Promise.resolve({ data: this.#buffer.subarray(0, length), from: this.#socket.sender });
  }

  /** The length of the next datagram from the peer in the buffer, or -1. */
  #next(timeoutMs: number): number {
    // Right after sending, the answer cannot be there yet: wait for it without trying to read first.
    let justSent = this.#queue.length > 0;
    this.flush();
    const started = performance.now();
    let wait = timeoutMs;
    while (true) {
      if (this.#socket.closed || this.#aborted()) return -1;
      if (this.#sendError !== undefined) throw this.#sendError;
      const length = this.#socket.receive(this.#buffer, wait, this.#wakeFd, justSent);
      justSent = false;
      if (length === TIMED_OUT) return -1;
      if (length >= 0) {
        if (this.#peer === undefined || this.#socket.receivedFrom(this.#peer)) return length;
        // RFC 1350: a packet from an unknown port gets error 5; the transfer goes on.
        this.sendTo(STRANGER, this.#socket.sender);
      } else if (!this.#aborted()) {
        // The main thread raises the flag before it wakes us; a wake without it would only spin.
        this.#wakeFd = -1;
      }
      // What a stranger (or the wake) took does not restart the wait.
      wait = Math.max(0, started + timeoutMs - performance.now());
    }
  }

  #aborted(): boolean {
    if (this.#controller.signal.aborted) return true;
    if (!this.#abort?.aborted) return false;
    this.#controller.abort(this.#abort.reason());
    return true;
  }

  /** Sends what is queued, with as few system calls as it takes. */
  flush(): void {
    if (this.#queue.length === 0) return;
    try {
      this.#socket.sendAll(this.#queue, this.#queue.length, this.#peer!);
    } catch (error) {
      this.#sendError ??= error;
    }
    this.#queue.length = 0;
  }

  /** Sends what is queued and closes the socket. */
  close(): void {
    if (this.#socket.closed) return;
    this.flush();
    this.#socket.close();
  }
}
