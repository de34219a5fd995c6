/**
 * The upload protocol, version 1: pure encoding and parsing, bytes in and
 * values out, no sockets. The wire format, in full (every line ends with LF;
 * a CR before it is ignored):
 *
 * ```
 * client: WIREBOX-UPLOAD 1            magic word and protocol version
 *         name: photos/cat.jpg        relative name, UTF-8, "/" between folders
 *         size: 1048576               exact byte count, decimal
 *         id: 9f86d081884c7d65...     optional: the client's identity for this file (resume key)
 *         token: s3cret               optional: the server's shared secret
 *         resume: yes                 optional: continue a partial upload (default no)
 *         (empty line)
 * server: READY <offset>[ <sha256 of the first offset bytes>]
 *      or ERROR <code> <message>      and the server closes the connection
 * client: the file's bytes from <offset> to the end, then
 *         sha256: <64 lowercase hex digits of the whole file>
 * server: OK <size> <sha256> <stored name>
 *      or ERROR <code> <message>      and the server closes the connection
 * ```
 *
 * After `OK` the client may send the next header on the same connection, or
 * close it. The SHA-256 comes after the data so the client hashes while it
 * sends (one pass over the file, no reading it twice). A client that does not
 * ask to resume may send the data right after the header without waiting for
 * `READY` (the offset is then always 0). Unknown header fields are ignored;
 * a change that an old server must not ignore gets a new version number.
 *
 * @module
 */

import { escapeControls } from "../text/sanitize.ts";

/** The word that opens every upload header. A connection that opens otherwise is stored raw. */
export const UPLOAD_MAGIC = "WIREBOX-UPLOAD";
/** The protocol version this code speaks. */
export const UPLOAD_VERSION = 1;
/** The upload server's usual port. */
export const DEFAULT_UPLOAD_PORT = 8888;
/** Longest header accepted, in bytes, empty line included. */
export const MAX_HEADER_BYTES = 16 * 1024;
/** Longest reply or trailer line, in bytes (a stored name may take 4096). */
export const MAX_LINE_BYTES = 8 * 1024;

/** What a client declares before sending a file. */
export interface UploadHeader {
  /** The name to store the file under: relative, "/"-separated. */
  name: string;
  /** The file's exact size in bytes. */
  size: number;
  /** The client's identity for this file (1-64 of `A-Z a-z 0-9 . _ -`); partial data is kept per name, size and id. */
  id?: string;
  /** The shared secret, when the server asks for one. */
  token?: string;
  /** Continue from the data the server already has.
   * @default {false} */
  resume?: boolean;
}

/** Why a server refuses or fails an upload: the word after `ERROR`. */
export type UploadErrorCode =
  | "bad-request"
  | "version"
  | "unauthorized"
  | "bad-name"
  | "too-large"
  | "exists"
  | "mismatch"
  | "disk-full"
  | "io-error"
  | "timeout"
  | "stopping"
  | "busy"
  | "taken-over";

/** Every {@linkcode UploadErrorCode} with what it means, for documentation and clients. */
export const UPLOAD_ERROR_CODES: Readonly<Record<UploadErrorCode, string>> = {
  "bad-request": "the header or the trailer is malformed",
  "version": "the server does not speak this protocol version",
  "unauthorized": "the token is missing or wrong",
  "bad-name": "the name is refused (absolute, '..', control characters, outside the folder)",
  "too-large": "the file is larger than the server accepts",
  "exists": "a file of that name exists and the server does not replace or rename",
  "mismatch": "the data received does not have the SHA-256 the client sent",
  "disk-full": "the server's disk is full",
  "io-error": "the server could not store the file",
  "timeout": "no data came for too long",
  "stopping": "the server is shutting down",
  "busy": "the server is serving too many connections, or this file is being uploaded",
  "taken-over": "a resumed upload of the same file took over from this connection",
};

/** A reply line from the server. */
export type UploadReply =
  | { kind: "ready"; offset: number; prefixSha256?: string }
  | { kind: "ok"; size: number; sha256: string; name: string }
  | { kind: "error"; code: string; message: string };

/** The outcome of {@linkcode parseHeader}. */
export type HeaderParse =
  | { status: "incomplete" }
  | { status: "ok"; header: UploadHeader; length: number }
  | { status: "invalid"; code: "bad-request" | "version"; message: string };

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });
const MAGIC_BYTES = encoder.encode(`${UPLOAD_MAGIC} `);
const LF = 0x0a;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const ID = /^[A-Za-z0-9._-]{1,64}$/;
const MAX_TOKEN_BYTES = 1024;

