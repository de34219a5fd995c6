/**
 * Option negotiation (RFC 2347): `blksize` (RFC 2348), `timeout` and `tsize`
 * (RFC 2349), `windowsize` (RFC 7440), plus tftpd-hpa's `utimeout` and
 * `rollover`. The server side picks what to grant from a request; the client
 * side builds a request and checks the server's OACK. Pure: no sockets.
 *
 * Windows are clamped so that one window fits in the receiver's socket buffer
 * (Linux's default is 212992 bytes, counted with per-datagram overhead):
 * a window that overruns it loses its tail every time, which is how atftpd
 * collapses at blksize 65464 × windowsize 8.
 *
 * @module
 */

import {
  DEFAULT_BLKSIZE,
  ErrorCode,
  MAX_BLKSIZE,
  type Mode,
  type OptionMap,
  type RequestPacket,
  type Rollover,
} from "./packet.ts";

/** What a transfer runs with once negotiation is over. */
export interface TransferSettings {
  /** Payload bytes per DATA packet; a shorter one ends the transfer. */
  blksize: number;
  /** DATA packets sent before waiting for an ACK (1: lock-step RFC 1350). */
  windowsize: number;
  /** A negotiated retransmit timeout in milliseconds, honoured exactly;
   * `undefined` lets the timer follow the measured round-trip time. */
  timeoutMs: number | undefined;
  /** The transfer's size in bytes, when known (`tsize`). */
  tsize: number | undefined;
  /** Block number after 65535. */
  rollover: Rollover;
}

/** RFC 1350's settings: 512-byte blocks, lock-step, adaptive timer. */
export const DEFAULT_SETTINGS: Readonly<TransferSettings> = {
  blksize: DEFAULT_BLKSIZE,
  windowsize: 1,
  timeoutMs: undefined,
  tsize: undefined,
  rollover: 0,
};

/** Socket receive buffer a window must fit in: 3/4 of Linux's default 212992 bytes. */
export const DEFAULT_WINDOW_BUDGET = 159_744;
/** The most blocks in one window RFC 7440 allows. */
export const MAX_WINDOWSIZE = 65535;

/**
 * Bytes one datagram of `payload` bytes takes in a Linux socket receive
 * buffer (the kernel charges its buffers, not just the payload): measured on
 * loopback as 1280 for a 512-byte block, 2304 for 1468, 16640 for 8192 and
 * about 71000 for 65464.
 */
export function datagramFootprint(payload: number): number {
  const packet = payload + 4 + 28; // TFTP header, UDP and IPv4 headers
  if (packet + 400 <= 16384) {
    // Small datagrams sit in one power-of-two allocation plus the skb itself.
    let size = 512;
    while (size < packet + 400) size *= 2;
    return size + 256;
  }
  return Math.ceil(packet * 1.09) + 1024;
}

/**
 * The largest window of `blksize` blocks that fits in `budget` bytes of
 * receive buffer (at least 1).
 *
 * @example Usage
 * ```ts
 * import { windowCap } from "./options.ts";
 * windowCap(512); // 124
 * windowCap(65464); // 2
 * ```
 */
export function windowCap(blksize: number, budget: number = DEFAULT_WINDOW_BUDGET): number {
  return Math.max(1, Math.min(MAX_WINDOWSIZE, Math.floor(budget / datagramFootprint(blksize))));
}

/** What a server is willing to grant. */
export interface ServerLimits {
  /** Largest block size granted (clients asking for more get this).
   * @default {65464} */
  maxBlksize?: number;
  /** Largest window granted (further clamped to fit `windowBudget`).
   * @default {64} */
  maxWindowsize?: number;
  /** Receive-buffer bytes a window may fill; see {@linkcode windowCap}.
   * @default {159744} */
  windowBudget?: number;
  /** Largest upload accepted, in bytes; a WRQ announcing more (`tsize`) is refused up front.
   * @default {Infinity} */
  maxUploadBytes?: number;
  /** Grant a client's `timeout` (and `utimeout`) option, and then retransmit at exactly that
   * interval. `false` declines it and keeps the timer that follows the round-trip time
   * (curl asks for a 6 s timeout on every request, so a lost packet would cost 6 s).
   * @default {true} */
  acceptTimeout?: boolean;
}

