/**
 * What the TFTP tests share: test files with their SHA-256, our server
 * started in-process on a free port, the real peer servers (tftpd-hpa,
 * atftpd) started by PID on a free port and stopped by PID, and peer
 * clients run with a time limit.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join } from "node:path";
import { DatagramReader, listenUdp, udpAddress } from "../../lib/net/udp.ts";
import type { HostPort } from "../../lib/net/address.ts";
import { serveTftp, type TftpServer, type TftpServerOptions, type TransferRecord } from "../../lib/tftp/server.ts";
import { decodePacket, encodeRequest, type Malformed, type Packet } from "../../lib/tftp/packet.ts";
import { seededBytes } from "../_helpers/random.ts";
import { LIBC_MISSING } from "../_helpers/ffi.ts";
import { peerTest } from "../_helpers/peers.ts";
import type { UdpBackend } from "../../lib/tftp/transfer_link.ts";
import { transferThreadsAlive } from "../../lib/tftp/worker_link.ts";
// Type-checked with the tests, so that the first transfer thread does not stop to check it.
import type {} from "../../lib/tftp/transfer_worker.ts";
/** Runs a peer client; fails the test with its output if it exits non-zero or takes too long. */
export { runProgram as runPeer } from "../_helpers/run.ts";

/** The UDP backends every socket test runs against. */
export const BACKENDS: readonly UdpBackend[] = ["deno", "ffi"];

/**
 * Registers `fn` once per UDP backend, as `name [deno]` and `name [ffi]`; the
 * ffi one is registered as ignored, with the reason, where it cannot run, and
 * both as ignored when one of `programs` (real peers) is missing. Each run ends
 * by checking that no transfer thread outlived it.
 */
export function backendTest(
  name: string,
  fn: (backend: UdpBackend, t: Deno.TestContext) => Promise<void>,
  programs: string[] = [],
): void {
  for (const backend of BACKENDS) {
    const label = `${name} [${backend}]`;
    const run = async (t: Deno.TestContext) => {
      await fn(backend, t);
      assertNoThreads();
    };
    if (backend === "ffi" && LIBC_MISSING) {
      Deno.test({ name: `${label} (SKIPPED: ${LIBC_MISSING})`, ignore: true, fn: run });
    } else if (programs.length > 0) {
      peerTest(label, programs, run);
    } else {
      Deno.test(label, run);
    }
  }
}

/** Fails if a transfer thread is still alive (every server, client and link must have stopped theirs). */
export function assertNoThreads(): void {
  const alive = transferThreadsAlive();
  if (alive > 0) throw new Error(`${alive} transfer thread(s) still running`);
}

/** SHA-256 of bytes or of a file, in hex. */
export async function sha256(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? await Deno.readFile(data) : data;
  return createHash("sha256").update(bytes).digest("hex");
}

/** A temporary folder removed on dispose. */
export async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "wirebox-tftp-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}) };
}

/** Writes a file of `size` reproducible random bytes into `dir`; returns its path. */
export async function makeFile(dir: string, name: string, size: number, seed = size): Promise<string> {
  const path = join(dir, name);
  await Deno.writeFile(path, seededBytes(size, seed));
  return path;
}

/** Our server on a free loopback port, stopped (and awaited) on dispose. */
export interface RunningServer extends AsyncDisposable {
  server: TftpServer;
  address: HostPort;
  /** Every finished transfer, in order. */
  records: TransferRecord[];
  /**
   * Runs `action` and resolves with the record of the (first) transfer it
   * caused, or of the first one since then of `filename`: a download's record
   * may land after its client has exited, and must not be taken for the next one's.
   */
  recordOf(action: () => Promise<unknown>, filename?: string): Promise<TransferRecord>;
  /** Resolves once `count` transfers have finished. */
  waitForRecords(count: number): Promise<void>;
  /** Lines the server logged. */
  log: string[];
}

