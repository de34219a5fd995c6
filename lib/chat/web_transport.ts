/**
 * The chat over WebSocket: each browser (or bot) becomes a room
 * {@linkcode Member} like a TCP client, in the same room under the same
 * rules. Outgoing events wait in the same bounded, batching queue as TCP
 * output and leave as binary frames of JSON lines; incoming frames are
 * size-checked, parsed ({@linkcode parseClientFrame}) and handed to the room
 * as lines.
 *
 * @module
 */

import type { LineChunk } from "../net/line_stream.ts";
import { MemberOutput, type MemberOutputOptions } from "./member_output.ts";
import { cleanLine, EncodedEvent, type LeaveReason, parseInput } from "./protocol.ts";
import { TokenBucket } from "./rate_limit.ts";
import type { ChatRoom, Member, Session } from "./room.ts";
import { CLOSE_CODES, fitsUtf8, parseClientFrame } from "./web_protocol.ts";

/** Bytes Deno's own send buffer may hold for a socket before our queue waits (and counts as stalled). */
const SEND_BUFFER_BYTES = 64 * 1024;
const POLL_FIRST_MS = 2;
const POLL_MAX_MS = 50;
/**
 * Deno drops a closing server socket as soon as another frame arrives from
 * the client, before its close frame has gone out (the client then sees an
 * abnormal close, without the reason). So the close waits until the client
 * has been quiet this long, within the linger time.
 */
const QUIET_BEFORE_CLOSE_MS = 100;

/** Options for {@linkcode WebMember}. */
export interface WebMemberOptions extends MemberOutputOptions {
  /** Milliseconds a leaving member gets to receive what is queued before it is given up on.
   * @default {1500} */
  lingerMs?: number;
}

/**
 * Hands byte batches to a WebSocket as binary frames. Deno queues what a
 * socket cannot take yet and tells only how much (`bufferedAmount`), not
 * when it drains: a write settles at once while that buffer is small, and
 * otherwise once it has drained below {@linkcode SEND_BUFFER_BYTES}, looked
 * at with a backing-off timer. So a stalled client holds at most that much
 * in Deno, and the rest in our bounded queue, where it is counted.
 */
class SocketWriter {
  #socket: WebSocket;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #waiting: (() => void) | undefined;

  constructor(socket: WebSocket) {
    this.#socket = socket;
  }

  write(bytes: Uint8Array): Promise<number> {
    const socket = this.#socket;
    if (socket.readyState !== WebSocket.OPEN) {
      return Promise.reject(new Deno.errors.BrokenPipe("The WebSocket is closed"));
    }
    socket.send(bytes);
    if (socket.bufferedAmount <= SEND_BUFFER_BYTES) return Promise.resolve(bytes.length);
    return new Promise((resolve) => {
      this.#waiting = () => resolve(bytes.length);
      this.#poll(POLL_FIRST_MS);
    });
  }

  /** Stops waiting (the socket is being abandoned): a pending write settles. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#settle();
  }

  #settle(): void {
    this.#timer = undefined;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.();
  }

  #poll(delayMs: number): void {
    this.#timer = setTimeout(() => {
      const socket = this.#socket;
      if (socket.readyState !== WebSocket.OPEN || socket.bufferedAmount <= SEND_BUFFER_BYTES) return this.#settle();
      this.#poll(Math.min(POLL_MAX_MS, delayMs * 2));
    }, delayMs);
  }
}

/** The close code and reason (the room's leave reason) a web client is told when it leaves. */
function closeFor(reason: LeaveReason): [number, string] {
  switch (reason) {
    case "server stopping":
      return [CLOSE_CODES.goingAway, reason];
    case "kicked":
    case "flooding":
    case "too slow":
      return [CLOSE_CODES.policy, reason];
    default:
      return [CLOSE_CODES.normal, reason];
  }
}

/**
 * A room member backed by a WebSocket. `deliver` only queues (a
 * {@linkcode MemberOutput}, one frame per batch); `close` sends what is
 * queued, waits for the client to stop sending for a moment, then sends a
 * close frame whose reason is the room's leave reason, so the page knows
 * whether to reconnect; after `lingerMs` the member is given up on.
 *
 * @example Usage
 * ```ts ignore
 * import { WebMember } from "./web_transport.ts";
 * Deno.serve({ port: 0 }, (request) => {
 *   const { socket, response } = Deno.upgradeWebSocket(request);
 *   socket.onopen = () => {
 *     const member = new WebMember(socket, "127.0.0.1:5000 (web)");
 *     member.deliver(new TextEncoder().encode('{"type":"info","time":"","text":"hello"}\n'));
 *     member.close("quit");
 *   };
 *   return response;
 * });
 * ```
 */
export class WebMember implements Member {
  /** Where the member connects from (`/who` shows it). */
  readonly address: string;
  /** The member's output queue. */
  readonly output: MemberOutput;
  #socket: WebSocket;
  #writer: SocketWriter;
  #lingerMs: number;
  #closing = false;
  #closed = false;
  #closeCode: [number, string] | undefined;
  #linger: ReturnType<typeof setTimeout> | undefined;
  #quiet: ReturnType<typeof setTimeout> | undefined;
  #lastInput = 0;
  #done: PromiseWithResolvers<void> = Promise.withResolvers();

