/**
 * The TFTP client: `get` (RRQ: this side receives) and `put` (WRQ: this side
 * sends), over the same state machines the server uses. The request is
 * repeated until the server answers; its first answer fixes the server's
 * transfer ID and, when it is an OACK, the negotiated options (a server that
 * answers with DATA or ACK 0 instead ignored them: RFC 1350 settings apply).
 * A downloaded file appears under its name only once complete.
 *
 * @module
 */

import { type HostPort, sameAddress } from "../net/address.ts";
import { AtomicFile } from "../fs/atomic_file.ts";
import { openTransferLink, resolveBackend, type UdpBackendChoice } from "./backend.ts";
import { type BlockSink, type BlockSource, fileSink, fileSource } from "./block_io.ts";
import { errorPacketFor, tftpError, tftpInfo, timeoutError } from "./errors.ts";
import { acceptOack, DEFAULT_SETTINGS, requestOptions, type TransferSettings } from "./options.ts";
import {
  blockOf,
  decodePacket,
  encodeAck,
  encodeError,
  encodeRequest,
  ErrorCode,
  Opcode,
  opcodeOf,
  type OptionMap,
} from "./packet.ts";
import { type RetransmitOptions, RetransmitTimer } from "./rto.ts";
import { throwPeerError, type TransferStats } from "./sender.ts";
import type { TransferLink, UdpBackend } from "./transfer_link.ts";

/** Options for {@linkcode tftpGet}, {@linkcode tftpPut} and the file helpers. */
export interface TftpClientOptions {
  /** Transfer mode: bytes as they are, or text with line ends converted.
   * @default {"octet"} */
  mode?: "octet" | "netascii";
  /** Block size to ask for (8..65464). 1468 fills an Ethernet frame.
   * @default {1468} */
  blksize?: number;
  /** Blocks per window to ask for (RFC 7440), clamped to fit a socket buffer.
   * @default {32} */
  windowsize?: number;
  /** Ask for a fixed retransmit timeout of this many seconds (1..255), used
   * to repeat the request and, if the server grants it, for the whole
   * transfer; otherwise the timer follows the measured round-trip time. */
  timeoutSeconds?: number;
  /** Retransmissions of one packet in a row before giving up. A count given
   * here is exact; the default 6 is stretched, with the adaptive timer, until
   * the server has been silent for 5 s.
   * @default {6} */
  retries?: number;
  /** Ask for (get) or announce (put) the transfer size.
   * @default {true} */
  tsize?: boolean;
  /** Send a plain RFC 1350 request, without any option (for servers that choke on them).
   * @default {false} */
  noOptions?: boolean;
  /** Tuning of the adaptive timer (bounds, initial value). */
  retransmit?: Omit<RetransmitOptions, "timeoutMs" | "retries">;
  /** How the datagrams move: `ffi` (blocking libc calls in a thread of its own; 64-bit Linux with
   * glibc and `--allow-ffi`), `deno` (`Deno.listenDatagram`), or `auto` (ffi where it can run).
   * @default {"auto"} */
  udpBackend?: UdpBackendChoice;
  /** Gives up (telling the server) when aborted. */
  signal?: AbortSignal;
  /** Called with the bytes moved so far and, when the size is known, the total. */
  onProgress?: (bytes: number, total: number | undefined) => void;
}

/** What a finished client transfer did. */
export interface TftpResult extends TransferStats {
  /** The settings the transfer ran with (after negotiation). */
  settings: TransferSettings;
  /** Milliseconds from the first request to the final ACK. */
  durationMs: number;
  /** The server's transfer ID. */
  server: HostPort;
  /** The UDP backend that moved the data. */
  backend: UdpBackend;
}

const DEFAULTS = { blksize: 1468, windowsize: 32 };

/**
 * Downloads `remote` from `server` into `sink` (RRQ). `finish` runs after
 * the final ACK, while the client stays a moment to repeat that ACK if the
 * server did not hear it (downloadFile commits its file there).
 *
 * @example Usage
 * ```ts
 * import { tftpGet } from "./client.ts";
 * import { memorySink } from "./block_io.ts";
 * const sink = memorySink();
 * await tftpGet({ hostname: "127.0.0.1", port: 6969 }, "pxelinux.0", sink);
 * console.log(sink.bytes().length);
 * ```
 */
export async function tftpGet(
  server: HostPort,
  remote: string,
  sink: BlockSink,
  options: TftpClientOptions & { finish?: () => Promise<void> } = {},
): Promise<TftpResult> {
  // A server cannot tell a netascii file's size on the wire without converting it (tftpd-hpa refuses to try).
  const tsize = mode(options) === "octet" ? 0 : undefined;
  return await transfer(server, "RRQ", remote, tsize, options, async (link, timer, first, settings) => {
    // `request` took only an OACK or DATA 1 for the answer.
    const opcode = opcodeOf(first);
    const result = await link.receiveBlocks(sink, {
      settings,
      timer,
      opening: opcode === Opcode.OACK ? encodeAck(0) : undefined,
      first: opcode === Opcode.DATA ? first : undefined,
      signal: options.signal,
      peerName: "server",
      onProgress: progress(options, settings.tsize),
    });
    const done = performance.now();
    // Meanwhile, answer a final DATA that comes again because our ACK was lost: long enough for a server
    // whose timer is like ours to retransmit three times (after 1, 3 and 7 timeouts), not just once.
    const staying = link.dally(result.finalAck, Math.min(1000, 8 * timer.timeoutMs));
    await options.finish?.();
    await staying;
    return { bytes: result.bytes, blocks: result.blocks, retransmitted: result.retransmitted, done };
  });
}

