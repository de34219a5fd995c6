/**
 * The receiving side of a transfer, whichever end it is (a client getting a
 * file, a server taking a WRQ): DATA in, ACKs out.
 *
 * - In-order blocks go to the sink; an ACK goes out after every `windowsize`
 *   of them (RFC 7440) and after the final short block.
 * - A gap (a block from further ahead) is answered once with an ACK of the
 *   last block in order, so the sender goes back at once rather than at its
 *   timeout; older blocks are ignored.
 * - The last block received again means the sender missed our ACK: it is
 *   acknowledged again, but not when it arrives right after that ACK, which
 *   is how a sender with the Sorcerer's Apprentice bug would repeat it.
 * - A silence longer than the retransmit timeout acknowledges the last block
 *   in order (or repeats the opening packet), with backoff, until the retries
 *   run out.
 * - After 65535, block numbers continue at 0, or at 1 when negotiated (in
 *   lock-step either is recognised, since nothing else can arrive there).
 *
 * @module
 */

import { tftpError, timeoutError } from "./errors.ts";
import type { BlockSink } from "./block_io.ts";
import type { Link } from "./link.ts";
import { blockOf, DATA_HEADER, ErrorCode, Opcode, opcodeOf, type Rollover, wireBlock, writeAck } from "./packet.ts";
import type { RetransmitTimer } from "./rto.ts";
import { runTransfer, throwPeerError, type TransferOptions, type TransferStats } from "./sender.ts";

/** Options for {@linkcode receiveBlocks}. */
export interface ReceiverOptions extends TransferOptions {
  /** A packet to send first and repeat until DATA arrives: ACK 0 (a server
   * accepting a WRQ, or a client acknowledging an OACK) or a server's OACK. */
  opening?: Uint8Array;
  /** The first DATA packet, already received (a client whose request was answered with data). */
  first?: Uint8Array;
  /** Refuse (error 3) a transfer that grows beyond this many bytes.
   * @default {Infinity} */
  maxBytes?: number;
}

/** What {@linkcode receiveBlocks} returns: the counts and the final ACK, for {@linkcode dally}. */
export interface ReceiveResult extends TransferStats {
  /** The ACK of the final block (send it again if the final DATA comes again). */
  finalAck: Uint8Array;
}

/**
 * Receives blocks from `link` into `sink` until the final short block, and
 * resolves once that block has been acknowledged (the sink is flushed just
 * before that final ACK; keeping the data, an atomic commit say, is up to
 * the caller). Rejects on a peer ERROR, a
 * timeout after the retries, a sink failure or abort; in the last three
 * cases the peer is sent an ERROR first.
 *
 * @example Usage
 * ```ts
 * import { receiveBlocks } from "./receiver.ts";
 * import { memorySink } from "./block_io.ts";
 * import { DEFAULT_SETTINGS } from "./options.ts";
 * import { encodeAck } from "./packet.ts";
 * import type { Link } from "./link.ts";
 * declare const link: Link; // a UdpLink bound to the peer's transfer ID
 * const sink = memorySink();
 * await receiveBlocks(link, sink, { settings: DEFAULT_SETTINGS, opening: encodeAck(0) });
 * await sink.flush();
 * console.log(sink.bytes());
 * ```
 */
export function receiveBlocks(link: Link, sink: BlockSink, options: ReceiverOptions): Promise<ReceiveResult> {
  return runTransfer(link, options, (timer, peer) => receiveData(link, sink, options, timer, peer));
}