  constructor(socket: WebSocket, address: string, options: WebMemberOptions = {}) {
    this.#socket = socket;
    this.address = address;
    this.#writer = new SocketWriter(socket);
    this.output = new MemberOutput(this.#writer, { ...options, onError: () => this.socketClosed() });
    this.#lingerMs = options.lingerMs ?? 1500;
  }

  /** Settles once the socket is closed (or given up on). */
  get done(): Promise<void> {
    return this.#done.promise;
  }

  deliver(bytes: Uint8Array): boolean {
    return this.#closing || this.output.push(bytes);
  }

  /** Sends `event` to this client alone, outside the room (a protocol error, say). */
  tell(event: EncodedEvent): void {
    this.deliver(event.json);
  }

  /** A frame arrived from the client (the close waits for a quiet moment; see {@linkcode WebMember.close}). */
  noteInput(): void {
    this.#lastInput = Date.now();
  }

  /** The close code and reason to use instead of the one the leave reason gives (a frame too big: 1009). */
  closeWith(code: number, reason: string): void {
    this.#closeCode = [code, reason];
  }

  close(reason: LeaveReason): void {
    if (this.#closing) return;
    this.#closing = true;
    const [code, text] = this.#closeCode ?? closeFor(reason);
    // Past the linger time the member is given up on, close frame sent or not (it waits behind
    // whatever Deno still buffers for a client that does not read).
    this.#linger = setTimeout(() => {
      this.#sendClose(code, text);
      this.socketClosed();
    }, this.#lingerMs);
    if (reason === "too slow") {
      this.output.clear();
      return this.#sendClose(code, text);
    }
    this.output.drained().then(() => this.#closeWhenQuiet(code, text));
  }

  /** The socket has closed (the client went, or a send failed), or the member was given up on. */
  socketClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing = true;
    clearTimeout(this.#linger);
    clearTimeout(this.#quiet);
    this.#writer.stop();
    this.output.release();
    this.#done.resolve();
  }

  #closeWhenQuiet(code: number, reason: string): void {
    const wait = this.#lastInput + QUIET_BEFORE_CLOSE_MS - Date.now();
    if (wait <= 0 || this.#closed) return this.#sendClose(code, reason);
    this.#quiet = setTimeout(() => this.#closeWhenQuiet(code, reason), wait);
  }

  #sendClose(code: number, reason: string): void {
    if (this.#closed || this.#socket.readyState !== WebSocket.OPEN) return;
    try {
      this.#socket.close(code, reason);
    } catch { /* closing already */ }
  }
}

/** Options for {@linkcode serveChatWebSocket}. */
export interface ChatWebSocketOptions extends WebMemberOptions {
  /** Longest line accepted, in bytes (UTF-8); a longer one is refused as it is over TCP.
   * @default {the room's limit} */
  maxLineBytes?: number;
  /** Largest frame accepted, in bytes; a larger one is answered with an error and the
   * connection closed (1009).
   * @default {2 * maxLineBytes + 1024} */
  maxFrameBytes?: number;
  /** The nick to join under (from the page's URL); a taken or invalid one falls back to a guest. */
  nick?: string;
  /** Called if handling a frame fails unexpectedly (a bug); the connection is then closed. */
  onError?: (error: unknown) => void;
}

/**
 * Serves one WebSocket as a member of `room` until either side ends it:
 * the socket's frames go to the room as lines, the room's events to the
 * socket. Call it right after `Deno.upgradeWebSocket`; it joins the room
 * once the socket opens, and resolves once the member is done: the socket
 * closed, or given up on after its linger time (a client that stopped
 * reading may keep its connection until the HTTP server shuts down).
 *
 * @example Usage
 * ```ts ignore
 * import { ChatRoom } from "./room.ts";
 * import { serveChatWebSocket } from "./web_transport.ts";
 * const room = new ChatRoom();
 * Deno.serve({ port: 8080 }, (request, info) => {
 *   const { socket, response } = Deno.upgradeWebSocket(request);
 *   serveChatWebSocket(room, socket, `${info.remoteAddr.hostname} (web)`);
 *   return response;
 * });
 * ```
 */
export function serveChatWebSocket(
  room: ChatRoom,
  socket: WebSocket,
  address: string,
  options: ChatWebSocketOptions = {},
): Promise<void> {
  const connection = new WebConnection(room, socket, address, options);
  return connection.done;
}

const decoder = new TextDecoder();

/** One WebSocket's life: joining on open, frames in, leaving on close. */
class WebConnection {
  readonly done: Promise<void>;
  #room: ChatRoom;
  #socket: WebSocket;
  #options: ChatWebSocketOptions;
  #member: WebMember;
  #session: Session | undefined;
  #maxLineBytes: number;
  #maxFrameBytes: number;
  #inbox: LineChunk[] = [];
  #inboxBytes = 0;
  #maxInboxBytes: number;
  #draining = false;
  #badFrames: TokenBucket;

  constructor(room: ChatRoom, socket: WebSocket, address: string, options: ChatWebSocketOptions) {
    this.#room = room;
    this.#socket = socket;
    this.#options = options;
    this.#member = new WebMember(socket, address, options);
    this.#maxLineBytes = options.maxLineBytes ?? room.limits.maxLineBytes;
    this.#maxFrameBytes = options.maxFrameBytes ?? 2 * this.#maxLineBytes + 1024;
    this.#maxInboxBytes = Math.max(this.#member.output.pauseAt, 4 * this.#maxFrameBytes);
    const { rate, burst } = room.limits;
    this.#badFrames = new TokenBucket(rate, burst);
    socket.binaryType = "arraybuffer";
    // An exception escaping a listener would end the whole process: contain it to this connection.
    socket.addEventListener("open", () => this.#guard(() => this.#open()));
    socket.addEventListener("message", (event) => this.#guard(() => this.#message(event.data)));
    socket.addEventListener("close", () => this.#close());
    if (socket.readyState === WebSocket.OPEN) this.#guard(() => this.#open());
    this.done = this.#member.done;
  }

  #guard(action: () => void): void {
    try {
      action();
    } catch (error) {
      this.#options.onError?.(error);
      this.#session?.leave("connection lost", "server error");
      this.#member.close("connection lost");
    }
  }

  #open(): void {
    if (this.#session) return;
    this.#session = this.#room.join(this.#member, { format: "json", nick: this.#options.nick });
    if (!this.#session) {
      this.#member.tell(new EncodedEvent({ type: "error", time: Date.now(), text: "the server is stopping" }));
      this.#member.close("server stopping");
    }
  }

  #message(data: unknown): void {
    this.#member.noteInput();
    const session = this.#session;
    if (!session || session.left) return;
    const fits = typeof data === "string"
      ? fitsUtf8(data, this.#maxFrameBytes)
      : (data as ArrayBuffer).byteLength <= this.#maxFrameBytes;
    if (!fits) {
      const text =
        `frame too large: at most ${this.#maxFrameBytes} bytes (lines at most ${this.#maxLineBytes}); closing`;
      this.#member.tell(new EncodedEvent({ type: "error", time: Date.now(), text }));
      this.#member.closeWith(CLOSE_CODES.tooBig, "frame too large");
      session.leave("connection lost", `sent a frame over ${this.#maxFrameBytes} bytes`);
      return;
    }
    const text = typeof data === "string" ? data : decoder.decode(data as ArrayBuffer);
    const frame = parseClientFrame(text, this.#maxLineBytes);
    if (frame.kind === "invalid") return this.#refuse(session, frame.error);
    for (const line of frame.lines) {
      if (typeof line === "string" && parseInput(cleanLine(line)).kind === "format") {
        // The page reads JSON events only: text lines would leave it deaf.
        this.#refuse(session, "/format is not available over the WebSocket: it always carries JSON events");
        if (session.left) return;
        continue;
      }
      this.#inbox.push(line);
      this.#inboxBytes += typeof line === "string" ? line.length : this.#maxLineBytes;
    }
    if (this.#inboxBytes > this.#maxInboxBytes) {
      // A WebSocket cannot be told to wait as a TCP sender can: past this, it talks faster than the room delivers.
      return session.leave("flooding", "sent faster than the room could deliver");
    }
    if (!this.#draining) {
      this.#drain(session).catch((error) =>
        this.#guard(() => {
          throw error;
        })
      );
    }
  }

  /** Answers a frame the room never sees with an error; these cost like lines, so a client cannot
   * make the server answer faster than it may talk. */
  #refuse(session: Session, text: string): void {
    if (!this.#badFrames.take(Date.now())) return session.leave("flooding", "malformed frames");
    this.#member.tell(new EncodedEvent({ type: "error", time: Date.now(), text }));
  }

  /**
   * Hands the waiting lines to the room, each once the room and this
   * client's own queue can take more output (at once, usually).
   */
  async #drain(session: Session): Promise<void> {
    this.#draining = true;
    const pressure = this.#options.pressure;
    try {
      while (this.#inbox.length > 0 && !session.left) {
        const output = this.#member.output;
        if (output.queuedBytes > output.pauseAt) {
          await output.below(output.pauseAt);
          continue;
        }
        if (pressure?.overloaded) {
          await pressure.relief();
          continue;
        }
        const line = this.#inbox.shift()!;
        this.#inboxBytes -= typeof line === "string" ? line.length : this.#maxLineBytes;
        session.receive(line);
      }
    } finally {
      this.#draining = false;
      if (session.left) {
        this.#inbox = [];
        this.#inboxBytes = 0;
      }
    }
  }

  #close(): void {
    this.#session?.leave("connection lost", "closed by the client");
    this.#member.socketClosed();
  }
}