/**
 * Uploads what `source` holds to `remote` on `server` (WRQ). `size`, when
 * known, is announced with `tsize` so that a server can refuse up front.
 *
 * @example Usage
 * ```ts
 * import { tftpPut } from "./client.ts";
 * import { bytesSource } from "./block_io.ts";
 * const data = new TextEncoder().encode("hello");
 * await tftpPut({ hostname: "127.0.0.1", port: 6969 }, "hello.txt", bytesSource(data), { size: data.length });
 * ```
 */
export async function tftpPut(
  server: HostPort,
  remote: string,
  source: BlockSource,
  options: TftpClientOptions & { size?: number } = {},
): Promise<TftpResult> {
  // A netascii upload's size on the wire is unknown before conversion.
  const size = mode(options) === "octet" ? options.size : undefined;
  // `request` takes only an OACK or ACK 0 for the answer, and `transfer` checks an OACK.
  return await transfer(server, "WRQ", remote, size, options, async (link, timer, _first, settings) => {
    const result = await link.sendBlocks(source, {
      settings,
      timer,
      signal: options.signal,
      peerName: "server",
      onProgress: progress(options, size),
    });
    return { ...result, done: performance.now() };
  });
}

/**
 * One client transfer: opens the socket, sends the request, checks an OACK,
 * then lets `run` move the data; closes the socket whatever happens.
 */
async function transfer(
  server: HostPort,
  type: "RRQ" | "WRQ",
  remote: string,
  tsize: number | undefined,
  options: TftpClientOptions,
  run: (
    link: TransferLink,
    timer: RetransmitTimer,
    first: Uint8Array,
    settings: TransferSettings,
  ) => Promise<TransferStats & { done: number }>,
): Promise<TftpResult> {
  const started = performance.now();
  const link = await openLink(server, options);
  try {
    const asked = newTimer(options);
    const [first, requested] = await request(link, server, type, remote, clientOptions(options, tsize), asked, options);
    const settings = opcodeOf(first) === Opcode.OACK
      ? await checkOack(link, first, requested)
      : { ...DEFAULT_SETTINGS };
    // The data phase runs on the timeout the server granted; one it declined (or ignored) is not ours to keep.
    const timer = asked.withTimeout(settings.timeoutMs);
    const { done, ...stats } = await run(link, timer, first, settings);
    return { ...stats, settings, durationMs: done - started, server: link.peer!, backend: link.backend };
  } finally {
    await link.close();
  }
}

/**
 * Downloads `remote` into the file `localPath`, which appears only once the
 * transfer is complete (a failure leaves nothing under that name; an existing
 * file is replaced only on success).
 *
 * @example Usage
 * ```ts
 * import { downloadFile } from "./client.ts";
 * const result = await downloadFile({ hostname: "127.0.0.1", port: 6969 }, "boot.img", "/tmp/boot.img");
 * console.log(result.bytes);
 * ```
 */
export async function downloadFile(
  server: HostPort,
  remote: string,
  localPath: string,
  options: TftpClientOptions = {},
): Promise<TftpResult> {
  await using file = await AtomicFile.create(localPath);
  return await tftpGet(server, remote, await fileSink(file, { mode: mode(options), blksize: blksize(options) }), {
    ...options,
    finish: async () => void await file.commit(),
  });
}

/**
 * Uploads the file `localPath` as `remote`, announcing its size.
 *
 * @example Usage
 * ```ts
 * import { uploadFile } from "./client.ts";
 * await uploadFile({ hostname: "127.0.0.1", port: 6969 }, "/tmp/report.txt", "report.txt", { mode: "netascii" });
 * ```
 */
export async function uploadFile(
  server: HostPort,
  localPath: string,
  remote: string,
  options: TftpClientOptions = {},
): Promise<TftpResult> {
  using file = await Deno.open(localPath, { read: true });
  const { size } = await file.stat();
  const source = await fileSource(file, localPath, { mode: mode(options), blksize: blksize(options) });
  return await tftpPut(server, remote, source, { ...options, size });
}

function mode(options: TftpClientOptions): "octet" | "netascii" {
  return options.mode ?? "octet";
}

/** The block size asked for (the server may grant less), for sizing file chunks. */
function blksize(options: TftpClientOptions): number {
  return options.noOptions ? 512 : options.blksize ?? DEFAULTS.blksize;
}

