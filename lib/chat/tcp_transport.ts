/**
 * The chat over plain TCP: each connection becomes a room {@linkcode Member}
 * whose outgoing bytes wait in a bounded queue and leave in one write per
 * batch (never blocking the broadcast), and whose incoming bytes are framed
 * into lines straight from `conn.read()` into one reused buffer.
 *
 * @module
 */

import { closeQuietly, isDisconnect } from "../net/errors.ts";
import { writeAll } from "../net/io.ts";
import { type LineChunk, LineFramer } from "../net/line_stream.ts";
import { EncodedEvent, type LeaveReason } from "./protocol.ts";
import { MemberOutput, type MemberOutputOptions } from "./member_output.ts";
import type { ChatRoom, Member } from "./room.ts";

const READ_BUFFER_BYTES = 16 * 1024;

/** Options for {@linkcode TcpMember}. */
export interface TcpMemberOptions extends MemberOutputOptions {
  /** Milliseconds a leaving member gets to receive what is queued and close its side.
   * @default {1500} */
  lingerMs?: number;
}

/**
 * A room member backed by a TCP connection. `deliver` only queues (a
 * {@linkcode MemberOutput}: one write per batch, bounded); `close` flushes,
 * half-closes and waits (at most `lingerMs`) for the peer to close, so that
 * the last lines are not lost to a reset.
 *
 * @example Usage
 * ```ts
 * import { TcpMember } from "./tcp_transport.ts";
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const client = await Deno.connect(listener.addr);
 * const member = new TcpMember(await listener.accept(), "127.0.0.1:1");
 * member.deliver(new TextEncoder().encode("hello\n"));
 * member.close("quit");
 * member.readEnded();
 * await member.done;
 * client.close();
 * listener.close();
 * ```
 */
export class TcpMember implements Member {
  /** Where the member connects from. */
  readonly address: string;
  /** The member's output queue. */
  readonly output: MemberOutput;
  #conn: Deno.TcpConn;
  #lingerMs: number;
  #closing = false;
  #wroteAll = false;
  #readEnded = false;
  #closed = false;
  #linger: ReturnType<typeof setTimeout> | undefined;
  #done: PromiseWithResolvers<void> = Promise.withResolvers();

