/**
 * The chat room: members, nicks, history, flood control and broadcast. It
 * knows nothing of sockets: a transport (TCP here, WebSocket later) wraps
 * each connection in a {@linkcode Member}, joins it, and feeds the room the
 * lines it reads. The room hands members bytes already encoded in the format
 * each one asked for, encoding every event once per format.
 *
 * @module
 */

import config from "../../deno.json" with { type: "json" };
import type { OverlongLine } from "../net/line_stream.ts";
import { IdleTimer } from "../net/timeout.ts";
import { formatDuration } from "../text/format.ts";
import {
  type ChatEvent,
  cleanLine,
  CLIENT_HELP,
  EncodedEvent,
  type EventFormat,
  type LeaveReason,
  MAX_NICK_LENGTH,
  nickKey,
  nickProblem,
  parseInput,
  type RoomLimits,
  SERVER_NICK,
  type WhoEntry,
} from "./protocol.ts";
import { TokenBucket } from "./rate_limit.ts";

/**
 * One connection as the room sees it. A transport implements it; the room
 * never waits on it.
 */
export interface Member {
  /** Where the member connects from, as `/who` shows it (`127.0.0.1:5000`). */
  readonly address: string;
  /**
   * Queues `bytes` (one or more complete lines in the member's format) for
   * sending and returns at once. Returns `false` when the member's queue has
   * overflowed: the room then drops it as too slow.
   */
  deliver(bytes: Uint8Array): boolean;
  /**
   * Ends the connection, after sending what is queued when that can be done
   * quickly. Called once, after the member has left the room; a member
   * dropped as `too slow` should be closed at once, without flushing.
   */
  close(reason: LeaveReason): void;
}

/** A member's place in the room, as its transport holds it. */
export interface Session {
  /** The member's current nick. */
  readonly nick: string;
  /** The format the member receives events in. */
  readonly format: EventFormat;
  /** Whether the member has left (after which lines are ignored). */
  readonly left: boolean;
  /** A line the member sent (decoded; the line framer's overlong marker when it was too long). */
  receive(line: string | OverlongLine): void;
  /** The member goes (its connection ended, say); no-op if it already left. */
  leave(reason: LeaveReason, detail?: string): void;
}

/** Options for {@linkcode ChatRoom}. */
export interface ChatRoomOptions {
  /** Messages replayed to a new member.
   * @default {50} */
  historySize?: number;
  /** Longest line a transport accepts, in bytes (announced to clients; the transport's framer enforces it).
   * @default {4096} */
  maxLineBytes?: number;
  /** Lines per second a member may send on average; 0 for no limit.
   * @default {10} */
  rate?: number;
  /** Lines a member may send at once before `rate` applies.
   * @default {30} */
  burst?: number;
  /** Drop a member that has sent nothing for this many milliseconds; 0 for never.
   * @default {0} */
  idleTimeoutMs?: number;
  /** The version `/version` and the welcome report.
   * @default {the version in deno.json} */
  version?: string;
  /** Called with every public event (messages, actions, joins, leaves, nick
   * changes), for the transcript and the server log. Private messages and
   * replies to one member are not passed on. */
  onEvent?: (event: EncodedEvent) => void;
}

/** Options for {@linkcode ChatRoom.join}. */
export interface JoinOptions {
  /** The format the member receives events in from the start (a web client wants JSON at once).
   * @default {"text"} */
  format?: EventFormat;
  /** The nick to join under, when the transport learnt it before the member joined (the web page
   * asks for it first). If it is invalid or taken, the member joins as `guestN` and is told why.
   * @default {a fresh guestN} */
  nick?: string;
}

interface Seat {
  member: Member;
  nick: string;
  key: string;
  format: EventFormat;
  bucket: TokenBucket;
  idle: IdleTimer;
  /** Lines dropped since the flood warning; -1 when not warned. */
  dropped: number;
  left: boolean;
}

/** Sorts `/who`: one collator for all (`localeCompare` with options builds one per comparison). */
const NICK_ORDER = new Intl.Collator(undefined, { sensitivity: "base" });

