/**
 * UDP sockets through libc (`Deno.dlopen`), with BLOCKING calls: for a
 * worker thread that owns one socket and wants each datagram to cost one
 * system call rather than a trip through Deno's async runtime (measured: a
 * lock-step round trip costs about 11 µs of CPU this way, 30 through
 * `Deno.listenDatagram`). Never use these on a thread that has other work:
 * a receive blocks the whole thread until a datagram, the timeout or a wake.
 *
 * Linux only (the `sockaddr_in`/`sockaddr_in6`, `pollfd` and `mmsghdr`
 * layouts below are those of 64-bit Linux), and only with `--allow-ffi`;
 * {@linkcode libcUdpAvailable} says whether they can run, without prompting.
 *
 * The foreign surface is kept small and checked: every buffer handed to libc
 * is a JS-owned `Uint8Array` passed with its own length; the only pointers
 * stored in memory (the batch send's `mmsghdr`/`iovec` tables) point into
 * buffers this socket owns for its whole life; nothing else keeps a pointer
 * across calls.
 *
 * @module
 */

import type { HostPort } from "./address.ts";
import { bindError } from "./errors.ts";
import { callError, errno, ownedBuffer } from "./libc.ts";
import { formatIp, parseIp } from "./ip.ts";

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  recvfrom: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "buffer"], result: "isize" },
  poll: { parameters: ["buffer", "usize", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

// Linux constants (the same on x86_64 and aarch64).
const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const POLLIN = 0x1;
const EFD_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;
const EINTR = 4;
const EAGAIN = 11;
const SOCKADDR_IN = 16;
const SOCKADDR_IN6 = 28;
const MMSGHDR = 64; // struct msghdr (56) + msg_len (4) + padding
const IOVEC = 16;
const MAX_BATCH = 64;

/** `receive` found nothing within the timeout. */
export const TIMED_OUT: number = -1;
/** `receive` was interrupted by the wake descriptor. */
export const WOKEN: number = -2;

let loaded: Libc | null | undefined;

/** libc's symbols on this thread, or null when they cannot be had (not Linux, no --allow-ffi, no glibc). */
function tryLibc(): Libc | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  const arch = Deno.build.arch as string;
  if (Deno.build.os !== "linux" || (arch !== "x86_64" && arch !== "aarch64")) return loaded;
  // Query, never request: an interactive run must not be asked for FFI access.
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return loaded;
  try {
    loaded = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  } catch {
    loaded = null;
  }
  return loaded;
}

function libc(): Libc {
  const symbols = tryLibc();
  if (!symbols) {
    throw new Deno.errors.NotSupported(
      "UDP through libc needs 64-bit Linux with glibc and --allow-ffi (use the deno backend instead)",
    );
  }
  return symbols;
}

/**
 * Whether libc UDP sockets can be used here: 64-bit Linux with glibc, and
 * FFI access granted (`--allow-ffi`). Never prompts for the permission.
 *
 * @example Usage
 * ```ts
 * import { libcUdpAvailable } from "./libc_udp.ts";
 * console.log(libcUdpAvailable() ? "blocking libc UDP" : "Deno.listenDatagram");
 * ```
 */
export function libcUdpAvailable(): boolean {
  return tryLibc() !== null;
}

/** The address of an owned buffer's first byte, as a number (user-space addresses fit in 53 bits). */
function addressOf(buffer: Uint8Array): number {
  return Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer)));
}

function setPointer(view: DataView, offset: number, pointer: number): void {
  view.setUint32(offset, pointer % 0x1_0000_0000, true);
  view.setUint32(offset + 4, Math.floor(pointer / 0x1_0000_0000), true);
}

/**
 * A socket address (`struct sockaddr_in` or `sockaddr_in6`) in a buffer of
 * its own, for sending to and for recognising a sender.
 *
 * @example Usage
 * ```ts
 * import { SocketAddress } from "./libc_udp.ts";
 * const server = SocketAddress.of({ hostname: "::1", port: 69 });
 * server.hostPort; // { hostname: "::1", port: 69 }
 * ```
 */
export class SocketAddress {
  /** The `sockaddr` bytes (16 for IPv4, 28 for IPv6). */
  readonly bytes: Uint8Array;