/**
 * Whether bytes that opened a connection are an upload header: `true` once
 * `WIREBOX-UPLOAD ` is seen, `false` as soon as they differ from it, and
 * `undefined` while they are a shorter prefix of it (read more).
 *
 * @example Usage
 * ```ts
 * import { opensWithMagic } from "./protocol.ts";
 * opensWithMagic(new TextEncoder().encode("WIREBOX-UPLOAD 1\n")); // true
 * opensWithMagic(new TextEncoder().encode("WIRE")); // undefined
 * opensWithMagic(new TextEncoder().encode("%PDF-1.7")); // false
 * ```
 */
export function opensWithMagic(bytes: Uint8Array): boolean | undefined {
  const length = Math.min(bytes.length, MAGIC_BYTES.length);
  for (let i = 0; i < length; i++) if (bytes[i] !== MAGIC_BYTES[i]) return false;
  return length === MAGIC_BYTES.length ? true : undefined;
}

/**
 * Encodes a header, empty line included.
 *
 * @example Usage
 * ```ts
 * import { encodeHeader } from "./protocol.ts";
 * const bytes = encodeHeader({ name: "notes.txt", size: 5 });
 * new TextDecoder().decode(bytes); // "WIREBOX-UPLOAD 1\nname: notes.txt\nsize: 5\n\n"
 * ```
 */
export function encodeHeader(header: UploadHeader): Uint8Array {
  const lines = [`${UPLOAD_MAGIC} ${UPLOAD_VERSION}`, `name: ${header.name}`, `size: ${header.size}`];
  if (header.id !== undefined) lines.push(`id: ${header.id}`);
  if (header.token !== undefined) lines.push(`token: ${header.token}`);
  if (header.resume) lines.push("resume: yes");
  for (const line of lines) {
    if (/[\r\n]/.test(line)) throw new RangeError(`Cannot send ${JSON.stringify(line)}: it contains a line break`);
  }
  return encoder.encode(lines.join("\n") + "\n\n");
}

/**
 * Parses a header from the bytes a connection has delivered so far. Returns
 * `incomplete` until the empty line arrives, then the header and how many
 * bytes it took (what follows is file data); `invalid` with an error code and
 * message for anything malformed or too long.
 *
 * @example Usage
 * ```ts
 * import { parseHeader } from "./protocol.ts";
 * const result = parseHeader(new TextEncoder().encode("WIREBOX-UPLOAD 1\nname: a.txt\nsize: 3\n\nabc"));
 * if (result.status === "ok") console.log(result.header, result.length); // { name: "a.txt", size: 3 } 38
 * ```
 */
export function parseHeader(bytes: Uint8Array): HeaderParse {
  const end = headerEnd(bytes);
  if (end < 0) {
    return bytes.length >= MAX_HEADER_BYTES
      ? invalid(`the header is longer than ${MAX_HEADER_BYTES} bytes`)
      : { status: "incomplete" };
  }
  if (end > MAX_HEADER_BYTES) return invalid(`the header is longer than ${MAX_HEADER_BYTES} bytes`);
  let text: string;
  try {
    text = strictDecoder.decode(bytes.subarray(0, end));
  } catch {
    return invalid("the header is not valid UTF-8");
  }
  const [first, ...lines] = text.split("\n").map((line) => line.endsWith("\r") ? line.slice(0, -1) : line);
  const opening = /^WIREBOX-UPLOAD (\d{1,9})$/.exec(first);
  if (!opening) return invalid(`the header must open with "${UPLOAD_MAGIC} ${UPLOAD_VERSION}"`);
  if (Number(opening[1]) !== UPLOAD_VERSION) {
    return {
      status: "invalid",
      code: "version",
      message: `protocol version ${opening[1]} is not supported: this server speaks version ${UPLOAD_VERSION}`,
    };
  }
  const fields = new Map<string, string>();
  for (const line of lines) {
    if (line === "") break;
    // "s": a value may hold U+2028/U+2029 (the name check decides about them, not "."'s idea of a line).
    const field = /^([a-z0-9-]+): (.*)$/s.exec(line);
    if (!field) {
      return invalid(
        `malformed header line ${escapeControls(JSON.stringify(line.slice(0, 80)))}: expected "key: value"`,
      );
    }
    if (fields.has(field[1])) return invalid(`the header field "${field[1]}" appears twice`);
    fields.set(field[1], field[2]);
  }
  const name = fields.get("name");
  if (name === undefined) return invalid('the header has no "name" field');
  const sizeText = fields.get("size");
  if (sizeText === undefined) return invalid('the header has no "size" field');
  if (!/^\d{1,16}$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) {
    return invalid(`invalid size ${JSON.stringify(sizeText)}: expected a whole number of bytes`);
  }
  const header: UploadHeader = { name, size: Number(sizeText) };
  const id = fields.get("id");
  if (id !== undefined) {
    if (!ID.test(id)) return invalid("invalid id: use 1 to 64 letters, digits, '.', '_' or '-'");
    header.id = id;
  }
  const token = fields.get("token");
  if (token !== undefined) {
    if (encoder.encode(token).length > MAX_TOKEN_BYTES) {
      return invalid(`the token is longer than ${MAX_TOKEN_BYTES} bytes`);
    }
    header.token = token;
  }
  const resume = fields.get("resume");
  if (resume !== undefined && resume !== "yes" && resume !== "no") {
    return invalid(`invalid resume ${JSON.stringify(resume)}: expected "yes" or "no"`);
  }
  if (resume === "yes") header.resume = true;
  return { status: "ok", header, length: end };
}