/** Reasons after which the leaving member is still told why (its connection works). */
const TOLD_REASONS = new Set<LeaveReason>(["quit", "idle timeout", "kicked", "flooding", "server stopping"]);

/**
 * A chat room. Transports call {@linkcode ChatRoom.join} per connection and
 * pass it the lines they read; the operator console uses `say`, `kick` and
 * `who`; the server calls `close` when it stops.
 *
 * @example A member that collects what it receives
 * ```ts
 * import { ChatRoom, type Member } from "./room.ts";
 * const room = new ChatRoom({ historySize: 10 });
 * const received: string[] = [];
 * const member: Member = {
 *   address: "test",
 *   deliver: (bytes) => received.push(new TextDecoder().decode(bytes)) > 0,
 *   close: () => {},
 * };
 * const session = room.join(member)!;
 * session.receive("hello");
 * console.log(received.at(-1)); // "12:00:00 <guest1> hello\n"
 * room.close();
 * ```
 */
export class ChatRoom {
  #seats = new Set<Seat>();
  #nicks = new Map<string, Seat>();
  #history: EncodedEvent[] = [];
  #historySize: number;
  #limits: RoomLimits;
  #idleMs: number;
  #version: string;
  #onEvent: ((event: EncodedEvent) => void) | undefined;
  #seq = 0;
  #guests = 0;
  #closed = false;

  constructor(options: ChatRoomOptions = {}) {
    this.#historySize = options.historySize ?? 50;
    const rate = options.rate ?? 10;
    const burst = options.burst ?? 30;
    new TokenBucket(rate, burst); // fails now, with a clear message, on impossible limits
    this.#limits = { maxLineBytes: options.maxLineBytes ?? 4096, rate, burst, maxNickLength: MAX_NICK_LENGTH };
    this.#idleMs = options.idleTimeoutMs ?? 0;
    this.#version = options.version ?? config.version;
    this.#onEvent = options.onEvent;
  }

  /** Members in the room now. */
  get size(): number {
    return this.#seats.size;
  }

  /** Whether the room has been closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The limits clients are told in their welcome. */
  get limits(): RoomLimits {
    return { ...this.#limits };
  }

  /**
   * Seats `member` under `options.nick` or a fresh `guestN` nick, sends it
   * the welcome and the history, and tells everyone it joined. Returns
   * `undefined` when the room is closed (the caller should tell the peer and
   * hang up).
   */
  join(member: Member, options: JoinOptions = {}): Session | undefined {
    if (this.#closed) return undefined;
    const asked = options.nick === undefined ? undefined : cleanLine(options.nick);
    const refusal = asked === undefined ? undefined : this.#nickRefusal(asked);
    const nick = asked !== undefined && refusal === undefined ? asked : this.#freeNick();
    const now = Date.now();
    const seat: Seat = {
      member,
      nick,
      key: nickKey(nick),
      format: options.format ?? "text",
      bucket: new TokenBucket(this.#limits.rate, this.#limits.burst, now),
      idle: new IdleTimer(this.#idleMs, () => {
        this.#leave(seat, "idle timeout", `nothing sent for ${formatDuration(this.#idleMs)}`);
      }),
      dropped: -1,
      left: false,
    };
    this.#seats.add(seat);
    this.#nicks.set(seat.key, seat);
    this.#welcome(seat);
    if (refusal !== undefined) this.#error(seat, refusal);
    this.#broadcast({
      type: "join",
      time: now,
      seq: ++this.#seq,
      nick,
      address: member.address,
      online: this.#seats.size,
    });
    return this.#session(seat);
  }

