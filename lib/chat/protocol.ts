/**
 * The chat's wire format, pure (text in, values out, and back): what a
 * client's line means (a message, a command, a quit word), the nick rules,
 * and how events look on the wire, as text lines for people and `nc`, or as
 * JSON lines for bots and the web page. Each event is encoded once per format
 * however many members receive it ({@linkcode EncodedEvent}).
 *
 * @module
 */

import { stripControls } from "../text/sanitize.ts";

/** Why a member left the room. */
export type LeaveReason =
  | "quit"
  | "connection lost"
  | "idle timeout"
  | "too slow"
  | "kicked"
  | "flooding"
  | "server stopping";

/** The reasons a member can leave for, in the order the README lists them. */
export const LEAVE_REASONS: readonly LeaveReason[] = [
  "quit",
  "connection lost",
  "idle timeout",
  "too slow",
  "kicked",
  "flooding",
  "server stopping",
];

/** One member as `/who` lists it. */
export interface WhoEntry {
  /** The member's nick. */
  nick: string;
  /** Where the member connects from (`127.0.0.1:5000`). */
  address: string;
  /** Milliseconds since the member last sent a line. */
  idleMs: number;
}

/** The limits a server announces to a client in its welcome, so that a client can pace itself. */
export interface RoomLimits {
  /** Longest line accepted, in bytes. */
  maxLineBytes: number;
  /** Lines per second a client may send on average (0: no limit). */
  rate: number;
  /** Lines a client may send at once before the rate applies. */
  burst: number;
  /** Longest nick, in characters. */
  maxNickLength: number;
}

/** Something that happens in the room, as every transport and the transcript see it. */
export type ChatEvent =
  | { type: "message"; time: number; seq: number; from: string; text: string }
  | { type: "action"; time: number; seq: number; from: string; text: string }
  | { type: "private"; time: number; from: string; to: string; text: string }
  | { type: "join"; time: number; seq: number; nick: string; address: string; online: number }
  | { type: "leave"; time: number; seq: number; nick: string; reason: LeaveReason; detail?: string; online: number }
  | { type: "nick"; time: number; seq: number; from: string; nick: string }
  | {
    type: "welcome";
    time: number;
    nick: string;
    online: number;
    version: string;
    history: number;
    limits: RoomLimits;
  }
  | { type: "who"; time: number; members: WhoEntry[] }
  | { type: "info"; time: number; text: string }
  | { type: "echo"; time: number; text: string }
  | { type: "error"; time: number; text: string };

/** The `type` of a {@linkcode ChatEvent}. */
export type ChatEventType = ChatEvent["type"];

/** The nick every operator message carries; no client may take it. */
export const SERVER_NICK = "server";
/** Longest nick, in characters (code points). */
export const MAX_NICK_LENGTH = 32;

/** The words that, alone on a line, leave the room (the tutorials' clients use all of them). */
export const QUIT_WORDS: readonly string[] = ["quit", "exit", "bye", "byebye", "{quit}"];

/** A client's line, understood. */
export type ClientInput =
  | { kind: "empty" }
  | { kind: "message"; text: string }
  | { kind: "action"; text: string }
  | { kind: "nick"; nick: string }
  | { kind: "who" }
  | { kind: "private"; to: string; text: string }
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "echo"; text: string }
  | { kind: "format"; format: EventFormat }
  | { kind: "quit"; reason?: string }
  | { kind: "invalid"; error: string };

/** How a member receives events: text lines or JSON lines. */
export type EventFormat = "text" | "json";

/** The commands a client can use, for `/help`. */
export const CLIENT_HELP: readonly string[] = [
  "commands:",
  "  /nick NAME        change your nick (letters, digits, _ - . only)",
  "  /who              who is here, from where, idle how long",
  "  /msg NAME TEXT    a private message to NAME",
  "  /me ACTION        say what you do (* alice waves)",
  "  /echo TEXT        the server answers TEXT to you alone",
  "  /format json|text receive events as JSON lines or as text lines",
  "  /version          the server's version",
  "  /help             this list",
  "  /quit [REASON]    leave (so do quit, exit, bye and byebye alone on a line)",
  "  //TEXT            send a line that starts with /",
];

/**
 * Understands one line a client sent (already decoded and sanitized):
 * a command, a quit word, or a message.
 *
 * @example Usage
 * ```ts
 * import { parseInput } from "./protocol.ts";
 * parseInput("hello"); // { kind: "message", text: "hello" }
 * parseInput("/msg bob psst"); // { kind: "private", to: "bob", text: "psst" }
 * parseInput("bye"); // { kind: "quit" }
 * ```
 */