// Index just past the empty line that ends the header, or -1.
function headerEnd(bytes: Uint8Array): number {
  let start = 0;
  while (true) {
    const newline = bytes.indexOf(LF, start);
    if (newline < 0) return -1;
    const line = newline - start;
    if (start > 0 && (line === 0 || (line === 1 && bytes[start] === 0x0d))) return newline + 1;
    start = newline + 1;
  }
}

function invalid(message: string): HeaderParse {
  return { status: "invalid", code: "bad-request", message };
}

/**
 * Formats a reply line (with its LF). Control characters in an error message
 * are replaced by spaces, so one reply is always one line.
 *
 * @example Usage
 * ```ts
 * import { formatReply } from "./protocol.ts";
 * formatReply({ kind: "ready", offset: 0 }); // "READY 0\n"
 * formatReply({ kind: "error", code: "exists", message: "a.txt already exists" }); // "ERROR exists a.txt already exists\n"
 * ```
 */
export function formatReply(reply: UploadReply): string {
  switch (reply.kind) {
    case "ready":
      return `READY ${reply.offset}${reply.prefixSha256 ? ` ${reply.prefixSha256}` : ""}\n`;
    case "ok":
      return `OK ${reply.size} ${reply.sha256} ${reply.name}\n`;
    case "error":
      // deno-lint-ignore no-control-regex
      return `ERROR ${reply.code} ${reply.message.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, " ")}\n`;
  }
}

/**
 * Parses a reply line (without its line ending); `undefined` when it is not a valid reply.
 *
 * @example Usage
 * ```ts
 * import { parseReply } from "./protocol.ts";
 * parseReply("READY 4096 " + "0".repeat(64)); // { kind: "ready", offset: 4096, prefixSha256: "000…" }
 * parseReply("ERROR too-large the file is larger than 1.00 GiB"); // { kind: "error", code: "too-large", ... }
 * ```
 */
export function parseReply(line: string): UploadReply | undefined {
  let match = /^READY (\d{1,16})(?: ([0-9a-f]{64}))?$/.exec(line);
  if (match) {
    const reply: UploadReply = { kind: "ready", offset: Number(match[1]) };
    if (match[2]) reply.prefixSha256 = match[2];
    return reply;
  }
  match = /^OK (\d{1,16}) ([0-9a-f]{64}) (.+)$/s.exec(line);
  if (match) return { kind: "ok", size: Number(match[1]), sha256: match[2], name: match[3] };
  match = /^ERROR ([a-z0-9-]+)(?: (.*))?$/s.exec(line);
  if (match) return { kind: "error", code: match[1], message: match[2] ?? "" };
  return undefined;
}

/**
 * The line a client sends after the data.
 *
 * @example Usage
 * ```ts
 * import { formatTrailer } from "./protocol.ts";
 * formatTrailer("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"); // "sha256: e3b0…\n"
 * ```
 */
export function formatTrailer(sha256: string): string {
  if (!SHA256_HEX.test(sha256)) throw new RangeError(`Invalid SHA-256 "${sha256}": expected 64 lowercase hex digits`);
  return `sha256: ${sha256}\n`;
}

/**
 * Parses the trailer line (without its line ending): the SHA-256, or `undefined` if malformed.
 *
 * @example Usage
 * ```ts
 * import { parseTrailer } from "./protocol.ts";
 * parseTrailer("sha256: " + "ab".repeat(32)); // "abab…"
 * parseTrailer("sha256: nope"); // undefined
 * ```
 */
export function parseTrailer(line: string): string | undefined {
  const match = /^sha256: ([0-9a-fA-F]{64})\r?$/.exec(line);
  return match ? match[1].toLowerCase() : undefined;
}
