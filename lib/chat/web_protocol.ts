/**
 * The chat's WebSocket framing, pure (frames in, lines out): what a browser
 * or a bot may send, how a frame becomes the lines a TCP client would have
 * sent, and which pages may open the socket at all (the `Origin` check).
 *
 * Server to client, every frame is binary and holds one or more complete
 * JSON lines, byte for byte what a TCP client gets after `/format json`.
 * Client to server, every frame (text, or binary UTF-8) is one JSON object:
 *
 * ```json
 * {"type":"line","text":"hello"}
 * ```
 *
 * whose `text` the room reads exactly as a line from TCP: `/nick`, `/msg`,
 * `/who` and every other command work, and a text holding line breaks is
 * several lines.
 *
 * @module
 */

import type { LineChunk } from "../net/line_stream.ts";

/** The path of the chat's WebSocket endpoint. */
export const WEB_SOCKET_PATH = "/ws";

/** The WebSocket close codes the server sends (RFC 6455, 7.4.1). */
export const CLOSE_CODES = {
  /** A normal close (the client quit, or was told to leave). */
  normal: 1000,
  /** The server is stopping. */
  goingAway: 1001,
  /** The client broke the rules (flooding with bad frames, kicked, too slow). */
  policy: 1008,
  /** A frame over the size limit. */
  tooBig: 1009,
  /** The server is full: the page retries later. */
  tryAgainLater: 1013,
} as const;

/** What one client frame means. */
export type ClientFrame =
  | { kind: "lines"; lines: LineChunk[] }
  | { kind: "invalid"; error: string };

/** An example of a good frame, for error messages. */
const EXAMPLE = '{"type":"line","text":"hello"}';

/**
 * Reads one frame from a web client: a JSON object `{"type":"line","text":
 * TEXT}`. TEXT becomes one line, or several when it holds line breaks (LF or
 * CRLF; a final one ends the last line, as on TCP); a line over
 * `maxLineBytes` (UTF-8) becomes the line framer's overlong marker, so the
 * room refuses it exactly as it refuses one from TCP. Anything else is
 * `invalid`, with an error for the client.
 *
 * @example Usage
 * ```ts
 * import { parseClientFrame } from "./web_protocol.ts";
 * parseClientFrame('{"type":"line","text":"/nick alice"}', 4096); // { kind: "lines", lines: ["/nick alice"] }
 * parseClientFrame("hello", 4096); // { kind: "invalid", error: "malformed frame: ..." }
 * ```
 */
export function parseClientFrame(frame: string, maxLineBytes: number): ClientFrame {
  let value: unknown;
  try {
    value = JSON.parse(frame);
  } catch {
    return { kind: "invalid", error: `malformed frame: not JSON; send objects like ${EXAMPLE}` };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { kind: "invalid", error: `malformed frame: not a JSON object; send objects like ${EXAMPLE}` };
  }
  const { type, text } = value as Record<string, unknown>;
  if (type !== "line") {
    const shown = typeof type === "string" ? `"${type.slice(0, 40)}"` : "missing";
    return { kind: "invalid", error: `unknown frame type ${shown}: the only type is "line", as in ${EXAMPLE}` };
  }
  if (typeof text !== "string") {
    return { kind: "invalid", error: `malformed frame: "text" must be a string, as in ${EXAMPLE}` };
  }
  const pieces = text.split(/\r?\n/);
  if (pieces.length > 1 && pieces.at(-1) === "") pieces.pop();
  const lines = pieces.map((line): LineChunk => fitsUtf8(line, maxLineBytes) ? line : { overlong: true, maxLineBytes });
  return { kind: "lines", lines };
}

/**
 * Whether `text` takes at most `maxBytes` bytes in UTF-8, found without
 * encoding it, and without scanning it at all when its length alone tells.
 *
 * @example Usage
 * ```ts
 * import { fitsUtf8 } from "./web_protocol.ts";
 * fitsUtf8("héllo", 6); // true
 * fitsUtf8("héllo", 5); // false
 * ```
 */
export function fitsUtf8(text: string, maxBytes: number): boolean {
  if (text.length > maxBytes) return false; // at least one byte per UTF-16 unit
  if (text.length * 3 <= maxBytes) return true; // at most three bytes per UTF-16 unit
  let bytes = 0;
  for (let index = 0; index < text.length && bytes <= maxBytes; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code < 0xdc00 && isLowSurrogate(text.charCodeAt(index + 1))) {
      bytes += 4; // a surrogate pair: one code point of four bytes
      index++;
    } else bytes += 3; // the rest of the BMP, and a lone surrogate (sent as U+FFFD)
  }
  return bytes <= maxBytes;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code < 0xe000;
}

/**
 * An origin as browsers send it (`scheme://host[:port]`, lower case, the
 * default port left out), from what a user typed: `http://Chat.lan:8080/`
 * becomes `http://chat.lan:8080`; `*` stays `*` (any origin). Throws a
 * `RangeError` for anything that is not an http(s) origin.
 *
 * @example Usage
 * ```ts
 * import { normalizeOrigin } from "./web_protocol.ts";
 * normalizeOrigin("HTTP://Chat.LAN:80/"); // "http://chat.lan"
 * ```
 */
export function normalizeOrigin(text: string): string {
  const trimmed = text.trim();
  if (trimmed === "*") return "*";
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw new RangeError(`Invalid origin "${text}": expected http://HOST[:PORT] or https://HOST[:PORT], or *`);
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.host === "") {
    throw new RangeError(`Invalid origin "${text}": expected http://HOST[:PORT] or https://HOST[:PORT], or *`);
  }
  if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.hash !== "" || url.username !== "") {
    throw new RangeError(`Invalid origin "${text}": an origin has no path, query or user, only scheme, host and port`);
  }
  return url.origin;
}

/**
 * Whether a WebSocket request may open: browsers always send `Origin`, so a
 * page from another site cannot use a visitor's browser to join the chat
 * (cross-site WebSocket hijacking). A page from the host the request was
 * sent to (its `Host` header) may always open it, and so may one whose
 * origin is in `allowed` (`*` allows any): the list adds to the page's own
 * address, so naming a proxy's origin does not lock out the page itself. A
 * request without `Origin` comes from a program, not a page, and is allowed.
 *
 * @example Usage
 * ```ts
 * import { originAllowed } from "./web_protocol.ts";
 * originAllowed("http://192.168.1.10:8080", "192.168.1.10:8080", []); // true
 * originAllowed("https://evil.example", "192.168.1.10:8080", []); // false
 * originAllowed("https://evil.example", "192.168.1.10:8080", ["https://evil.example"]); // true
 * ```
 */
export function originAllowed(origin: string | null, host: string | null, allowed: readonly string[]): boolean {
  if (origin === null) return true;
  if (allowed.includes("*")) return true;
  let normalized: string;
  try {
    normalized = normalizeOrigin(origin);
  } catch {
    return false; // "null" (a sandboxed frame, a file), or garbage
  }
  if (allowed.includes(normalized)) return true;
  return host !== null && new URL(normalized).host === hostOf(host);
}

/** A Host header's host:port as URL.host writes it (lower case, default port dropped for http). */
function hostOf(host: string): string {
  try {
    return new URL(`http://${host}`).host;
  } catch {
    return "";
  }
}
