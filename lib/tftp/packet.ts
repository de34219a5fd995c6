/**
 * The TFTP packet codec (RFC 1350, with the OACK of RFC 2347): bytes in,
 * values out, and back. Pure: no sockets, no files. Every malformed packet
 * (truncated, missing NUL, unknown opcode, bad mode, bad option syntax)
 * decodes to a {@linkcode Malformed} value that says why, never an exception.
 *
 * The hot paths of a transfer (DATA and ACK) have allocation-free helpers:
 * {@linkcode writeDataHeader}, {@linkcode writeAck}, {@linkcode opcodeOf} and
 * {@linkcode blockOf}.
 *
 * @module
 */

import { formatCount } from "../text/format.ts";

/** Packet opcodes. */
export const Opcode = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;

/** TFTP error codes (RFC 1350, plus 8 from RFC 2347). */
export const ErrorCode = {
  /** Not defined, see the message. */
  undefined: 0,
  fileNotFound: 1,
  accessViolation: 2,
  diskFull: 3,
  illegalOperation: 4,
  unknownTransferId: 5,
  fileExists: 6,
  noSuchUser: 7,
  /** The request's options could not be accepted (RFC 2347). */
  optionNegotiation: 8,
} as const;

/** The standard wording of each error code, shown beside the peer's own message. */
export const ERROR_NAMES: readonly string[] = [
  "Error",
  "File not found",
  "Access violation",
  "Disk full or allocation exceeded",
  "Illegal TFTP operation",
  "Unknown transfer ID",
  "File already exists",
  "No such user",
  "Option negotiation failed",
];

/** Transfer modes. `mail` is obsolete and decoded only so that it can be refused clearly. */
export type Mode = "netascii" | "octet" | "mail";

/** Options as they appear on the wire: lower-case names, values as text, in order. */
export type OptionMap = Map<string, string>;

/** A read or write request. */
export interface RequestPacket {
  type: "RRQ" | "WRQ";
  filename: string;
  mode: Mode;
  /** RFC 2347 options (names lower-cased; the first of a repeated name wins). */
  options: OptionMap;
}

/** A block of data. `data` is a view into the decoded bytes. */
export interface DataPacket {
  type: "DATA";
  /** Block number as sent (0..65535). */
  block: number;
  data: Uint8Array;
}

/** An acknowledgement. */
export interface AckPacket {
  type: "ACK";
  block: number;
}

/** An error, which ends the transfer. */
export interface ErrorPacket {
  type: "ERROR";
  code: number;
  message: string;
}

/** An option acknowledgement (RFC 2347). */
export interface OackPacket {
  type: "OACK";
  options: OptionMap;
}

/** Any well-formed TFTP packet. */
export type Packet = RequestPacket | DataPacket | AckPacket | ErrorPacket | OackPacket;

/** Bytes that are not a valid TFTP packet, and why. */
export interface Malformed {
  type: "malformed";
  reason: string;
}

/** The largest block size RFC 2348 allows. */
export const MAX_BLKSIZE = 65464;
/** The block size of RFC 1350. */
export const DEFAULT_BLKSIZE = 512;
/** Bytes before the payload of a DATA packet. */
export const DATA_HEADER = 4;

const MODES: readonly string[] = ["netascii", "octet", "mail"];
/** Options whose values must be decimal numbers. */
const NUMERIC_OPTIONS: readonly string[] = ["blksize", "timeout", "tsize", "windowsize", "utimeout", "rollover"];
const MAX_NUMBER_DIGITS = 20;
const utf8 = new TextDecoder("utf-8", { fatal: true });
const lenient = new TextDecoder("utf-8");
const encoder = new TextEncoder();

/**
 * Decodes one datagram. Never throws: malformed input gives `{ type: "malformed", reason }`.
 *
 * @example Usage
 * ```ts
 * import { decodePacket } from "./packet.ts";
 * const packet = decodePacket(new Uint8Array([0, 4, 0, 7]));
 * console.log(packet); // { type: "ACK", block: 7 }
 * console.log(decodePacket(new Uint8Array([0, 4, 0]))); // { type: "malformed", reason: "ACK is 3 bytes, expected 4" }
 * ```
 */
