/**
 * Which UDP backend moves a transfer's datagrams, and opening a transfer's
 * socket on it.
 *
 * - `deno`: `Deno.listenDatagram`, the state machines on the event loop.
 *   Runs everywhere; each datagram costs a trip through Deno's async runtime
 *   (about 30 µs of CPU per lock-step block here).
 * - `ffi`: blocking libc calls (`poll`, `recvfrom`, `sendto`, `sendmmsg`) in
 *   a worker thread per transfer, which runs the state machines there and
 *   reads or writes a plain file itself. About a third of the CPU per block;
 *   64-bit Linux with glibc, and `--allow-ffi`.
 * - `auto` (the default): ffi where it can run, deno elsewhere.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { listenUdp } from "../net/udp.ts";
import { libcUdpAvailable } from "../net/libc_udp.ts";
import type { HostPort } from "../net/address.ts";
import { DenoTransferLink, type TransferLink, type UdpBackend } from "./transfer_link.ts";
import { type TransferWorkers, WorkerLink } from "./worker_link.ts";

/** A backend, or `auto`: ffi where it can run, deno elsewhere. */
export type UdpBackendChoice = UdpBackend | "auto";

/** The choices, for option parsers. */
export const UDP_BACKENDS: readonly UdpBackendChoice[] = ["auto", "ffi", "deno"];

/**
 * The backend `choice` comes to here. Throws `NotSupported` when ffi is
 * asked for where it cannot run.
 *
 * @example Usage
 * ```ts
 * import { resolveBackend } from "./backend.ts";
 * resolveBackend("auto"); // "ffi" on Linux with --allow-ffi, else "deno"
 * ```
 */
export function resolveBackend(choice: UdpBackendChoice = "auto"): UdpBackend {
  if (choice === "deno") return "deno";
  if (!libcUdpAvailable()) {
    if (choice === "auto") return "deno";
    throw new Deno.errors.NotSupported(
      "The ffi UDP backend needs 64-bit Linux with glibc and --allow-ffi: grant it, or use --udp-backend deno",
    );
  }
  if (!threadCanLoad()) {
    if (choice === "auto") return "deno";
    throw new Deno.errors.NotCapable(
      `The ffi UDP backend's thread loads wirebox's modules from ${fileURLToPath(LIB)}: ` +
        "grant --allow-read to it, or use --udp-backend deno",
    );
  }
  return "ffi";
}

const LIB = new URL("../", import.meta.url);

/**
 * Whether a transfer thread may load its modules: under `deno run` a
 * worker's modules are files read with the process's permissions (in the
 * compiled binary they are embedded).
 */
function threadCanLoad(): boolean {
  if (LIB.protocol !== "file:") return true;
  return Deno.permissions.querySync({ name: "read", path: LIB }).state === "granted";
}

/** Options for {@linkcode openTransferLink}. */
export interface OpenTransferLinkOptions {
  /** The backend (already resolved). */
  backend: UdpBackend;
  /** The local address to bind; the port is always a fresh one. */
  hostname: string;
  /** The peer's transfer ID, if known. */
  peer?: HostPort;
  /** Aborts whatever the link is doing. */
  signal?: AbortSignal;
  /** The ffi backend borrows its thread from here; when all are busy the transfer runs on the deno backend. */
  workers?: TransferWorkers;
}

/**
 * Opens a transfer's socket on `backend` (on deno when the ffi backend's
 * threads are all busy). Throws what binding throws.
 *
 * @example Usage
 * ```ts
 * import { openTransferLink } from "./backend.ts";
 * const link = await openTransferLink({ backend: "deno", hostname: "127.0.0.1" });
 * console.log(link.localAddress, link.backend);
 * await link.close();
 * ```
 */
export async function openTransferLink(options: OpenTransferLinkOptions): Promise<TransferLink> {
  const { hostname, peer, signal } = options;
  if (options.backend === "ffi") {
    const link = await WorkerLink.open({ hostname, peer, signal, workers: options.workers });
    if (link) return link;
  }
  return new DenoTransferLink(listenUdp({ hostname, port: 0 }), { peer, signal });
}
