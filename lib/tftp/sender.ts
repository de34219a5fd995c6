/**
 * The sending side of a transfer, whichever end it is (a server answering a
 * RRQ, a client putting a file): DATA out, ACKs in, with windows (RFC 7440).
 *
 * - Up to `windowsize` blocks are in flight; each ACK slides the window.
 *   An ACK short of the last block sent means the receiver missed the next
 *   one: sending resumes from there (go-back-N, as RFC 7440 describes).
 * - Only a timeout retransmits. A duplicate ACK is ignored, so a delayed ACK
 *   can never double every packet that follows (the Sorcerer's Apprentice bug).
 * - The packets of a window live in buffers allocated once, with their DATA
 *   headers written in place; a timeout resends them from there.
 *
 * @module
 */

import { errorPacketFor, peerError, tftpInfo, timeoutError } from "./errors.ts";
import type { BlockSource } from "./block_io.ts";
import type { Link } from "./link.ts";
import type { TransferSettings } from "./options.ts";
import {
  absoluteBlock,
  blockOf,
  DATA_HEADER,
  decodePacket,
  Opcode,
  opcodeOf,
  wireBlock,
  writeDataHeader,
} from "./packet.ts";
import { type RetransmitOptions, RetransmitTimer } from "./rto.ts";

/** Options shared by {@linkcode sendBlocks} and `receiveBlocks`. */
export interface TransferOptions {
  /** The negotiated settings (blksize, windowsize, timeout, rollover). */
  settings: Pick<TransferSettings, "blksize" | "windowsize" | "timeoutMs" | "rollover">;
  /** The retransmit timer to use (a client passes the one its request primed);
   * by default a new one from `retransmit` and the settings' timeout. */
  timer?: RetransmitTimer;
  /** Tuning of a new timer (retries, bounds). */
  retransmit?: Omit<RetransmitOptions, "timeoutMs">;
  /** Gives up (sending the peer ERROR 0 with the reason's message) when aborted. */
  signal?: AbortSignal;
  /** Called as bytes are acknowledged (sender) or received (receiver), with the running total. */
  onProgress?: (bytes: number) => void;
  /** What to call the other end in error messages.
   * @default {"peer"} */
  peerName?: string;
}

/** Options for {@linkcode sendBlocks}. */
export interface SenderOptions extends TransferOptions {
  /** A packet to send first and repeat until the peer answers ACK 0: the OACK
   * of a server granting a read request's options. */
  opening?: Uint8Array;
}

/** What a finished transfer moved. */
export interface TransferStats {
  /** Payload bytes (after netascii conversion, as on the wire). */
  bytes: number;
  /** DATA blocks, counting the final short one. */
  blocks: number;
  /** DATA packets sent again after a timeout or a go-back. */
  retransmitted: number;
}

/**
 * Sends everything `source` holds over `link`, and resolves once the peer
 * has acknowledged the final (short) block. Rejects on a peer ERROR, a
 * timeout after the retries, a source failure or abort; in the last three
 * cases the peer is sent an ERROR first.
 *
 * @example Usage
 * ```ts
 * import { sendBlocks } from "./sender.ts";
 * import { bytesSource } from "./block_io.ts";
 * import { DEFAULT_SETTINGS } from "./options.ts";
 * import type { Link } from "./link.ts";
 * declare const link: Link; // a UdpLink bound to the peer's transfer ID
 * const stats = await sendBlocks(link, bytesSource(new TextEncoder().encode("hello")), { settings: DEFAULT_SETTINGS });
 * console.log(stats.bytes); // 5
 * ```
 */
export function sendBlocks(link: Link, source: BlockSource, options: SenderOptions): Promise<TransferStats> {
  return runTransfer(link, options, async (timer, peer) => {
    if (options.opening) await awaitAckZero(link, options.opening, timer, options.signal, peer);
    return sendData(link, source, options, timer, peer);
  });
}

/**
 * Runs one side of a transfer with its timer and the peer's name for
 * messages; when it fails on this side (not by the peer's ERROR), tells the
 * peer why with an ERROR before rethrowing.
 */
export async function runTransfer<T>(
  link: Link,
  options: TransferOptions,
  run: (timer: RetransmitTimer, peer: string) => Promise<T>,
): Promise<T> {
  const peer = options.peerName ?? "peer";
  const timer = options.timer ?? new RetransmitTimer({ ...options.retransmit, timeoutMs: options.settings.timeoutMs });
  try {
    return await run(timer, peer);
  } catch (error) {
    if (!tftpInfo(error)?.remote) await link.send(errorPacketFor(error));
    throw error;
  }
}