export function decodePacket(bytes: Uint8Array): Packet | Malformed {
  if (bytes.length < 2) return malformed(`packet of ${formatCount(bytes.length, "byte")} is too short`);
  const opcode = (bytes[0] << 8) | bytes[1];
  switch (opcode) {
    case Opcode.RRQ:
    case Opcode.WRQ:
      return decodeRequest(bytes, opcode === Opcode.RRQ ? "RRQ" : "WRQ");
    case Opcode.DATA:
      if (bytes.length < DATA_HEADER) return malformed(`DATA is ${bytes.length} bytes, shorter than its header`);
      if (bytes.length > DATA_HEADER + MAX_BLKSIZE) return malformed(`DATA carries more than ${MAX_BLKSIZE} bytes`);
      return { type: "DATA", block: (bytes[2] << 8) | bytes[3], data: bytes.subarray(DATA_HEADER) };
    case Opcode.ACK:
      if (bytes.length !== 4) return malformed(`ACK is ${bytes.length} bytes, expected 4`);
      return { type: "ACK", block: (bytes[2] << 8) | bytes[3] };
    case Opcode.ERROR: {
      if (bytes.length < 5) return malformed(`ERROR is ${bytes.length} bytes, too short for a code and a message`);
      const end = bytes.indexOf(0, 4);
      if (end < 0) return malformed("ERROR message is not terminated by a NUL byte");
      if (end !== bytes.length - 1) return malformed("ERROR has bytes after its message");
      return { type: "ERROR", code: (bytes[2] << 8) | bytes[3], message: lenient.decode(bytes.subarray(4, end)) };
    }
    case Opcode.OACK: {
      const options = decodeOptions(bytes, 2);
      return typeof options === "string" ? malformed(`OACK ${options}`) : { type: "OACK", options };
    }
    default:
      return malformed(`unknown opcode ${opcode}`);
  }
}

function malformed(reason: string): Malformed {
  return { type: "malformed", reason };
}

function decodeRequest(bytes: Uint8Array, type: "RRQ" | "WRQ"): RequestPacket | Malformed {
  const nameEnd = bytes.indexOf(0, 2);
  if (nameEnd < 0) return malformed(`${type} filename is not terminated by a NUL byte`);
  if (nameEnd === 2) return malformed(`${type} has an empty filename`);
  const modeEnd = bytes.indexOf(0, nameEnd + 1);
  if (modeEnd < 0) return malformed(`${type} mode is not terminated by a NUL byte`);
  let filename: string;
  try {
    filename = utf8.decode(bytes.subarray(2, nameEnd));
  } catch {
    return malformed(`${type} filename is not valid UTF-8`);
  }
  const mode = lenient.decode(bytes.subarray(nameEnd + 1, modeEnd)).toLowerCase();
  if (!MODES.includes(mode)) {
    return malformed(`${type} mode ${JSON.stringify(mode)} is not netascii or octet`);
  }
  const options = decodeOptions(bytes, modeEnd + 1);
  if (typeof options === "string") return malformed(`${type} ${options}`);
  return { type, filename, mode: mode as Mode, options };
}

/** Name/value pairs from `start` to the end; a string says what is wrong. */
function decodeOptions(bytes: Uint8Array, start: number): OptionMap | string {
  const options: OptionMap = new Map();
  let offset = start;
  while (offset < bytes.length) {
    // Some boot ROMs pad requests with NUL bytes: padding after the last pair is harmless.
    if (bytes.subarray(offset).every((byte) => byte === 0)) break;
    const nameEnd = bytes.indexOf(0, offset);
    if (nameEnd < 0) return "option name is not terminated by a NUL byte";
    const valueEnd = bytes.indexOf(0, nameEnd + 1);
    if (valueEnd < 0) return "option value is not terminated by a NUL byte";
    const name = lenient.decode(bytes.subarray(offset, nameEnd)).toLowerCase();
    const value = lenient.decode(bytes.subarray(nameEnd + 1, valueEnd));
    if (name === "") return "has an option with an empty name";
    if (NUMERIC_OPTIONS.includes(name) && !isDecimal(value)) {
      return `option ${name} has value ${JSON.stringify(value)}, expected a number`;
    }
    if (!options.has(name)) options.set(name, value);
    offset = valueEnd + 1;
  }
  return options;
}