export function parseInput(line: string): ClientInput {
  const text = line.trimEnd();
  if (text.trim() === "") return { kind: "empty" };
  if (QUIT_WORDS.includes(text.trim().toLowerCase())) return { kind: "quit" };
  if (!text.startsWith("/")) return { kind: "message", text };
  if (text.startsWith("//")) return { kind: "message", text: text.slice(1) };
  const space = text.indexOf(" ");
  const name = (space < 0 ? text.slice(1) : text.slice(1, space)).toLowerCase();
  const rest = space < 0 ? "" : text.slice(space + 1).trim();
  switch (name) {
    case "nick":
      return rest === "" ? { kind: "invalid", error: "usage: /nick NAME" } : { kind: "nick", nick: rest };
    case "who":
    case "names":
      return { kind: "who" };
    case "msg":
    case "tell": {
      const [to, ...words] = rest.split(" ");
      const message = words.join(" ").trim();
      if (to === "" || message === "") return { kind: "invalid", error: "usage: /msg NAME TEXT" };
      return { kind: "private", to, text: message };
    }
    case "me":
      return rest === "" ? { kind: "invalid", error: "usage: /me ACTION" } : { kind: "action", text: rest };
    case "help":
      return { kind: "help" };
    case "version":
      return { kind: "version" };
    case "echo":
      return { kind: "echo", text: rest };
    case "format": {
      const format = rest.toLowerCase();
      if (format !== "json" && format !== "text") return { kind: "invalid", error: "usage: /format json|text" };
      return { kind: "format", format };
    }
    case "quit":
    case "exit":
    case "bye":
      return rest === "" ? { kind: "quit" } : { kind: "quit", reason: rest };
    default:
      return { kind: "invalid", error: `unknown command /${name}: /help lists the commands` };
  }
}

/**
 * Why `nick` cannot be a nick, or `undefined` if it can: 1 to
 * {@linkcode MAX_NICK_LENGTH} characters, only letters, digits (any script),
 * combining marks, `_`, `-` and `.`, and not `server`. Uniqueness is the
 * room's business (compare with {@linkcode nickKey}).
 *
 * @example Usage
 * ```ts
 * import { nickProblem } from "./protocol.ts";
 * nickProblem("alice"); // undefined
 * nickProblem("al ice"); // "a nick has only letters, digits, _ - and ."
 * ```
 */
export function nickProblem(nick: string): string | undefined {
  const length = [...nick].length;
  if (length === 0) return "a nick needs at least one character";
  if (length > MAX_NICK_LENGTH) return `a nick has at most ${MAX_NICK_LENGTH} characters`;
  if (!/^[\p{L}\p{N}_.-][\p{L}\p{M}\p{N}_.-]*$/u.test(nick)) return "a nick has only letters, digits, _ - and .";
  // Letters and marks that show as nothing (U+3164 HANGUL FILLER, U+034F, variation selectors):
  // "alice" + one of them looks exactly like "alice".
  if (/\p{Default_Ignorable_Code_Point}/u.test(nick)) return "a nick has only visible letters, digits, _ - and .";
  if (nickKey(nick) === SERVER_NICK) return `"${SERVER_NICK}" is reserved for the operator`;
  return undefined;
}

/**
 * The form under which nicks are compared: case-folded and compatibility
 * normalized, so `Alice`, `ALICE` and fullwidth `Ａｌｉｃｅ` are one nick.
 *
 * @example Usage
 * ```ts
 * import { nickKey } from "./protocol.ts";
 * nickKey("Ａｌｉｃｅ") === nickKey("alice"); // true
 * ```
 */
export function nickKey(nick: string): string {
  // Lower, upper, lower folds what lower case alone keeps apart (ß/ẞ/SS, σ/ς, ᲀ/в), and the
  // second NFKC recomposes what case mapping decomposed (J̌ -> ǰ).
  return nick.normalize("NFKC").toLowerCase().toUpperCase().toLowerCase().normalize("NFKC");
}

/**
 * Cleans a line from the network for everyone's terminals: escape sequences
 * and control characters removed (tabs become spaces), trailing spaces cut.
 *
 * @example Usage
 * ```ts
 * import { cleanLine } from "./protocol.ts";
 * cleanLine("hi\x1b[2J there  "); // "hi there"
 * ```
 */
export function cleanLine(line: string): string {
  // Lone surrogates (possible in JSON from a web client) become U+FFFD, as invalid UTF-8 does
  // from TCP: JSON.stringify would otherwise write them as "\ud800" escapes no UTF-8 holds.
  return stripControls(line).toWellFormed().trimEnd();
}

/** Options for {@linkcode formatText}. */
export interface FormatTextOptions {
  /** Start each line with the local time `HH:MM:SS `.
   * @default {true} */
  time?: boolean;
  /** Decorates parts of the line (colours on a terminal); the default leaves them as they are. */
  style?: (text: string, role: TextRole) => string;
}

/** What a part of a text line is, for {@linkcode FormatTextOptions.style}. */
export type TextRole = "time" | "nick" | "notice" | "error" | "private";