  private constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  /**
   * The socket address of an IP literal and port. `family` 6 turns an IPv4
   * address into its IPv4-mapped form (for an IPv6 socket); 4 accepts an
   * IPv4-mapped IPv6 address. Throws a `TypeError` for host names and for
   * IPv6 addresses on an IPv4 socket.
   */
  static of(address: HostPort, family?: 4 | 6): SocketAddress {
    let ip = parseIp(address.hostname);
    if (!ip) throw new TypeError(`"${address.hostname}" is not an IP address (names must be resolved first)`);
    if (family === 6 && ip.length === 4) ip = new Uint8Array([...new Uint8Array(10), 0xff, 0xff, ...ip]);
    if (family === 4 && ip.length === 16) {
      if (!isMapped(ip)) throw new TypeError(`Cannot reach the IPv6 address ${address.hostname} from an IPv4 socket`);
      ip = ip.slice(12);
    }
    const bytes = ownedBuffer(ip.length === 4 ? SOCKADDR_IN : SOCKADDR_IN6);
    const view = new DataView(bytes.buffer);
    view.setUint16(0, ip.length === 4 ? AF_INET : AF_INET6, true);
    view.setUint16(2, address.port);
    bytes.set(ip, ip.length === 4 ? 4 : 8);
    return new SocketAddress(bytes);
  }

  /** 4 or 6. */
  get family(): 4 | 6 {
    return this.bytes.length === SOCKADDR_IN ? 4 : 6;
  }

  /** The address as Deno would print it. */
  get hostPort(): HostPort {
    return decodeSockaddr(this.bytes);
  }

  /** Whether `raw`, a `sockaddr` the kernel filled in, is this address and port. */
  matches(raw: Uint8Array): boolean {
    const bytes = this.bytes;
    // Family (2 bytes) and port (2 bytes), then the address: 4 bytes at 4, or 16 at 8.
    for (let i = 0; i < 4; i++) if (raw[i] !== bytes[i]) return false;
    const [start, end] = bytes.length === SOCKADDR_IN ? [4, 8] : [8, 24];
    for (let i = start; i < end; i++) if (raw[i] !== bytes[i]) return false;
    return true;
  }
}

function isMapped(ip: Uint8Array): boolean {
  return ip.subarray(0, 10).every((byte) => byte === 0) && ip[10] === 0xff && ip[11] === 0xff;
}

function decodeSockaddr(raw: Uint8Array): HostPort {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const family = view.getUint16(0, true);
  const port = view.getUint16(2);
  if (family === AF_INET) return { hostname: formatIp(raw.slice(4, 8)), port };
  if (family === AF_INET6) return { hostname: formatIp(raw.slice(8, 24)), port };
  throw new TypeError(`Unexpected address family ${family}`);
}

/**
 * A UDP socket on libc with blocking calls: `receive` waits in `poll`
 * (for the socket and, optionally, a wake descriptor) with a timeout;
 * `sendAll` sends a burst with one `sendmmsg`.
 *
 * @example Usage
 * ```ts
 * import { BlockingUdpSocket, TIMED_OUT } from "./libc_udp.ts";
 * const socket = BlockingUdpSocket.bind({ hostname: "127.0.0.1", port: 0 });
 * const buffer = new Uint8Array(2048);
 * const length = socket.receive(buffer, 10); // TIMED_OUT: nothing within 10 ms
 * if (length >= 0) console.log(socket.sender, buffer.subarray(0, length));
 * socket.close();
 * ```
 */
export class BlockingUdpSocket {
  /** The local address. */
  readonly address: HostPort;
  /** The address family of the socket. */
  readonly family: 4 | 6;
  #libc: Libc;
  #fd: number;
  /** The sender of the datagram received last (`sockaddr`, as the kernel filled it). */
  readonly #from = ownedBuffer(SOCKADDR_IN6);
  readonly #fromLength = ownedBuffer(4);
  readonly #fromLengthView = new DataView(this.#fromLength.buffer);
  readonly #pollFds = ownedBuffer(16);
  readonly #pollView = new DataView(this.#pollFds.buffer);
  // Batch sends: MAX_BATCH headers, each with one iovec into the batch buffer and the name below.
  readonly #headers = ownedBuffer(MMSGHDR * MAX_BATCH);
  readonly #headerView = new DataView(this.#headers.buffer);
  readonly #iovecs = ownedBuffer(IOVEC * MAX_BATCH);
  readonly #iovecView = new DataView(this.#iovecs.buffer);
  readonly #batchName = ownedBuffer(SOCKADDR_IN6);
  #batch = ownedBuffer(0);
  #batchAddress = 0;