function isDecimal(text: string): boolean {
  return text.length > 0 && text.length <= MAX_NUMBER_DIGITS && /^\d+$/.test(text);
}

/**
 * Encodes a read or write request.
 *
 * @example Usage
 * ```ts
 * import { encodeRequest } from "./packet.ts";
 * const rrq = encodeRequest("RRQ", "pxelinux.0", "octet", new Map([["blksize", "1468"]]));
 * ```
 */
export function encodeRequest(
  type: "RRQ" | "WRQ",
  filename: string,
  mode: Mode,
  options: OptionMap = new Map(),
): Uint8Array {
  return encodeStrings(type === "RRQ" ? Opcode.RRQ : Opcode.WRQ, [filename, mode, ...flatten(options)]);
}

/**
 * Encodes an option acknowledgement.
 *
 * @example Usage
 * ```ts
 * import { encodeOack } from "./packet.ts";
 * const oack = encodeOack(new Map([["blksize", "1468"], ["tsize", "1048576"]]));
 * ```
 */
export function encodeOack(options: OptionMap): Uint8Array {
  return encodeStrings(Opcode.OACK, flatten(options));
}

function flatten(options: OptionMap): string[] {
  return [...options].flat();
}

function encodeStrings(opcode: number, strings: string[]): Uint8Array {
  const parts = strings.map((text) => encoder.encode(text));
  const bytes = new Uint8Array(2 + parts.reduce((sum, part) => sum + part.length + 1, 0));
  bytes[1] = opcode;
  let offset = 2;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length + 1;
  }
  return bytes;
}

/**
 * Encodes an ERROR packet. The message is cut to keep the packet within 512 bytes.
 *
 * @example Usage
 * ```ts
 * import { encodeError, ErrorCode } from "./packet.ts";
 * const error = encodeError(ErrorCode.fileNotFound, "File not found");
 * ```
 */
export function encodeError(code: number, message: string): Uint8Array {
  let text = encoder.encode(message.replaceAll("\0", " "));
  if (text.length > 500) text = encoder.encode(lenient.decode(text.subarray(0, 500)).replace(/\uFFFD$/, ""));
  const bytes = new Uint8Array(5 + text.length);
  bytes[1] = Opcode.ERROR;
  bytes[2] = (code >> 8) & 0xff;
  bytes[3] = code & 0xff;
  bytes.set(text, 4);
  return bytes;
}

/**
 * Encodes a DATA packet (allocating; transfers use {@linkcode writeDataHeader} on a reused buffer).
 *
 * @example Usage
 * ```ts
 * import { encodeData } from "./packet.ts";
 * const data = encodeData(1, new TextEncoder().encode("hello"));
 * ```
 */
export function encodeData(block: number, payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(DATA_HEADER + payload.length);
  writeDataHeader(bytes, block);
  bytes.set(payload, DATA_HEADER);
  return bytes;
}

/**
 * Writes a DATA header for wire block number `block` into the first 4 bytes of `packet`.
 *
 * @example Usage
 * ```ts
 * import { DATA_HEADER, writeDataHeader } from "./packet.ts";
 * const packet = new Uint8Array(DATA_HEADER + 512);
 * writeDataHeader(packet, 1);
 * ```
 */
export function writeDataHeader(packet: Uint8Array, block: number): void {
  writeHeader(packet, Opcode.DATA, block);
}

function writeHeader(packet: Uint8Array, opcode: number, block: number): void {
  packet[0] = 0;
  packet[1] = opcode;
  packet[2] = (block >> 8) & 0xff;
  packet[3] = block & 0xff;
}

/**
 * Encodes an ACK packet.
 *
 * @example Usage
 * ```ts
 * import { encodeAck } from "./packet.ts";
 * encodeAck(1); // Uint8Array [0, 4, 0, 1]
 * ```
 */
export function encodeAck(block: number): Uint8Array {
  const bytes = new Uint8Array(4);
  writeHeader(bytes, Opcode.ACK, block);
  return bytes;
}