/** The server's answer to a request's options. */
export type Negotiation =
  | { ok: true; settings: TransferSettings; oack: OptionMap | undefined }
  | { ok: false; code: number; message: string };

/**
 * Decides which of a request's options to grant. Unknown options and values
 * out of range are ignored (the client then runs without them, as RFC 2347
 * allows); a larger `blksize` or `windowsize` than the server allows is
 * lowered. `fileSize` is the size of the file a RRQ reads, for `tsize`.
 * Without any granted option there is no OACK.
 *
 * @example Usage
 * ```ts
 * import { negotiate } from "./options.ts";
 * import { decodePacket, encodeRequest, type RequestPacket } from "./packet.ts";
 * const request = decodePacket(encodeRequest("RRQ", "a", "octet", new Map([["blksize", "1468"], ["tsize", "0"]])));
 * const result = negotiate(request as RequestPacket, 5000);
 * // { ok: true, settings: { blksize: 1468, tsize: 5000, ... }, oack: Map { "blksize" => "1468", "tsize" => "5000" } }
 * ```
 */
export function negotiate(request: RequestPacket, fileSize?: number, limits: ServerLimits = {}): Negotiation {
  const settings: TransferSettings = { ...DEFAULT_SETTINGS };
  const oack: OptionMap = new Map();
  const maxBlksize = Math.min(limits.maxBlksize ?? MAX_BLKSIZE, MAX_BLKSIZE);
  let windowsize: number | undefined;
  for (const [name, value] of request.options) {
    const number = Number(value);
    switch (name) {
      case "blksize":
        if (number >= 8) settings.blksize = Math.min(number, maxBlksize);
        else continue;
        oack.set(name, String(settings.blksize));
        break;
      case "windowsize":
        // Granted after the loop, once blksize is known, whatever order the options came in.
        if (number >= 1 && number <= MAX_WINDOWSIZE) windowsize = number;
        break;
      case "timeout":
        if (limits.acceptTimeout === false || number < 1 || number > 255 || request.options.has("utimeout")) continue;
        settings.timeoutMs = number * 1000;
        oack.set(name, value);
        break;
      case "utimeout":
        // tftpd-hpa's microsecond timeout: 10 ms to 255 s.
        if (limits.acceptTimeout === false || number < 10_000 || number > 255_000_000) continue;
        settings.timeoutMs = number / 1000;
        oack.set(name, value);
        break;
      case "tsize":
        if (request.type === "WRQ") {
          if (number > (limits.maxUploadBytes ?? Infinity)) {
            return {
              ok: false,
              code: ErrorCode.diskFull,
              message: `File too large: ${number} bytes, this server takes at most ${limits.maxUploadBytes}`,
            };
          }
          settings.tsize = number;
          oack.set(name, value);
        } else if (fileSize !== undefined && fileSize > 0 && request.mode === "octet") {
          // A netascii transfer's size on the wire is unknown until it has been converted;
          // curl refuses an OACK with tsize 0 (an empty DATA says as much).
          settings.tsize = fileSize;
          oack.set(name, String(fileSize));
        }
        break;
      case "rollover":
        if (value !== "0" && value !== "1") continue;
        settings.rollover = Number(value) as Rollover;
        oack.set(name, value);
        break;
    }
  }
  if (windowsize !== undefined) {
    settings.windowsize = Math.min(
      windowsize,
      limits.maxWindowsize ?? 64,
      windowCap(settings.blksize, limits.windowBudget),
    );
    oack.set("windowsize", String(settings.windowsize));
  }
  return { ok: true, settings, oack: oack.size > 0 ? oack : undefined };
}