  constructor(conn: Deno.TcpConn, address: string, options: TcpMemberOptions = {}) {
    this.#conn = conn;
    this.address = address;
    // A failed write means the peer is gone; the read side notices too.
    this.output = new MemberOutput(conn, { ...options, onError: () => this.#abort() });
    this.#lingerMs = options.lingerMs ?? 1500;
  }

  /** Settles once the connection is closed. */
  get done(): Promise<void> {
    return this.#done.promise;
  }

  deliver(bytes: Uint8Array): boolean {
    return this.#closing || this.output.push(bytes);
  }

  close(reason: LeaveReason): void {
    if (this.#closing) return;
    this.#closing = true;
    if (reason === "too slow") return this.#abort();
    this.#linger = setTimeout(() => this.#abort(), this.#lingerMs);
    this.output.drained().then(() => this.#finishWriting());
  }

  /** The transport's read loop has ended (the peer closed, or the connection failed). */
  readEnded(): void {
    this.#readEnded = true;
    if (this.#wroteAll) this.#abort();
  }

  #finishWriting(): void {
    if (this.#closed || this.#wroteAll) return;
    this.#wroteAll = true;
    this.#conn.closeWrite().catch(() => {});
    if (this.#readEnded) this.#abort();
  }

  #abort(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing = true;
    clearTimeout(this.#linger);
    this.output.release();
    closeQuietly(this.#conn);
    this.#done.resolve();
  }
}

/** Options for {@linkcode serveChatConnection}. */
export interface ChatConnectionOptions extends TcpMemberOptions {
  /** Longest line accepted, in bytes; the rest of a longer line is discarded.
   * @default {4096} */
  maxLineBytes?: number;
  /** A line without its newline counts as complete once nothing more has
   * arrived for this many milliseconds (for clients that `send()` text
   * without a newline); 0 waits for the newline however long it takes.
   * @default {250} */
  partialLineMs?: number;
}

/**
 * Serves one TCP connection as a member of `room` until either side ends
 * it: the connection's lines go to the room, the room's events to the
 * connection. Resolves once the connection is closed.
 *
 * @example Usage
 * ```ts
 * import { serveTcp } from "../net/tcp_server.ts";
 * import { formatAddress } from "../net/address.ts";
 * import { ChatRoom } from "./room.ts";
 * import { serveChatConnection } from "./tcp_transport.ts";
 * const controller = new AbortController();
 * const room = new ChatRoom();
 * const server = serveTcp(
 *   (conn, info) => serveChatConnection(room, conn, formatAddress(info.remote)),
 *   { hostname: "127.0.0.1", port: 0, signal: controller.signal },
 * );
 * room.close();
 * controller.abort();
 * await server.finished;
 * ```
 */
export async function serveChatConnection(
  room: ChatRoom,
  conn: Deno.TcpConn,
  address: string,
  options: ChatConnectionOptions = {},
): Promise<void> {
  const member = new TcpMember(conn, address, options);
  const session = room.join(member);
  if (!session) {
    const notice = new EncodedEvent({ type: "error", time: Date.now(), text: "the server is stopping" });
    await writeAll(conn, notice.text).catch(() => {});
    return;
  }
  const framer = new LineFramer({ maxLineBytes: options.maxLineBytes ?? 4096 });
  const emit = (line: LineChunk) => session.receive(line);
  const partialMs = options.partialLineMs ?? 250;
  let lastRead = 0;
  // While input waits (for the room, or for this client's own backlog), the rest of a line may
  // already be here, read or in the socket: a pause in reading is not a pause in sending.
  let holding = false;
  let partialTimer: ReturnType<typeof setTimeout> | undefined;
  const checkPartial = () => {
    partialTimer = undefined;
    if (framer.pendingBytes === 0) return;
    if (holding) return void (partialTimer = setTimeout(checkPartial, partialMs));
    const waited = Date.now() - lastRead;
    if (waited >= partialMs) framer.end(emit);
    else partialTimer = setTimeout(checkPartial, partialMs - waited);
  };
  // A client whose own output is backed up is not read from until it catches
  // up: in a flood, senders are slowed by TCP instead of filling our memory.
  const output = member.output;
  const pauseAt = output.pauseAt;
  // One read fans out to every member's queue before pressure is looked at
  // again: reading at most the high-water mark keeps that within the bound.
  const buffer = new Uint8Array(Math.max(1, Math.min(READ_BUFFER_BYTES, Math.floor(pauseAt))));
  // Deno reads a reset as the end of the stream, so "closed" covers resets too.
  let detail = "closed by the client";
  try {
    while (true) {
      if (output.queuedBytes > pauseAt) {
        holding = true;
        await output.below(pauseAt);
        holding = false;
        lastRead = Date.now();
      }
      const n = await conn.read(buffer);
      if (n === null) break;
      // Checked after the read, before its lines go out, and again after each
      // wait: readers released together would otherwise overshoot every queue.
      holding = true;
      while (options.pressure?.overloaded) await options.pressure.relief();
      holding = false;
      framer.push(buffer.subarray(0, n), emit);
      if (partialMs > 0 && framer.pendingBytes > 0) {
        lastRead = Date.now();
        partialTimer ??= setTimeout(checkPartial, partialMs);
      }
    }
    framer.end(emit);
  } catch (error) {
    if (!isDisconnect(error)) throw error;
    detail = error instanceof Deno.errors.ConnectionReset ? "reset by the client" : "connection failed";
  } finally {
    clearTimeout(partialTimer);
    member.readEnded();
    session.leave("connection lost", detail);
    await member.done;
  }
}
