/**
 * UDP raw mode, for the tutorials' UDP upload client: every datagram from a
 * sender is appended to that sender's file until it sends `bye`, which stores
 * the file (atomically, under a generated name). A sender silent for the idle
 * timeout has its data discarded. UDP does not resend what it loses, so a
 * stored file may lack datagrams the network dropped: for a reliable transfer
 * over UDP use TFTP.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { join, relative, sep } from "node:path";
import { AtomicFile } from "../fs/atomic_file.ts";
import { fsReason } from "../fs/fs_error.ts";
import { formatAddress, type HostPort } from "../net/address.ts";
import { closeQuietly } from "../net/errors.ts";
import { DatagramReader } from "../net/udp.ts";
import { formatBytes, formatDuration, formatRate } from "../text/format.ts";
import { partialPath, randomKey } from "./partial.ts";
import { formatReply } from "./protocol.ts";
import { rawName, storageCode } from "./session.ts";

/** Options for {@linkcode serveUdpRaw}. */
export interface UdpRawOptions {
  /** The folder files are stored in (must exist). */
  dir: string;
  /** Discard a sender's data after this many milliseconds without a datagram from it.
   * @default {30000} */
  idleTimeoutMs?: number;
  /** Largest file accepted from one sender, in bytes; past it the sender's data is discarded.
   * @default {Infinity} */
  maxSize?: number;
  /** Senders served at once; datagrams from more are dropped.
   * @default {128} */
  maxSenders?: number;
  /** Flush files to disk before counting them stored.
   * @default {true} */
  fsync?: boolean;
  /** Stops serving (and discards unfinished files) when aborted. */
  signal?: AbortSignal;
  /** Log line sink. */
  log?: (line: string) => void;
  /** Kept up to date with the temporary files being written (for the sweep of old partial uploads). */
  inUse?: Set<string>;
}

interface Sender {
  from: HostPort;
  file: AtomicFile;
  hash: Hash;
  started: number;
  lastSeen: number;
  bytes: number;
  staged: Uint8Array;
  stagedBytes: number;
  writing: Promise<void>;
  inFlight: number;
  failed: unknown;
}

const STAGE_BYTES = 128 * 1024;
// Past this much data waiting for the disk, stop receiving until it drains (the kernel then drops datagrams).
const MAX_IN_FLIGHT = 8 * 1024 * 1024;
const SWEEP_MS = 1000;
const BYE = /^bye\s*$/i;

/**
 * Serves UDP raw uploads on `socket` until `signal` aborts; closes the socket.
 *
 * @example Usage
 * ```ts
 * import { listenUdp } from "../net/udp.ts";
 * import { serveUdpRaw } from "./udp_raw.ts";
 * const dir = await Deno.makeTempDir();
 * const controller = new AbortController();
 * const socket = listenUdp({ hostname: "127.0.0.1", port: 0 });
 * const finished = serveUdpRaw(socket, { dir, signal: controller.signal, log: console.log });
 * controller.abort();
 * await finished;
 * ```
 */
export async function serveUdpRaw(socket: Deno.DatagramConn, options: UdpRawOptions): Promise<void> {
  const log = options.log ?? (() => {});
  const idleMs = options.idleTimeoutMs ?? 30_000;
  const maxSize = options.maxSize ?? Infinity;
  const maxSenders = options.maxSenders ?? 128;
  const senders = new Map<string, Sender>();
  // Senders whose data was discarded for size: the rest of what they send is dropped until "bye" or silence.
  const refused = new Map<string, number>();
  const stop = () => closeQuietly(socket);
  if (options.signal?.aborted) stop();
  options.signal?.addEventListener("abort", stop, { once: true });
  let refusedSenders = 0;
  const finishing = new Set<Promise<void>>();

  const discard = async (sender: Sender, why: string) => {
    senders.delete(formatAddress(sender.from));
    await sender.writing;
    await sender.file.abort();
    options.inUse?.delete(sender.file.tempPath);
    log(`upload: udp ${formatAddress(sender.from)} discarded ${formatBytes(sender.bytes)}: ${why}`);
  };
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const [key, lastSeen] of refused) if (now - lastSeen > idleMs) refused.delete(key);
    for (const sender of senders.values()) {
      if (now - sender.lastSeen > idleMs) {
        discard(sender, `no datagram for ${formatDuration(idleMs)} and no "bye"`).catch(() => {});
      }
    }
  }, Math.min(SWEEP_MS, idleMs));

  const reader = new DatagramReader(socket, { reuseBuffer: 65536 });
  try {
    while (true) {
      const datagram = await reader.receive();
      if (!datagram) break;
      const key = formatAddress(datagram.from);
      let sender = senders.get(key);
      const bye = datagram.data.length <= 8 && BYE.test(new TextDecoder().decode(datagram.data));
      if (refused.has(key)) {
        if (bye) refused.delete(key);
        else refused.set(key, Date.now());
        continue;
      }
      if (bye) {
        if (sender) {
          senders.delete(key);
          // Stored in the background: one sender's flush to disk does not hold up the others' datagrams.
          const task = finish(sender, socket, options, log).finally(() => finishing.delete(task));
          finishing.add(task);
        }
        continue;
      }
      if (!sender) {
        if (senders.size >= maxSenders) {
          if (refusedSenders++ === 0) log(`upload: udp ${key} dropped: already ${maxSenders} senders at once`);
          continue;
        }
        try {
          sender = await startSender(datagram.from, options);
        } catch (error) {
          log(`upload: udp ${key} cannot store: ${(error as Error).message}`);
          continue;
        }
        senders.set(key, sender);
        log(`upload: udp ${key} started a raw upload`);
      }
      sender.lastSeen = Date.now();
      if (sender.bytes + datagram.data.length > maxSize) {
        refused.set(key, Date.now());
        await discard(sender, `more than the ${formatBytes(maxSize)} allowed`);
        continue;
      }
      stage(sender, datagram.data);
      if (sender.failed) await discard(sender, `cannot write: ${(sender.failed as Error).message}`);
      else if (sender.inFlight > MAX_IN_FLIGHT) await sender.writing;
    }
  } finally {
    clearInterval(sweeper);
    options.signal?.removeEventListener("abort", stop);
    closeQuietly(socket);
    await reader.closed;
    await Promise.all(finishing);
    for (const sender of [...senders.values()]) await discard(sender, "the server is shutting down");
  }
}