function clientOptions(options: TftpClientOptions, tsize: number | undefined): OptionMap {
  if (options.noOptions) return new Map();
  return requestOptions({
    blksize: options.blksize ?? DEFAULTS.blksize,
    windowsize: options.windowsize ?? DEFAULTS.windowsize,
    timeoutSeconds: options.timeoutSeconds,
    tsize: options.tsize === false || tsize === undefined ? false : tsize,
  });
}

/** The request's timer: the timeout asked for, if any, since none is granted yet. */
function newTimer(options: TftpClientOptions): RetransmitTimer {
  return new RetransmitTimer({
    ...options.retransmit,
    retries: options.retries,
    timeoutMs: options.timeoutSeconds === undefined ? undefined : options.timeoutSeconds * 1000,
  });
}

function openLink(server: HostPort, options: TftpClientOptions): Promise<TransferLink> {
  const hostname = server.hostname.includes(":") ? "::" : "0.0.0.0";
  return openTransferLink({ backend: resolveBackend(options.udpBackend), hostname, signal: options.signal });
}

function progress(options: TftpClientOptions, total: number | undefined): ((bytes: number) => void) | undefined {
  const onProgress = options.onProgress;
  return onProgress && ((bytes) => onProgress(bytes, total));
}

/**
 * Sends the request until the server answers, and returns its first answer
 * (a copy), having fixed the link to the server's transfer ID. A server that
 * refuses the options (error 8) is asked again without any, as RFC 2347
 * allows; the options actually requested come back with the answer.
 */
async function request(
  link: TransferLink,
  server: HostPort,
  type: "RRQ" | "WRQ",
  remote: string,
  requested: OptionMap,
  timer: RetransmitTimer,
  options: TftpClientOptions,
): Promise<[Uint8Array, OptionMap]> {
  try {
    return [
      await requestOnce(link, server, encodeRequest(type, remote, mode(options), requested), timer, options),
      requested,
    ];
  } catch (error) {
    if (requested.size === 0 || tftpInfo(error)?.tftpCode !== ErrorCode.optionNegotiation) throw error;
    const plain = new Map();
    return [await requestOnce(link, server, encodeRequest(type, remote, mode(options), plain), timer, options), plain];
  }
}

async function requestOnce(
  link: TransferLink,
  server: HostPort,
  packet: Uint8Array,
  timer: RetransmitTimer,
  options: TftpClientOptions,
): Promise<Uint8Array> {
  const literal = /^[\d.]+$|:/.test(server.hostname);
  let sentAt = performance.now();
  let repeated = false;
  link.sendTo(packet, server);
  timer.arm();
  while (true) {
    const datagram = await link.receiveDatagram(timer.remainingMs);
    if (datagram === null) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (!timer.expired()) throw timeoutError("server", timer.retransmissions, timer.silentMs);
      timer.arm();
      link.sendTo(packet, server);
      sentAt = performance.now();
      repeated = true;
      continue;
    }
    // Only the server's host may answer (a name cannot be compared: its first answer is taken).
    if (literal && !sameAddress({ ...datagram.from, port: 0 }, { hostname: server.hostname, port: 0 })) continue;
    const opcode = opcodeOf(datagram.data);
    if (opcode === Opcode.ERROR) throwPeerError(datagram.data, "server");
    // Only what can open this transfer: anything else is a stranger's (say, a transfer that went on after
    // its client left, still sending to a port since reused for this request).
    if (!opensTransfer(packet, datagram.data)) continue;
    if (!repeated) timer.sample(performance.now() - sentAt);
    timer.progress();
    link.connect(datagram.from);
    return datagram.data.slice();
  }
}

/** Whether `answer` can be a server's first answer to `request`: an OACK, DATA 1 to a read, ACK 0 to a write. */
function opensTransfer(request: Uint8Array, answer: Uint8Array): boolean {
  const opcode = opcodeOf(answer);
  if (opcode === Opcode.OACK) return true;
  if (opcodeOf(request) === Opcode.RRQ) return opcode === Opcode.DATA && answer.length >= 4 && blockOf(answer) === 1;
  return opcode === Opcode.ACK && answer.length === 4 && blockOf(answer) === 0;
}

async function checkOack(link: TransferLink, packet: Uint8Array, requested: OptionMap): Promise<TransferSettings> {
  const oack = decodePacket(packet);
  if (oack.type !== "OACK") {
    throw await protocolError(link, `sent a malformed OACK (${oack.type === "malformed" ? oack.reason : oack.type})`);
  }
  const check = acceptOack(oack.options, requested);
  if (!check.ok) {
    await link.send(encodeError(ErrorCode.optionNegotiation, check.message));
    throw tftpError(ErrorCode.optionNegotiation, `option negotiation failed: ${check.message}`);
  }
  return check.settings;
}

/** Tells the server it broke the protocol (error 4) and returns the error to throw. */
async function protocolError(link: TransferLink, what: string): Promise<Error> {
  const error = tftpError(ErrorCode.illegalOperation, `the server ${what}`);
  await link.send(errorPacketFor(error));
  return error;
}
