/**
 * The path between the two ends of one transfer. The state machines
 * ({@linkcode sendBlocks}, {@linkcode receiveBlocks}) speak to a
 * {@linkcode Link}; {@linkcode UdpLink} is the real one: a UDP socket bound
 * to the peer's transfer ID (address and port), which answers datagrams from
 * any other port with error 5 without disturbing the transfer, and keeps one
 * retransmit deadline timer for the whole transfer.
 *
 * @module
 */

import { formatAddress, type HostPort, sameAddress } from "../net/address.ts";
import { closeQuietly } from "../net/errors.ts";
import { DeadlineTimer } from "../net/timeout.ts";
import { type Datagram, DatagramReader } from "../net/udp.ts";
import { encodeError, ErrorCode, MAX_BLKSIZE } from "./packet.ts";

/** One transfer's packet path, as the state machines see it. */
export interface Link {
  /** Sends a packet to the peer. Never rejects: a failed send makes the next `receive` throw.
   * `packet` must stay unchanged until the next `receive`. */
  send(packet: Uint8Array): Promise<void>;
  /** The next packet from the peer, valid until the next call; `null` if `timeoutMs` passed first. */
  receive(timeoutMs: number): Promise<Uint8Array | null>;
  /** Sends at once what `send` queued, on a link whose sends wait for the next `receive` (see
   * `BlockingLink`): a receiver calls it before a slow write, so that its ACK leaves first. */
  flush?(): void;
}

/** Options for {@linkcode UdpLink}. */
export interface UdpLinkOptions {
  /** The peer's transfer ID; may be set later with `connect()` (a client learns it from the first answer). */
  peer?: HostPort;
  /** When aborted, a pending receive returns `null` at once (the socket stays open, so an ERROR can still be sent). */
  signal?: AbortSignal;
  /** Told about each datagram from a stranger (answered with error 5). */
  onStranger?: (from: HostPort) => void;
}

const STRANGER_MESSAGE = "Unknown transfer ID";

/**
 * A {@linkcode Link} over a UDP socket that this link owns and closes.
 *
 * @example Usage
 * ```ts
 * import { UdpLink } from "./link.ts";
 * import { listenUdp } from "../net/udp.ts";
 * const link = new UdpLink(listenUdp({ hostname: "127.0.0.1" }), { peer: { hostname: "127.0.0.1", port: 6969 } });
 * const packet = await link.receive(10); // null: nothing within 10 ms
 * await link.close();
 * ```
 */
export class UdpLink implements Link {
  #socket: Deno.DatagramConn;
  #reader: DatagramReader;
  #timer = new DeadlineTimer();
  #peer: HostPort | undefined;
  #peerAddr: Deno.NetAddr | undefined;
  #sendError: unknown;
  #signal: AbortSignal | undefined;
  #onAbort = () => this.#timer.expireNow();
  #onStranger: ((from: HostPort) => void) | undefined;
  #closed = false;

  constructor(socket: Deno.DatagramConn, options: UdpLinkOptions = {}) {
    this.#socket = socket;
    this.#reader = new DatagramReader(socket, { reuseBuffer: MAX_BLKSIZE + 64 });
    this.#onStranger = options.onStranger;
    if (options.peer) this.connect(options.peer);
    this.#signal = options.signal;
    this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** The peer's transfer ID, once known. */
  get peer(): HostPort | undefined {
    return this.#peer;
  }

  /** The local address of the socket. */
  get localAddress(): HostPort {
    const { hostname, port } = this.#socket.addr as Deno.NetAddr;
    return { hostname, port };
  }

  /** Fixes the peer's transfer ID: from now on only its datagrams are received. */
  connect(peer: HostPort): void {
    this.#peer = { hostname: peer.hostname, port: peer.port };
    this.#peerAddr = { transport: "udp", hostname: peer.hostname, port: peer.port };
  }

  send(packet: Uint8Array): Promise<void> {
    if (!this.#peerAddr) throw new Error("UdpLink.send: no peer yet (call connect first)");
    return this.#send(packet, this.#peerAddr);
  }

  /** Sends to any address (a client's first request goes to the server's well-known port). Never rejects. */
  sendTo(packet: Uint8Array, to: HostPort): Promise<void> {
    return this.#send(packet, { transport: "udp", hostname: to.hostname, port: to.port });
  }

  #send(packet: Uint8Array, addr: Deno.NetAddr): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return this.#socket.send(packet, addr).then(() => {}, (error) => {
      if (!this.#closed) this.#sendError ??= error;
    });
  }

  async receive(timeoutMs: number): Promise<Uint8Array | null> {
    const datagram = await this.receiveDatagram(timeoutMs);
    return datagram ? datagram.data : null;
  }

  /**
   * The next datagram from the peer, or, before `connect()`, from anyone;
   * `null` when `timeoutMs` passes first, the signal aborts or the link closes.
   */
  async receiveDatagram(timeoutMs: number): Promise<Datagram | null> {
    const deadline = performance.now() + timeoutMs;
    while (true) {
      if (this.#closed || this.#signal?.aborted) return null;
      if (this.#sendError !== undefined) throw this.#sendError;
      const datagram = await this.#reader.receiveUntil(this.#timer.expiry(deadline));
      if (datagram === null) return null;
      const peer = this.#peer;
      if (
        peer === undefined ||
        (datagram.from.port === peer.port &&
          (datagram.from.hostname === peer.hostname || sameAddress(datagram.from, peer)))
      ) {
        return datagram;
      }
      this.#answerStranger(datagram.from);
    }
  }

  #answerStranger(from: HostPort): void {
    this.#onStranger?.(from);
    // RFC 1350: a packet from an unknown port gets error 5; the transfer goes on.
    this.sendTo(encodeError(ErrorCode.unknownTransferId, STRANGER_MESSAGE), from);
  }

  /** Closes the socket and stops the timer; resolves once no receive is pending. */
  async close(): Promise<void> {
    this.#close();
    await this.#reader.closed;
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#timer.stop();
    this.#signal?.removeEventListener("abort", this.#onAbort);
    closeQuietly(this.#socket);
  }

  /** Describes the peer for logs (`127.0.0.1:50000`). */
  toString(): string {
    return this.#peer ? formatAddress(this.#peer) : "(no peer yet)";
  }
}