async function startSender(from: HostPort, options: UdpRawOptions): Promise<Sender> {
  const path = join(options.dir, rawName(new Date(), from, "udp"));
  const file = await AtomicFile.create(path, { tempPath: partialPath(path, randomKey()), fsync: options.fsync });
  options.inUse?.add(file.tempPath);
  const now = Date.now();
  return {
    from,
    file,
    hash: createHash("sha256"),
    started: now,
    lastSeen: now,
    bytes: 0,
    staged: new Uint8Array(STAGE_BYTES),
    stagedBytes: 0,
    writing: Promise.resolve(),
    inFlight: 0,
    failed: undefined,
  };
}

// Copies a datagram into the sender's staging buffer; a full buffer goes to disk behind the earlier ones.
function stage(sender: Sender, data: Uint8Array): void {
  sender.hash.update(data);
  sender.bytes += data.length;
  if (sender.stagedBytes + data.length > sender.staged.length) flush(sender);
  sender.staged.set(data, sender.stagedBytes);
  sender.stagedBytes += data.length;
}

function flush(sender: Sender): void {
  if (sender.stagedBytes === 0) return;
  const chunk = sender.staged.subarray(0, sender.stagedBytes);
  sender.staged = new Uint8Array(STAGE_BYTES);
  sender.stagedBytes = 0;
  sender.inFlight += chunk.length;
  sender.writing = sender.writing.then(async () => {
    if (sender.failed) return;
    try {
      await sender.file.write(chunk);
    } catch (error) {
      sender.failed = error;
    } finally {
      sender.inFlight -= chunk.length;
    }
  });
}

async function finish(
  sender: Sender,
  socket: Deno.DatagramConn,
  options: UdpRawOptions,
  log: (line: string) => void,
): Promise<void> {
  const peer = formatAddress(sender.from);
  flush(sender);
  await sender.writing;
  let reply: string;
  if (sender.failed) {
    await sender.file.abort();
    const why = `cannot write: ${(sender.failed as Error).message}`;
    log(`upload: udp ${peer} failed after ${formatBytes(sender.bytes)}: ${why}; nothing stored`);
    reply = formatReply({ kind: "error", code: storageCode(sender.failed), message: why });
  } else {
    try {
      const stored = await sender.file.commit({ onConflict: "rename" });
      const name = relative(options.dir, stored).split(sep).join("/");
      const sha256 = sender.hash.digest("hex");
      const ms = Date.now() - sender.started;
      log(
        `upload: udp ${peer} stored raw upload as "${name}" ${formatBytes(sender.bytes)} in ${formatDuration(ms)} ` +
          `(${formatRate(sender.bytes, ms)}), sha256 ${sha256} (UDP: datagrams lost on the way are missing)`,
      );
      reply = formatReply({ kind: "ok", size: sender.bytes, sha256, name });
    } catch (error) {
      await sender.file.abort();
      log(`upload: udp ${peer} failed: ${fsReason(error)}`);
      reply = formatReply({ kind: "error", code: storageCode(error), message: `cannot store: ${fsReason(error)}` });
    }
  }
  options.inUse?.delete(sender.file.tempPath);
  // The tutorials' clients do not read it; others may like to know.
  await socket.send(new TextEncoder().encode(reply), { transport: "udp", ...sender.from }).catch(() => {});
}