let clockSecond = -1;
let clockText = "";

/**
 * The local time of `ms` as `HH:MM:SS` (cached per second: called once per
 * event, not per receiver).
 *
 * @example Usage
 * ```ts
 * import { clock } from "./protocol.ts";
 * clock(Date.now()); // "12:34:56"
 * ```
 */
export function clock(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== clockSecond) {
    const date = new Date(ms);
    clockText = [date.getHours(), date.getMinutes(), date.getSeconds()]
      .map((part) => String(part).padStart(2, "0")).join(":");
    clockSecond = second;
  }
  return clockText;
}

/**
 * An idle time as `/who` shows it: `5s`, `3m`, `2h`, `4d`.
 *
 * @example Usage
 * ```ts
 * import { formatIdle } from "./protocol.ts";
 * formatIdle(185_000); // "3m"
 * ```
 */
export function formatIdle(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

function plain(text: string): string {
  return text;
}

/**
 * An event as text, the way people and `nc` see it: one line, or several
 * for `/who` and `/help`, without the final newline. The README lists every
 * form; the main ones are
 *
 * ```
 * 12:00:00 <alice> hello
 * 12:00:00 * alice waves
 * 12:00:00 [alice -> bob] psst
 * 12:00:00 -> alice joined from 127.0.0.1:5000, 3 online
 * 12:00:00 <- alice left (quit: gone fishing), 2 online
 * 12:00:00 -- alice is now known as bob
 * 12:00:00 !! unknown command /frob: /help lists the commands
 * ```
 *
 * @example Usage
 * ```ts
 * import { formatText } from "./protocol.ts";
 * formatText({ type: "message", time: Date.now(), seq: 1, from: "alice", text: "hi" }, { time: false });
 * // "<alice> hi"
 * ```
 */
export function formatText(event: ChatEvent, options: FormatTextOptions = {}): string {
  const style = options.style ?? plain;
  const prefix = options.time ?? true ? style(clock(event.time), "time") + " " : "";
  const nick = (name: string) => style(name, "nick");
  const notice = (text: string) => prefix + style("--", "notice") + " " + text;
  switch (event.type) {
    case "message":
      return `${prefix}<${nick(event.from)}> ${event.text}`;
    case "action":
      return `${prefix}${style("*", "notice")} ${nick(event.from)} ${event.text}`;
    case "private":
      return `${prefix}${style("[", "private")}${nick(event.from)} -> ${nick(event.to)}${
        style("]", "private")
      } ${event.text}`;
    case "join":
      return `${prefix}${style("->", "notice")} ${
        nick(event.nick)
      } joined from ${event.address}, ${event.online} online`;
    case "leave": {
      const why = event.detail ? `${event.reason}: ${event.detail}` : event.reason;
      return `${prefix}${style("<-", "notice")} ${nick(event.nick)} left (${why}), ${event.online} online`;
    }
    case "nick":
      return notice(`${nick(event.from)} is now known as ${nick(event.nick)}`);
    case "welcome":
      return notice(
        `welcome to wirebox chat ${event.version}: you are ${nick(event.nick)}, ${event.online} online. ` +
          "Type /help for the commands.",
      );
    case "who": {
      const width = Math.max(0, ...event.members.map((member) => [...member.nick].length));
      const rows = event.members.map((member) =>
        notice(
          `  ${nick(member.nick)}${" ".repeat(width - [...member.nick].length)}  ${member.address}  idle ${
            formatIdle(member.idleMs)
          }`,
        )
      );
      return [notice(`${event.members.length} online:`), ...rows].join("\n");
    }
    case "info":
    case "echo":
      return event.text.split("\n").map(notice).join("\n");
    case "error":
      return `${prefix}${style("!!", "error")} ${style(event.text, "error")}`;
  }
}

/**
 * An event as one JSON line (without the newline): the event's fields, with
 * `time` as an ISO 8601 UTC timestamp.
 *
 * @example Usage
 * ```ts
 * import { formatJson } from "./protocol.ts";
 * formatJson({ type: "message", time: 0, seq: 1, from: "alice", text: "hi" });
 * // '{"type":"message","time":"1970-01-01T00:00:00.000Z","seq":1,"from":"alice","text":"hi"}'
 * ```
 */
export function formatJson(event: ChatEvent): string {
  return JSON.stringify({ ...event, time: new Date(event.time).toISOString() });
}

const encoder = new TextEncoder();

/**
 * An event with its wire forms: the text and JSON lines (newline included)
 * are encoded on first use and then shared by every receiver, so a message
 * to a hundred members costs one encoding per format, not a hundred.
 *
 * @example Usage
 * ```ts
 * import { EncodedEvent } from "./protocol.ts";
 * const event = new EncodedEvent({ type: "info", time: Date.now(), text: "hello" });
 * event.text; // the bytes of "12:00:00 -- hello\n"
 * event.bytes("json"); // the bytes of '{"type":"info",...}\n'
 * ```
 */
export class EncodedEvent {
  /** The event itself. */
  readonly event: ChatEvent;
  #text: Uint8Array | undefined;
  #json: Uint8Array | undefined;

  constructor(event: ChatEvent) {
    this.event = event;
  }

  /** The text line(s), newline-terminated. */
  get text(): Uint8Array {
    return this.#text ??= encoder.encode(formatText(this.event) + "\n");
  }

  /** The JSON line, newline-terminated. */
  get json(): Uint8Array {
    return this.#json ??= encoder.encode(formatJson(this.event) + "\n");
  }

  /** The bytes for a receiver that wants `format`. */
  bytes(format: EventFormat): Uint8Array {
    return format === "json" ? this.json : this.text;
  }
}

const EVENT_TYPES: readonly ChatEventType[] = [
  "message",
  "action",
  "private",
  "join",
  "leave",
  "nick",
  "welcome",
  "who",
  "info",
  "echo",
  "error",
];

/**
 * Reads one JSON line from a server back into an event, or `undefined` if it
 * is not one. Every string in it is cleaned with {@linkcode cleanLine}
 * (a client trusts no server with its terminal); fields a type needs but
 * lacks become empty strings or zeros.
 *
 * @example Usage
 * ```ts
 * import { parseEvent } from "./protocol.ts";
 * parseEvent('{"type":"message","time":"1970-01-01T00:00:00.000Z","seq":1,"from":"a","text":"hi"}');
 * // { type: "message", time: 0, seq: 1, from: "a", text: "hi" }
 * parseEvent("12:00:00 <a> hi"); // undefined
 * ```
 */
export function parseEvent(line: string): ChatEvent | undefined {
  if (!line.startsWith("{")) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const raw = value as Record<string, unknown>;
  if (!EVENT_TYPES.includes(raw.type as ChatEventType)) return undefined;
  const text = (key: string) => typeof raw[key] === "string" ? cleanLine(raw[key] as string) : "";
  const number = (key: string) => typeof raw[key] === "number" && Number.isFinite(raw[key]) ? raw[key] as number : 0;
  const parsedTime = typeof raw.time === "string" ? Date.parse(raw.time) : number("time");
  const time = Number.isFinite(parsedTime) ? parsedTime : 0;
  switch (raw.type as ChatEventType) {
    case "message":
    case "action":
      return { type: raw.type as "message", time, seq: number("seq"), from: text("from"), text: text("text") };
    case "private":
      return { type: "private", time, from: text("from"), to: text("to"), text: text("text") };
    case "join":
      return {
        type: "join",
        time,
        seq: number("seq"),
        nick: text("nick"),
        address: text("address"),
        online: number("online"),
      };
    case "leave": {
      const reason = LEAVE_REASONS.find((known) => known === raw.reason) ?? "connection lost";
      const detail = text("detail");
      return {
        type: "leave",
        time,
        seq: number("seq"),
        nick: text("nick"),
        reason,
        ...(detail ? { detail } : {}),
        online: number("online"),
      };
    }
    case "nick":
      return { type: "nick", time, seq: number("seq"), from: text("from"), nick: text("nick") };
    case "welcome": {
      const limits = (typeof raw.limits === "object" && raw.limits !== null ? raw.limits : {}) as Record<
        string,
        unknown
      >;
      const limit = (key: string) =>
        typeof limits[key] === "number" && (limits[key] as number) >= 0 ? limits[key] as number : 0;
      return {
        type: "welcome",
        time,
        nick: text("nick"),
        online: number("online"),
        version: text("version"),
        history: number("history"),
        limits: {
          maxLineBytes: limit("maxLineBytes"),
          rate: limit("rate"),
          burst: limit("burst"),
          maxNickLength: limit("maxNickLength"),
        },
      };
    }
    case "who": {
      const members = Array.isArray(raw.members) ? raw.members : [];
      return {
        type: "who",
        time,
        members: members.filter((member) => typeof member === "object" && member !== null).map((member) => {
          const entry = member as Record<string, unknown>;
          return {
            nick: typeof entry.nick === "string" ? cleanLine(entry.nick) : "",
            address: typeof entry.address === "string" ? cleanLine(entry.address) : "",
            idleMs: typeof entry.idleMs === "number" ? entry.idleMs : 0,
          };
        }),
      };
    }
    case "info":
    case "echo":
    case "error": {
      // Several lines are allowed here (help, who); each is cleaned on its own.
      const lines = typeof raw.text === "string" ? raw.text.split("\n").map(cleanLine) : [];
      return { type: raw.type as "info", time, text: lines.join("\n") };
    }
  }
}