async function receiveData(
  link: Link,
  sink: BlockSink,
  options: ReceiverOptions,
  timer: RetransmitTimer,
  peer: string,
): Promise<ReceiveResult> {
  const { blksize } = options.settings;
  const window = Math.max(1, options.settings.windowsize);
  const { signal, onProgress } = options;
  const maxBytes = options.maxBytes ?? Infinity;
  let rollover: Rollover = options.settings.rollover;
  const ack = new Uint8Array(4);
  let expected = 1; // the next block in order
  let bytes = 0;
  let sinceAck = 0; // blocks in order since the last ACK
  let gapAnswered = false;
  let quiet = false; // no timeout since the last ACK, so the next block's delay is a clean RTT sample
  let ackAt = performance.now();
  let blocks = 0;

  // Only a window's ACK is acted on at once, so only the delay after it is a round trip. After a gap
  // reply or a repeated ACK the next block may come at the sender's timeout (it ignores an ACK of what it
  // had already had acknowledged), which taken as the round trip would swell the echo guard.
  const sendAck = (block: number, clean = false) => {
    writeAck(ack, wireBlock(block, rollover));
    link.send(ack);
    ackAt = performance.now();
    sinceAck = 0;
    quiet = clean;
  };

  if (options.opening) {
    link.send(options.opening);
    quiet = true;
  }
  timer.arm();
  let packet = options.first ?? null;
  while (true) {
    packet ??= await link.receive(timer.remainingMs);
    if (packet === null) {
      if (signal?.aborted) throw signal.reason;
      if (!timer.expired()) throw timeoutError(peer, timer.retransmissions, timer.silentMs);
      timer.arm();
      // Acknowledge what we hold, not the last ACK sent: blocks taken since then (fewer than a
      // window) would otherwise be sent again, and their last one dismissed as an echo, forever.
      if (expected > 1) {
        sendAck(expected - 1);
      } else if (options.opening) {
        link.send(options.opening);
        ackAt = performance.now();
      }
      gapAnswered = false;
      quiet = false;
      continue;
    }
    const current = packet;
    packet = null;
    const opcode = opcodeOf(current);
    if (opcode === Opcode.DATA && current.length >= DATA_HEADER) {
      const length = current.length - DATA_HEADER;
      if (length > blksize) continue; // larger than negotiated: not ours to take
      const wire = blockOf(current);
      let inOrder = wire === wireBlock(expected, rollover);
      if (!inOrder && window === 1 && expected === 65536 && wire === 1) {
        // Lock-step: the sender rolls over to 1 rather than 0.
        rollover = 1;
        inOrder = true;
      }
      if (inOrder) {
        if (bytes + length > maxBytes) {
          throw tftpError(ErrorCode.diskFull, `File too large: the limit is ${maxBytes} bytes`);
        }
        bytes += length;
        blocks = expected;
        if (sinceAck === 0 && quiet) timer.sample(performance.now() - ackAt);
        timer.progress();
        gapAnswered = false;
        quiet = false;
        sinceAck++;
        expected++;
        const final = length < blksize;
        // A window's ACK leaves before its last block is written, so the sender's next window
        // overlaps the write. Safe: a write that then fails ends the transfer with an ERROR, and
        // nothing is stored; the final ACK waits for the whole file to reach the sink.
        if (!final && sinceAck >= window) {
          sendAck(blocks, true);
          link.flush?.();
        }
        const writing = sink.write(current.subarray(DATA_HEADER));
        if (writing) await writing;
        if (final) {
          // Everything reaches the sink's writer before the final ACK, so a full disk is reported, not acknowledged.
          await sink.flush();
          sendAck(blocks);
          onProgress?.(bytes);
          return { bytes, blocks, retransmitted: 0, finalAck: ack };
        }
        onProgress?.(bytes);
      } else if (expected > 1 && wire === wireBlock(expected - 1, rollover)) {
        // Our ACK was lost. Right after the ACK, though, this is an echo of a duplicate ACK.
        if (performance.now() - ackAt >= duplicateGuardMs(timer)) sendAck(expected - 1);
      } else if (isAhead(wire, wireBlock(expected, rollover), window) && !gapAnswered) {
        sendAck(expected - 1);
        gapAnswered = true;
      }
    } else if (opcode === Opcode.ERROR) {
      throwPeerError(current, peer);
    } else if (opcode === Opcode.OACK && expected === 1 && options.opening) {
      // The server repeats its OACK: our ACK 0 was lost.
      if (performance.now() - ackAt >= duplicateGuardMs(timer)) link.send(options.opening);
    }
  }
}

/** A repeat arriving sooner than this after our ACK is an echo, not a retransmission. */
function duplicateGuardMs(timer: RetransmitTimer): number {
  return Math.max(1, 1.5 * (timer.srtt ?? 0));
}

/** Whether `wire` is within a window ahead of `expected` (16-bit arithmetic). */
function isAhead(wire: number, expected: number, window: number): boolean {
  const distance = (wire - expected + 65536) % 65536;
  return distance > 0 && distance <= window;
}

/**
 * After the final ACK, stays for `ms` to acknowledge the final block again if
 * the sender retransmits (our ACK was lost), as RFC 1350 recommends. Any DATA
 * is answered, not only the final block: a sender with a window resends the
 * whole final window, and any of it means the ACK was missed (one that has it
 * sends nothing more, and a repeat changes nothing for it). Resolves early
 * when aborted or the link closes.
 *
 * @example Usage
 * ```ts
 * import { dally, receiveBlocks } from "./receiver.ts";
 * import { memorySink } from "./block_io.ts";
 * import { DEFAULT_SETTINGS } from "./options.ts";
 * import type { Link } from "./link.ts";
 * declare const link: Link;
 * const result = await receiveBlocks(link, memorySink(), { settings: DEFAULT_SETTINGS });
 * await dally(link, result.finalAck, 1000);
 * ```
 */
export async function dally(link: Link, finalAck: Uint8Array, ms: number): Promise<void> {
  const until = performance.now() + ms;
  while (true) {
    const left = until - performance.now();
    if (left <= 0) return;
    const packet = await link.receive(left);
    if (packet === null) return;
    if (opcodeOf(packet) === Opcode.DATA) link.send(finalAck);
  }
}