/** Starts our server in this process over `root`. */
export function startOurServer(root: string, options: Partial<TftpServerOptions> = {}): RunningServer {
  const controller = new AbortController();
  const records: TransferRecord[] = [];
  const log: string[] = [];
  let waiters: (() => void)[] = [];
  const server = serveTftp({
    root,
    hostname: "127.0.0.1",
    port: 0,
    signal: controller.signal,
    log: (line) => log.push(line),
    ...options,
  }, (record) => {
    records.push(record);
    const ready = waiters;
    waiters = [];
    for (const waiter of ready) waiter();
  });
  return {
    server,
    address: server.address,
    records,
    log,
    async waitForRecords(count) {
      while (records.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
    },
    async recordOf(action, filename) {
      const index = records.length;
      await action();
      const match = (record: TransferRecord) => filename === undefined || record.filename === filename;
      for (let count = index + 1;; count++) {
        await this.waitForRecords(count);
        if (match(records[count - 1])) return records[count - 1];
      }
    },
    async [Symbol.asyncDispose]() {
      controller.abort();
      await server.finished;
      if (server.threads > 0) throw new Error(`the server left ${server.threads} transfer thread(s) running`);
    },
  };
}

/** A port that was free a moment ago (for peers that need a number). */
export function freeUdpPort(): number {
  const socket = listenUdp({ hostname: "127.0.0.1", port: 0 });
  const { port } = udpAddress(socket);
  socket.close();
  return port;
}

const isRoot = Deno.uid() === 0;

/** A peer TFTP server process. */
export interface PeerServer extends AsyncDisposable {
  address: HostPort;
  /** The name to request for a file in the root (tftpd-hpa without chroot wants absolute names). */
  remote(name: string): string;
}

/**
 * Starts tftpd-hpa (`in.tftpd`) or atftpd in the foreground on a free loopback
 * port over `root` (uploads allowed; `extraArgs` go before the root), waits
 * until it answers, and stops it by PID on dispose.
 */
export async function startPeerServer(
  kind: "tftpd-hpa" | "atftpd" | "busybox",
  root: string,
  extraArgs: string[] = [],
): Promise<PeerServer> {
  const port = freeUdpPort();
  const user = isRoot ? "root" : Deno.env.get("USER") ?? "nobody";
  let args: string[];
  let program: string;
  if (kind === "tftpd-hpa") {
    program = "in.tftpd";
    // --secure chroots into the root, which needs root; otherwise names must be absolute.
    args = [
      "--foreground",
      "--address",
      `127.0.0.1:${port}`,
      "--user",
      user,
      "--create",
      "--permissive",
      "--blocksize",
      "65464",
      ...(isRoot ? ["--secure"] : []),
      ...extraArgs,
      root,
    ];
  } else if (kind === "busybox") {
    // busybox tftpd is started per request by udpsvd (as inetd would): -c allows uploads.
    program = "busybox-tftpd";
    args = ["udpsvd", "-E", "127.0.0.1", String(port), "busybox-tftpd", "tftpd", "-c", "-u", user, root];
  } else {
    program = "atftpd";
    args = [
      "--daemon",
      "--no-fork",
      "--port",
      String(port),
      "--bind-address",
      "127.0.0.1",
      "--user",
      user,
      "--group",
      isRoot ? "root" : user,
      "--logfile",
      "/dev/null",
      ...extraArgs,
      root,
    ];
  }
  const child = new Deno.Command(program, { args, stdin: "null", stdout: "null", stderr: "piped" }).spawn();
  const stderr = new Response(child.stderr).text();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await stderr;
  };
  const address = { hostname: "127.0.0.1", port };
  try {
    await waitUntilAnswering(address);
  } catch (error) {
    await stop();
    throw new Error(`${program} did not start: ${(error as Error).message}\n${await stderr}`);
  }
  return {
    address,
    remote: (name) => kind === "tftpd-hpa" && !isRoot ? join(root, name) : name,
    [Symbol.asyncDispose]: stop,
  };
}

/** Sends a read request for a missing file until the server answers (any answer). */
async function waitUntilAnswering(address: HostPort): Promise<void> {
  const socket = listenUdp({ hostname: "127.0.0.1", port: 0 });
  const reader = new DatagramReader(socket);
  try {
    const probe = encodeRequest("RRQ", "wirebox-probe-missing", "octet");
    for (let attempt = 0; attempt < 100; attempt++) {
      await socket.send(probe, { transport: "udp", ...address });
      if (await reader.receive(50)) return;
    }
    throw new Error("no answer within 5 s");
  } finally {
    socket.close();
    await reader.closed;
  }
}

/** A bare UDP socket that speaks TFTP packets by hand, for scripting misbehaving peers. */
export class RawPeer {
  readonly socket = listenUdp({ hostname: "127.0.0.1", port: 0 });
  #reader = new DatagramReader(this.socket);

  /** This socket's address. */
  get address(): HostPort {
    return udpAddress(this.socket);
  }

  /** Sends raw bytes. */
  async send(bytes: Uint8Array, to: HostPort): Promise<void> {
    await this.socket.send(bytes, { transport: "udp", ...to });
  }

  /** The next datagram, decoded, and who sent it; fails the test if none comes within `timeoutMs`. */
  async receive(timeoutMs = 5000): Promise<{ packet: Packet | Malformed; from: HostPort }> {
    const datagram = await this.#reader.receive(timeoutMs);
    if (!datagram) throw new Error(`no datagram within ${timeoutMs} ms`);
    return { packet: decodePacket(datagram.data.slice()), from: datagram.from };
  }

  /**
   * The next packet that is not a repeat: an ACK or DATA for a block below
   * `block` is skipped, since the other side retransmits on its own timer
   * when this (loaded) test is slow to answer.
   */
  async receiveFrom(block: number, timeoutMs = 5000): Promise<Packet | Malformed> {
    while (true) {
      const { packet } = await this.receive(timeoutMs);
      if ((packet.type === "ACK" || packet.type === "DATA") && packet.block < block) continue;
      return packet;
    }
  }

  /** The next datagram within `timeoutMs`, or null. */
  async maybeReceive(timeoutMs: number): Promise<Packet | Malformed | null> {
    const datagram = await this.#reader.receive(timeoutMs);
    return datagram ? decodePacket(datagram.data.slice()) : null;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.socket.close();
    await this.#reader.closed;
  }
}

/**
 * The SHA-256 of `path` once it equals `expected`, or its last value after
 * `timeoutMs`. Peer servers may acknowledge an upload's final block before
 * they have closed the file (atftpd does), so the test waits a moment.
 */
export async function settledSha256(path: string, expected: string, timeoutMs = 3000): Promise<string> {
  const until = performance.now() + timeoutMs;
  while (true) {
    const actual = await sha256(path).catch(() => "(missing)");
    if (actual === expected || performance.now() > until) return actual;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