  private constructor(symbols: Libc, fd: number, family: 4 | 6) {
    this.#libc = symbols;
    this.#fd = fd;
    this.family = family;
    this.address = this.#localAddress();
    // The fixed part of the batch tables: header i names #batchName and points at iovec i.
    const iovecs = addressOf(this.#iovecs);
    const name = addressOf(this.#batchName);
    for (let i = 0; i < MAX_BATCH; i++) {
      setPointer(this.#headerView, MMSGHDR * i, name);
      setPointer(this.#headerView, MMSGHDR * i + 16, iovecs + IOVEC * i);
      this.#headerView.setBigUint64(MMSGHDR * i + 24, 1n, true); // msg_iovlen
    }
  }

  /**
   * Opens a UDP socket bound to `address` (an IP literal; port 0 picks a free
   * one). Throws, as `listenUdp` does, `Cannot bind to udp HOST:PORT: <reason>`
   * (`AddrInUse`, `PermissionDenied`, `AddrNotAvailable`...), or
   * `NotSupported` where libc sockets cannot be used.
   */
  static bind(address: HostPort): BlockingUdpSocket {
    const symbols = libc();
    const local = SocketAddress.of(address);
    const fd = symbols.socket(local.family === 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw bindError(callError("socket", errno(symbols)), "udp", address);
    if (symbols.bind(fd, local.bytes, local.bytes.length) !== 0) {
      const code = errno(symbols);
      symbols.close(fd);
      throw bindError(callError("bind", code), "udp", address);
    }
    return new BlockingUdpSocket(symbols, fd, local.family);
  }

  /** Whether the socket has been closed. */
  get closed(): boolean {
    return this.#fd < 0;
  }

  /** The socket address of `address` for this socket's family (IPv4 becomes IPv4-mapped on an IPv6 socket). */
  addressFor(address: HostPort): SocketAddress {
    return SocketAddress.of(address, this.family);
  }

  /** Sends one datagram. Throws the OS error (a closed socket sends nothing). */
  sendTo(packet: Uint8Array, to: SocketAddress): void {
    if (this.#fd < 0) return;
    const sent = this.#libc.sendto(this.#fd, packet, BigInt(packet.length), 0, to.bytes, to.bytes.length);
    if (Number(sent) < 0) throw callError("sendto", errno(this.#libc));
  }

  /**
   * Sends datagrams `packets[0..count)` to `to`, with as few `sendmmsg`
   * calls as it takes (they are copied into the socket's batch buffer first).
   */
  sendAll(packets: readonly Uint8Array[], count: number, to: SocketAddress): void {
    if (this.#fd < 0 || count <= 0) return;
    if (count === 1) return this.sendTo(packets[0], to);
    this.#batchName.set(to.bytes);
    for (let first = 0; first < count; first += MAX_BATCH) {
      const n = Math.min(MAX_BATCH, count - first);
      let total = 0;
      for (let i = 0; i < n; i++) total += packets[first + i].length;
      if (this.#batch.length < total) {
        this.#batch = ownedBuffer(Math.max(total, 2 * this.#batch.length));
        this.#batchAddress = addressOf(this.#batch);
      }
      let offset = 0;
      for (let i = 0; i < n; i++) {
        const packet = packets[first + i];
        this.#batch.set(packet, offset);
        setPointer(this.#iovecView, IOVEC * i, this.#batchAddress + offset);
        this.#iovecView.setBigUint64(IOVEC * i + 8, BigInt(packet.length), true);
        this.#headerView.setUint32(MMSGHDR * i + 8, to.bytes.length, true); // msg_namelen
        offset += packet.length;
      }
      for (let done = 0; done < n;) {
        const sent = this.#libc.sendmmsg(this.#fd, this.#headers.subarray(MMSGHDR * done), n - done, 0);
        if (sent < 0) {
          const code = errno(this.#libc);
          if (code === EINTR) continue;
          throw callError("sendmmsg", code);
        }
        done += sent;
      }
    }
  }

  /**
   * Waits up to `timeoutMs` (Infinity: no limit) for a datagram and copies it
   * into `into` (a longer one is cut to fit); returns its length, or
   * {@linkcode TIMED_OUT}, or {@linkcode WOKEN} when `wakeFd` became readable
   * first. {@linkcode sender} then tells who sent it. By default a datagram
   * already queued is taken without polling; `pollFirst` (when one is not
   * expected yet, say right after sending a request) saves that try.
   */
  receive(into: Uint8Array, timeoutMs: number, wakeFd = -1, pollFirst = false): number {
    const symbols = this.#libc;
    let deadline = -1;
    let read = !pollFirst;
    while (true) {
      if (this.#fd < 0) return TIMED_OUT;
      if (read) {
        this.#fromLengthView.setUint32(0, SOCKADDR_IN6, true);
        const length = Number(
          symbols.recvfrom(this.#fd, into, BigInt(into.length), MSG_DONTWAIT, this.#from, this.#fromLength),
        );
        if (length >= 0) return length;
        const code = errno(symbols);
        if (code !== EAGAIN && code !== EINTR) throw callError("recvfrom", code);
      }
      read = true;
      // The clock is read once per wait, not per datagram.
      let wait = timeoutMs;
      if (deadline < 0) {
        deadline = performance.now() + timeoutMs;
      } else {
        wait = deadline - performance.now();
        if (wait <= 0) return TIMED_OUT;
      }
      const ready = this.#poll(wait === Infinity ? -1 : Math.min(0x7fffffff, Math.ceil(Math.max(0, wait))), wakeFd);
      if (ready === WOKEN) return WOKEN;
      if (ready === 0) return TIMED_OUT; // poll waited the whole time
    }
  }

  /** Polls the socket and `wakeFd`: WOKEN if the latter is readable, else how many are ready (-3: interrupted). */
  #poll(timeoutMs: number, wakeFd: number): number {
    const view = this.#pollView;
    view.setInt32(0, this.#fd, true);
    view.setInt16(4, POLLIN, true);
    view.setInt16(6, 0, true);
    view.setInt32(8, wakeFd, true);
    view.setInt16(12, POLLIN, true);
    view.setInt16(14, 0, true);
    const ready = this.#libc.poll(this.#pollFds, wakeFd >= 0 ? 2n : 1n, timeoutMs);
    if (ready < 0) {
      const code = errno(this.#libc);
      if (code !== EINTR) throw callError("poll", code);
      return -3;
    }
    return wakeFd >= 0 && view.getInt16(14, true) !== 0 ? WOKEN : ready;
  }

  /** Whether the datagram received last came from `address`. */
  receivedFrom(address: SocketAddress): boolean {
    return address.matches(this.#from);
  }

  /** The sender of the datagram received last. */
  get sender(): HostPort {
    return decodeSockaddr(this.#from);
  }

  /** Closes the socket (once). */
  close(): void {
    if (this.#fd < 0) return;
    this.#libc.close(this.#fd);
    this.#fd = -1;
  }

  #localAddress(): HostPort {
    const raw = ownedBuffer(SOCKADDR_IN6);
    const length = ownedBuffer(4);
    new DataView(length.buffer).setUint32(0, SOCKADDR_IN6, true);
    if (this.#libc.getsockname(this.#fd, raw, length) !== 0) throw callError("getsockname", errno(this.#libc));
    return decodeSockaddr(raw);
  }
}

/**
 * An `eventfd` that a thread can poll alongside its socket and another thread
 * can make readable: how a worker blocked in {@linkcode BlockingUdpSocket.receive}
 * is woken at once (to abort) without waiting for its timeout. Once woken it
 * stays readable; use a new one for the next wait.
 *
 * @example Usage
 * ```ts
 * import { Waker } from "./libc_udp.ts";
 * const waker = new Waker();
 * // hand waker.fd to the worker; later, from this thread:
 * waker.wake();
 * waker.close(); // once the worker no longer polls it
 * ```
 */
export class Waker {
  #libc = libc();
  #fd: number;

  constructor() {
    this.#fd = this.#libc.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (this.#fd < 0) throw callError("eventfd", errno(this.#libc));
  }

  /** The descriptor to poll (-1 once closed). */
  get fd(): number {
    return this.#fd;
  }

  /** Makes the descriptor readable (for good). */
  wake(): void {
    if (this.#fd < 0) return;
    const one = ownedBuffer(8);
    one[0] = 1;
    this.#libc.write(this.#fd, one, 8n);
  }

  /** Closes the descriptor; only once no thread polls it any more. */
  close(): void {
    if (this.#fd < 0) return;
    this.#libc.close(this.#fd);
    this.#fd = -1;
  }
}