/** What a client asks for. */
export interface RequestOptions {
  /** Block size to ask for (8..65464); 512 sends no `blksize` option. */
  blksize?: number;
  /** Window to ask for (1..65535, clamped to fit a socket buffer); 1 sends no `windowsize` option. */
  windowsize?: number;
  /** Retransmit timeout to ask for, in whole seconds (1..255); without it the timer adapts. */
  timeoutSeconds?: number;
  /** Ask for (RRQ, send 0) or announce (WRQ, the size) the transfer size.
   * `false` sends no `tsize` option. */
  tsize?: number | false;
}

/**
 * The options of a request. The window is clamped to what fits a socket buffer.
 *
 * @example Usage
 * ```ts
 * import { requestOptions } from "./options.ts";
 * requestOptions({ blksize: 1468, windowsize: 16, tsize: 0 });
 * // Map { "blksize" => "1468", "windowsize" => "16", "tsize" => "0" }
 * ```
 */
export function requestOptions(wanted: RequestOptions, budget: number = DEFAULT_WINDOW_BUDGET): OptionMap {
  const options: OptionMap = new Map();
  const blksize = wanted.blksize ?? DEFAULT_BLKSIZE;
  if (blksize !== DEFAULT_BLKSIZE) options.set("blksize", String(blksize));
  const windowsize = Math.min(wanted.windowsize ?? 1, windowCap(blksize, budget));
  if (windowsize > 1) options.set("windowsize", String(windowsize));
  if (wanted.timeoutSeconds !== undefined) options.set("timeout", String(wanted.timeoutSeconds));
  if (wanted.tsize !== undefined && wanted.tsize !== false) options.set("tsize", String(wanted.tsize));
  return options;
}

/** The client's verdict on an OACK. */
export type OackCheck = { ok: true; settings: TransferSettings } | { ok: false; message: string };

/**
 * Checks a server's OACK against what was requested (RFC 2347: a server may
 * only acknowledge options the client sent, and may only lower `blksize` and
 * `windowsize`) and returns the settings to run with.
 *
 * @example Usage
 * ```ts
 * import { acceptOack, requestOptions } from "./options.ts";
 * const requested = requestOptions({ blksize: 1468, tsize: 0 });
 * acceptOack(new Map([["blksize", "1024"], ["tsize", "4096"]]), requested);
 * // { ok: true, settings: { blksize: 1024, tsize: 4096, windowsize: 1, ... } }
 * ```
 */
export function acceptOack(oack: OptionMap, requested: OptionMap): OackCheck {
  const settings: TransferSettings = { ...DEFAULT_SETTINGS };
  for (const [name, value] of oack) {
    const asked = requested.get(name);
    const number = Number(value);
    const refuse = (why: string): OackCheck => ({ ok: false, message: `the server's ${name} ${value} ${why}` });
    if (asked === undefined) {
      // Harmless extras (tsize, unknown names) are ignored; a change we did not ask for is not.
      if (["blksize", "windowsize", "timeout", "utimeout", "rollover"].includes(name)) {
        return refuse("was not requested");
      }
      continue;
    }
    switch (name) {
      case "blksize":
        if (!(number >= 8 && number <= Number(asked))) return refuse(`is not between 8 and the ${asked} requested`);
        settings.blksize = number;
        break;
      case "windowsize":
        if (!(number >= 1 && number <= Number(asked))) return refuse(`is not between 1 and the ${asked} requested`);
        settings.windowsize = number;
        break;
      case "timeout":
        if (value !== asked) return refuse(`differs from the ${asked} requested`);
        settings.timeoutMs = number * 1000;
        break;
      case "utimeout":
        if (value !== asked) return refuse(`differs from the ${asked} requested`);
        settings.timeoutMs = number / 1000;
        break;
      case "tsize":
        if (!Number.isSafeInteger(number)) return refuse("is not a size");
        settings.tsize = number;
        break;
      case "rollover":
        if (value !== asked) return refuse(`differs from the ${asked} requested`);
        settings.rollover = number as Rollover;
        break;
    }
  }
  return { ok: true, settings };
}

/** Whether a mode is one wirebox transfers (`mail` is obsolete and refused). */
export function isSupportedMode(mode: Mode): mode is "octet" | "netascii" {
  return mode === "octet" || mode === "netascii";
}