async function awaitAckZero(
  link: Link,
  opening: Uint8Array,
  timer: RetransmitTimer,
  signal: AbortSignal | undefined,
  peer: string,
): Promise<void> {
  let sentAt = performance.now();
  let repeated = false;
  link.send(opening);
  timer.arm();
  while (true) {
    const packet = await link.receive(timer.remainingMs);
    if (packet === null) {
      if (signal?.aborted) throw signal.reason;
      if (!timer.expired()) throw timeoutError(peer, timer.retransmissions, timer.silentMs);
      link.send(opening);
      timer.arm();
      sentAt = performance.now();
      repeated = true;
      continue;
    }
    const opcode = opcodeOf(packet);
    if (opcode === Opcode.ACK && packet.length === 4 && blockOf(packet) === 0) {
      if (!repeated) timer.sample(performance.now() - sentAt);
      timer.progress();
      return;
    }
    if (opcode === Opcode.ERROR) throwPeerError(packet, peer);
  }
}

async function sendData(
  link: Link,
  source: BlockSource,
  options: SenderOptions,
  timer: RetransmitTimer,
  peer: string,
): Promise<TransferStats> {
  const { blksize, rollover } = options.settings;
  const window = Math.max(1, options.settings.windowsize);
  const { signal, onProgress } = options;
  // Block n lives in slot n % window until it is acknowledged.
  const packets = Array.from({ length: window }, () => new Uint8Array(DATA_HEADER + blksize));
  const payloads = packets.map((packet) => packet.subarray(DATA_HEADER));
  // What goes on the wire from each slot: the whole packet, or a view of it for the short final block.
  const wire = packets.slice();
  const sentAt = new Float64Array(window);
  const repeated = new Uint8Array(window);
  let acked = 0; // the highest block acknowledged
  let sent = 0; // the highest block sent since the last go-back
  let filled = 0; // the highest block read from the source
  let final = Infinity; // the short block that ends the transfer, once read
  let finalLength = 0;
  let retransmitted = 0;

  timer.arm();
  while (acked < final) {
    while (sent < acked + window && sent < final) {
      const block = sent + 1;
      const slot = block % window;
      const packet = packets[slot];
      if (block > filled) {
        const read = source.read(payloads[slot]);
        const length = typeof read === "number" ? read : await read;
        writeDataHeader(packet, wireBlock(block, rollover));
        wire[slot] = length === blksize ? packet : packet.subarray(0, DATA_HEADER + length);
        repeated[slot] = 0;
        filled = block;
        if (length < blksize) {
          final = block;
          finalLength = length;
        }
      } else {
        repeated[slot] = 1;
        retransmitted++;
      }
      link.send(wire[slot]);
      sentAt[slot] = performance.now();
      sent = block;
    }
    const packet = await link.receive(timer.remainingMs);
    if (packet === null) {
      if (signal?.aborted) throw signal.reason;
      if (!timer.expired()) {
        // Only the final window unconfirmed: the peer may have it all, and just its last ACKs were lost
        // (a log reader should know the transfer got to the end).
        const where = sent >= final && acked >= final - window ? `${peer} to the final block` : peer;
        throw timeoutError(where, timer.retransmissions, timer.silentMs);
      }
      sent = acked; // resend the whole window
      timer.arm();
      continue;
    }
    const opcode = opcodeOf(packet);
    if (opcode === Opcode.ACK && packet.length === 4) {
      const block = absoluteBlock(blockOf(packet), acked + 1, sent, rollover);
      // Duplicates and strays are ignored: only a timeout retransmits.
      if (block < 0) continue;
      const slot = block % window;
      // Only the ACK of everything sent is a round trip: one short of it follows a loss, sent at the
      // receiver's timeout or on a gap, and would teach the timer the receiver's timeout.
      if (block === sent && !repeated[slot]) timer.sample(performance.now() - sentAt[slot]);
      timer.progress();
      acked = block;
      if (block < sent) sent = block; // the receiver missed block + 1: go back
      onProgress?.(acked >= final ? (final - 1) * blksize + finalLength : acked * blksize);
    } else if (opcode === Opcode.ERROR) {
      throwPeerError(packet, peer);
    }
    // Anything else (a repeated OACK, stray DATA, garbage) changes nothing.
  }
  return { bytes: (final - 1) * blksize + finalLength, blocks: final, retransmitted };
}

/**
 * Throws the error a peer's ERROR packet means. A malformed one is ignored
 * (it returns): it could be line noise or a stranger's, and a peer that has
 * really gone shows as a timeout.
 */
export function throwPeerError(packet: Uint8Array, peer: string): void {
  const decoded = decodePacket(packet);
  if (decoded.type === "ERROR") throw peerError(decoded, peer);
}