/**
 * Writes an ACK for wire block number `block` into a 4-byte buffer.
 *
 * @example Usage
 * ```ts
 * import { writeAck } from "./packet.ts";
 * const ack = new Uint8Array(4);
 * writeAck(ack, 65535);
 * ```
 */
export function writeAck(packet: Uint8Array, block: number): void {
  writeHeader(packet, Opcode.ACK, block);
}

/**
 * The opcode of a datagram, or 0 when it is too short to have one.
 *
 * @example Usage
 * ```ts
 * import { Opcode, opcodeOf } from "./packet.ts";
 * opcodeOf(new Uint8Array([0, 4, 0, 1])) === Opcode.ACK; // true
 * ```
 */
export function opcodeOf(bytes: Uint8Array): number {
  return bytes.length < 2 ? 0 : (bytes[0] << 8) | bytes[1];
}

/**
 * The block number of a DATA or ACK datagram (bytes 2-3), or -1 when it is too short.
 *
 * @example Usage
 * ```ts
 * import { blockOf } from "./packet.ts";
 * blockOf(new Uint8Array([0, 4, 1, 0])); // 256
 * ```
 */
export function blockOf(bytes: Uint8Array): number {
  return bytes.length < 4 ? -1 : (bytes[2] << 8) | bytes[3];
}

/**
 * How block numbers continue after 65535: `0` (tftp-hpa, curl, atftp and
 * most others) or `1` (some boot loaders; negotiated with the `rollover` option).
 */
export type Rollover = 0 | 1;

/**
 * The 16-bit wire number of absolute block `n` (block 1 is the first DATA;
 * 0 is the ACK of an OACK or of a WRQ).
 *
 * @example Usage
 * ```ts
 * import { wireBlock } from "./packet.ts";
 * wireBlock(65536, 0); // 0
 * wireBlock(65536, 1); // 1
 * ```
 */
export function wireBlock(n: number, rollover: Rollover = 0): number {
  if (rollover === 0 || n < 65536) return n % 65536;
  return ((n - 65536) % 65535) + 1;
}

/**
 * The absolute block number within `[from, to]` whose wire number is `wire`,
 * or -1 if none is. Windows are shorter than 65535 blocks, so at most one fits.
 *
 * @example Usage
 * ```ts
 * import { absoluteBlock } from "./packet.ts";
 * absoluteBlock(2, 65530, 65540, 0); // 65538
 * absoluteBlock(7, 65530, 65540, 0); // -1
 * ```
 */
export function absoluteBlock(wire: number, from: number, to: number, rollover: Rollover = 0): number {
  let n: number;
  if (rollover === 0 || to < 65536) {
    n = from + ((wire - (from % 65536) + 65536) % 65536);
  } else if (wire === 0) {
    return from === 0 ? 0 : -1;
  } else {
    // After the first wrap the sequence cycles through 1..65535.
    const base = Math.max(from, 1);
    n = base + ((wire - wireBlock(base, 1) + 65535) % 65535);
  }
  return n <= to ? n : -1;
}

/**
 * A readable one-line description of a packet, for logs and test failures.
 *
 * @example Usage
 * ```ts
 * import { decodePacket, describePacket } from "./packet.ts";
 * describePacket(decodePacket(new Uint8Array([0, 4, 0, 7]))); // "ACK 7"
 * ```
 */
export function describePacket(packet: Packet | Malformed): string {
  switch (packet.type) {
    case "RRQ":
    case "WRQ": {
      const options = [...packet.options].map(([name, value]) => ` ${name}=${value}`).join("");
      return `${packet.type} ${JSON.stringify(packet.filename)} ${packet.mode}${options}`;
    }
    case "DATA":
      return `DATA ${packet.block} (${packet.data.length} bytes)`;
    case "ACK":
      return `ACK ${packet.block}`;
    case "ERROR":
      return `ERROR ${packet.code} ${JSON.stringify(packet.message)}`;
    case "OACK":
      return `OACK${[...packet.options].map(([name, value]) => ` ${name}=${value}`).join("")}`;
    case "malformed":
      return `malformed (${packet.reason})`;
  }
}