  /** Who is here, sorted by nick. */
  who(): WhoEntry[] {
    return [...this.#seats]
      .map((seat) => ({ nick: seat.nick, address: seat.member.address, idleMs: seat.idle.idleMs }))
      .sort((a, b) => NICK_ORDER.compare(a.nick, b.nick));
  }

  /** Broadcasts `text` from the operator (nick `server`). Control characters are removed. */
  say(text: string): void {
    const clean = cleanLine(text);
    if (clean === "" || this.#closed) return;
    this.#broadcast({ type: "message", time: Date.now(), seq: ++this.#seq, from: SERVER_NICK, text: clean });
  }

  /** Sends `text` from the operator to `nick` alone; returns whether `nick` is here. */
  tell(nick: string, text: string): boolean {
    const seat = this.#nicks.get(nickKey(nick));
    const clean = cleanLine(text);
    if (!seat || clean === "") return false;
    this.#send(seat, { type: "private", time: Date.now(), from: SERVER_NICK, to: seat.nick, text: clean });
    return true;
  }

  /** Removes `nick` from the room (reason `kicked`, with `detail` shown to all); returns whether it was here. */
  kick(nick: string, detail?: string): boolean {
    const seat = this.#nicks.get(nickKey(nick));
    if (!seat) return false;
    this.#leave(seat, "kicked", detail ? cleanLine(detail) : undefined);
    return true;
  }

  /**
   * Closes the room: every member is told `server stopping` and closed, and
   * nobody can join any more.
   */
  close(detail?: string): void {
    if (this.#closed) return;
    this.#closed = true;
    // Each member hears only of its own leaving: telling everyone of everyone would be N².
    let online = this.#seats.size;
    for (const seat of [...this.#seats]) {
      this.#unseat(seat);
      const event = new EncodedEvent({
        type: "leave",
        time: Date.now(),
        seq: ++this.#seq,
        nick: seat.nick,
        reason: "server stopping",
        ...(detail ? { detail } : {}),
        online: --online,
      });
      seat.member.deliver(event.bytes(seat.format));
      this.#onEvent?.(event);
      seat.member.close("server stopping");
    }
  }

  #session(seat: Seat): Session {
    return {
      get nick() {
        return seat.nick;
      },
      get format() {
        return seat.format;
      },
      get left() {
        return seat.left;
      },
      receive: (line) => this.#receive(seat, line),
      leave: (reason, detail) => this.#leave(seat, reason, detail),
    };
  }

  #freeNick(): string {
    while (true) {
      const nick = `guest${++this.#guests}`;
      if (!this.#nicks.has(nickKey(nick))) return nick;
    }
  }

  #receive(seat: Seat, line: string | OverlongLine): void {
    if (seat.left) return;
    const now = Date.now();
    seat.idle.touch();
    if (seat.dropped >= 0 && seat.bucket.isFull(now)) seat.dropped = -1;
    if (!seat.bucket.take(now)) return this.#flood(seat);
    if (typeof line !== "string") {
      return this.#error(seat, `line too long: at most ${line.maxLineBytes} bytes; it was not sent`);
    }
    const input = parseInput(cleanLine(line));
    switch (input.kind) {
      case "empty":
        return;
      case "message":
      case "action":
        return void this.#broadcast({
          type: input.kind,
          time: now,
          seq: ++this.#seq,
          from: seat.nick,
          text: input.text,
        });
      case "nick":
        return this.#rename(seat, input.nick);
      case "who":
        return this.#send(seat, { type: "who", time: now, members: this.who() });
      case "private":
        return this.#private(seat, input.to, input.text);
      case "help":
        return this.#send(seat, { type: "info", time: now, text: CLIENT_HELP.join("\n") });
      case "version":
        return this.#send(seat, { type: "info", time: now, text: `wirebox ${this.#version}` });
      case "echo":
        return this.#send(seat, { type: "echo", time: now, text: input.text });
      case "format":
        seat.format = input.format;
        return this.#welcome(seat);
      case "quit":
        return this.#leave(seat, "quit", input.reason);
      case "invalid":
        return this.#error(seat, input.error);
    }
  }

