/**
 * One transfer's socket as the server and the client use it, whichever UDP
 * backend moves its datagrams: a few packets handled here (requests,
 * refusals, the OACK), and the data phase run as a whole (`sendBlocks`,
 * `receiveBlocks`, `dally`), which the ffi backend runs on its worker thread.
 *
 * @module
 */

import type { HostPort } from "../net/address.ts";
import type { Datagram } from "../net/udp.ts";
import type { BlockSink, BlockSource } from "./block_io.ts";
import { type Link, UdpLink } from "./link.ts";
import { dally, receiveBlocks, type ReceiveResult, type ReceiverOptions } from "./receiver.ts";
import { sendBlocks, type SenderOptions, type TransferStats } from "./sender.ts";

/** How a transfer's datagrams move: `Deno.listenDatagram`, or blocking libc calls in a worker thread. */
export type UdpBackend = "deno" | "ffi";

/** One transfer's socket, bound to a fresh port (the transfer ID). */
export interface TransferLink extends Link {
  /** Which backend moves the datagrams. */
  readonly backend: UdpBackend;
  /** The peer's transfer ID, once known. */
  readonly peer: HostPort | undefined;
  /** The local address of the socket. */
  readonly localAddress: HostPort;
  /** Fixes the peer's transfer ID: from now on only its datagrams are received. */
  connect(peer: HostPort): void;
  /** Sends to any address (a client's request goes to the server's well-known port). Never rejects. */
  sendTo(packet: Uint8Array, to: HostPort): Promise<void>;
  /** The next datagram from the peer (before `connect()`, from anyone), or `null` after `timeoutMs`, an abort or close. */
  receiveDatagram(timeoutMs: number): Promise<Datagram | null>;
  /** Runs {@linkcode sendBlocks} over this link. */
  sendBlocks(source: BlockSource, options: SenderOptions): Promise<TransferStats>;
  /** Runs {@linkcode receiveBlocks} over this link. */
  receiveBlocks(sink: BlockSink, options: ReceiverOptions): Promise<ReceiveResult>;
  /** Runs {@linkcode dally} over this link. */
  dally(finalAck: Uint8Array, ms: number): Promise<void>;
  /** Closes the socket; resolves once nothing is pending. */
  close(): Promise<void>;
}

/**
 * The deno backend: a {@linkcode UdpLink} on `Deno.listenDatagram`, with the
 * state machines run right here on the event loop.
 *
 * @example Usage
 * ```ts
 * import { DenoTransferLink } from "./transfer_link.ts";
 * import { listenUdp } from "../net/udp.ts";
 * const link = new DenoTransferLink(listenUdp({ hostname: "127.0.0.1" }), { peer: { hostname: "127.0.0.1", port: 6969 } });
 * await link.close();
 * ```
 */
export class DenoTransferLink extends UdpLink implements TransferLink {
  readonly backend = "deno";

  sendBlocks(source: BlockSource, options: SenderOptions): Promise<TransferStats> {
    return sendBlocks(this, source, options);
  }

  receiveBlocks(sink: BlockSink, options: ReceiverOptions): Promise<ReceiveResult> {
    return receiveBlocks(this, sink, options);
  }

  dally(finalAck: Uint8Array, ms: number): Promise<void> {
    return dally(this, finalAck, ms);
  }
}