  #flood(seat: Seat): void {
    if (seat.dropped < 0) {
      seat.dropped = 0;
      const { rate, burst } = this.#limits;
      this.#error(
        seat,
        `slow down: at most ${rate} lines a second (${burst} at once); lines are being dropped, and more will disconnect you`,
      );
    }
    if (++seat.dropped > this.#limits.burst) this.#leave(seat, "flooding");
  }

  /** Why `nick` cannot be taken by `seat` (a newcomer when `undefined`), or `undefined` if it can. */
  #nickRefusal(nick: string, seat?: Seat): string | undefined {
    const problem = nickProblem(nick);
    if (problem) return `cannot take the nick "${nick}": ${problem}`;
    const holder = this.#nicks.get(nickKey(nick));
    if (holder && holder !== seat) return `the nick "${nick}" is taken: choose another`;
    return undefined;
  }

  #rename(seat: Seat, nick: string): void {
    const refusal = this.#nickRefusal(nick, seat);
    if (refusal) return this.#error(seat, refusal);
    if (nick === seat.nick) {
      return this.#send(seat, { type: "info", time: Date.now(), text: `you are ${nick} already` });
    }
    const key = nickKey(nick);
    this.#nicks.delete(seat.key);
    this.#nicks.set(key, seat);
    const from = seat.nick;
    seat.nick = nick;
    seat.key = key;
    this.#broadcast({ type: "nick", time: Date.now(), seq: ++this.#seq, from, nick });
  }

  #private(seat: Seat, to: string, text: string): void {
    const target = this.#nicks.get(nickKey(to));
    if (!target) return this.#error(seat, `nobody here is called "${to}": /who lists who is`);
    const event = new EncodedEvent({ type: "private", time: Date.now(), from: seat.nick, to: target.nick, text });
    this.#deliver(target, event);
    if (target !== seat) this.#deliver(seat, event);
  }

  #welcome(seat: Seat): void {
    this.#send(seat, {
      type: "welcome",
      time: Date.now(),
      nick: seat.nick,
      online: this.#seats.size,
      version: this.#version,
      history: this.#history.length,
      limits: this.#limits,
    });
    for (const event of this.#history) {
      if (seat.left) return;
      this.#deliver(seat, event);
    }
  }

  #error(seat: Seat, text: string): void {
    this.#send(seat, { type: "error", time: Date.now(), text });
  }

  #send(seat: Seat, event: ChatEvent): void {
    this.#deliver(seat, new EncodedEvent(event));
  }

  #deliver(seat: Seat, event: EncodedEvent): void {
    if (!seat.left && !seat.member.deliver(event.bytes(seat.format))) this.#leave(seat, "too slow");
  }

  /** Sends `event` to every member (each encoding made once) and records it. */
  #broadcast(event: ChatEvent): EncodedEvent {
    const encoded = new EncodedEvent(event);
    if (event.type === "message" || event.type === "action") {
      this.#history.push(encoded);
      if (this.#history.length > this.#historySize) this.#history.shift();
    }
    let slow: Seat[] | undefined;
    for (const seat of this.#seats) {
      if (!seat.member.deliver(seat.format === "json" ? encoded.json : encoded.text)) (slow ??= []).push(seat);
    }
    this.#onEvent?.(encoded);
    // Dropped after the loop: leaving broadcasts too, and the set must not change under the loop.
    if (slow) { for (const seat of slow) this.#leave(seat, "too slow"); }
    return encoded;
  }

  #unseat(seat: Seat): void {
    seat.left = true;
    seat.idle.stop();
    this.#seats.delete(seat);
    if (this.#nicks.get(seat.key) === seat) this.#nicks.delete(seat.key);
  }

  #leave(seat: Seat, reason: LeaveReason, detail?: string): void {
    if (seat.left) return;
    this.#unseat(seat);
    const event = this.#broadcast({
      type: "leave",
      time: Date.now(),
      seq: ++this.#seq,
      nick: seat.nick,
      reason,
      ...(detail ? { detail } : {}),
      online: this.#seats.size,
    });
    if (TOLD_REASONS.has(reason)) seat.member.deliver(event.bytes(seat.format));
    seat.member.close(reason);
  }
}
