/**
 * TCP client sockets through libc (`Deno.dlopen`), polled with epoll from one
 * synchronous loop: for the chat load generator, whose every received line
 * otherwise costs a trip through Deno's async runtime (measured on loopback,
 * one 64-byte line at a time: 13-17 µs of CPU per line with `conn.read`, more
 * than the server spends sending it; 8-11 µs this way, half of it the
 * kernel's). Never use this on a thread that has other work: `wait` blocks
 * the whole thread.
 *
 * Linux only (64-bit; the `epoll_event` layouts below are x86_64's and
 * aarch64's), and only with `--allow-ffi`.
 *
 * @module
 */

import type { HostPort } from "../../lib/net/address.ts";
import { callError, errno, ownedBuffer } from "../../lib/net/libc.ts";
import { SocketAddress } from "../../lib/net/libc_udp.ts";

// Results are declared i32 (they are byte counts below 2^31, or -1): a 64-bit
// result comes back as a number or a BigInt, and optimised code that has seen
// one deoptimises on the other, again and again.
const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  epoll_wait: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

// Linux constants (the same on x86_64 and aarch64).
const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EPOLL_CTL_MOD = 3;
const EPOLLIN = 0x1;
const EPOLLOUT = 0x4;
const EINTR = 4;
const EAGAIN = 11;
const MAX_EVENTS = 256;
// struct epoll_event is packed on x86_64 (u32 events, u64 data: 12 bytes), not on aarch64 (16).
const EVENT_BYTES = Deno.build.arch === "x86_64" ? 12 : 16;
const DATA_OFFSET = Deno.build.arch === "x86_64" ? 4 : 8;

/** `receive` found nothing to read now. */
export const WOULD_BLOCK = -1;

// size_t arguments are BigInts; made once per length rather than per call.
const sizes: bigint[] = [];
function size(length: number): bigint {
  return sizes[length] ??= BigInt(length);
}

/**
 * TCP connections, numbered from 0 in the order they were opened, and one
 * epoll set watching them: `wait` blocks until some are readable (or, when
 * asked, writable), then `ready`/`readyIndex`/`readyWritable` say which.
 * Sends and receives never block.
 *
 * @example Usage
 * ```ts
 * import { TcpClients, WOULD_BLOCK } from "./libc_tcp.ts";
 * const clients = new TcpClients();
 * const index = clients.connect({ hostname: "127.0.0.1", port: 9999 });
 * clients.send(index, new TextEncoder().encode("hello\n"));
 * const buffer = new Uint8Array(new ArrayBuffer(65536));
 * for (let k = 0, n = clients.wait(1000); k < n; k++) {
 *   const length = clients.receive(clients.readyIndex(k), buffer); // 0: closed; WOULD_BLOCK: nothing yet
 *   if (length > 0) console.log(buffer.subarray(0, length));
 * }
 * clients.close();
 * ```
 */
export class TcpClients {
  #library: Deno.DynamicLibrary<typeof SYMBOLS>;
  #libc: Libc;
  #epoll: number;
  #fds: number[] = [];
  #events = ownedBuffer(EVENT_BYTES * MAX_EVENTS);
  #eventView = new DataView(this.#events.buffer);
  #change = ownedBuffer(EVENT_BYTES);
  #changeView = new DataView(this.#change.buffer);

  /** Throws `NotSupported` where libc cannot be had (not 64-bit Linux, no glibc, no `--allow-ffi`). */
  constructor() {
    const arch = Deno.build.arch as string;
    if (Deno.build.os !== "linux" || (arch !== "x86_64" && arch !== "aarch64")) {
      throw new Deno.errors.NotSupported("TcpClients needs 64-bit Linux");
    }
    this.#library = Deno.dlopen("libc.so.6", SYMBOLS);
    this.#libc = this.#library.symbols;
    this.#epoll = this.#libc.epoll_create1(EPOLL_CLOEXEC);
    if (this.#epoll < 0) {
      const error = callError("epoll_create1", errno(this.#libc));
      this.#library.close();
      throw error;
    }
  }

  /** Connections opened so far. */
  get size(): number {
    return this.#fds.length;
  }

  /**
   * Opens a connection to `address` (an IP literal), waiting for it to be
   * established, with Nagle's algorithm off; returns its index. Watched for
   * input from now on.
   */
  connect(address: HostPort): number {
    const libc = this.#libc;
    const to = SocketAddress.of(address);
    const fd = libc.socket(to.family === 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw callError("socket", errno(libc));
    const one = ownedBuffer(4);
    one[0] = 1;
    let failed = "";
    if (libc.connect(fd, to.bytes, to.bytes.length) !== 0) failed = "connect";
    else if (libc.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, one, 4) !== 0) failed = "setsockopt";
    if (failed) {
      const code = errno(libc);
      libc.close(fd);
      throw callError(failed, code);
    }
    const index = this.#fds.push(fd) - 1;
    this.#control(EPOLL_CTL_ADD, index, EPOLLIN);
    return index;
  }

  /** Whether `wait` should also report connection `index` once it can take more output. */
  watchWritable(index: number, writable: boolean): void {
    if (this.#fds[index] >= 0) this.#control(EPOLL_CTL_MOD, index, writable ? EPOLLIN | EPOLLOUT : EPOLLIN);
  }

  /**
   * Blocks until some connection is ready or `timeoutMs` (rounded up to whole
   * milliseconds; 0 polls) has passed; returns how many are ready (0 on
   * timeout or interruption).
   */
  wait(timeoutMs: number): number {
    const ready = this.#libc.epoll_wait(this.#epoll, this.#events, MAX_EVENTS, Math.max(0, Math.ceil(timeoutMs)));
    if (ready >= 0) return ready;
    const code = errno(this.#libc);
    if (code === EINTR) return 0;
    throw callError("epoll_wait", code);
  }

  /** The index of the `k`th connection the last `wait` reported. */
  readyIndex(k: number): number {
    return this.#eventView.getUint32(EVENT_BYTES * k + DATA_OFFSET, true);
  }

  /** Whether the `k`th connection the last `wait` reported can take output. */
  readyWritable(k: number): boolean {
    return (this.#eventView.getUint32(EVENT_BYTES * k, true) & EPOLLOUT) !== 0;
  }

  /**
   * Reads what connection `index` has into `into` (an owned buffer: `new
   * Uint8Array(new ArrayBuffer(n))`); returns the length, 0 at the end of
   * the stream (or once the connection is closed), or {@linkcode WOULD_BLOCK}.
   * Throws on a reset or other failure.
   */
  receive(index: number, into: Uint8Array): number {
    const fd = this.#fds[index];
    if (fd < 0) return 0;
    while (true) {
      const length = this.#libc.recv(fd, into, size(into.length), MSG_DONTWAIT);
      if (length >= 0) return length;
      const code = errno(this.#libc);
      if (code === EAGAIN) return WOULD_BLOCK;
      if (code !== EINTR) throw callError("recv", code);
    }
  }

  /**
   * Sends as much of `bytes` as connection `index` takes now; returns how
   * many bytes that was (0 when its buffer is full). Throws when the
   * connection has failed or is closed.
   */
  send(index: number, bytes: Uint8Array): number {
    const fd = this.#fds[index];
    if (fd < 0) throw new Deno.errors.BadResource(`connection ${index} is closed`);
    while (true) {
      const sent = this.#libc.send(fd, bytes, size(bytes.length), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (sent >= 0) return sent;
      const code = errno(this.#libc);
      if (code === EAGAIN) return 0;
      if (code !== EINTR) throw callError("send", code);
    }
  }

  /** Closes connection `index` (once); it is no longer watched. */
  closeOne(index: number): void {
    const fd = this.#fds[index];
    if (fd === undefined || fd < 0) return;
    this.#control(EPOLL_CTL_DEL, index, 0);
    this.#libc.close(fd);
    this.#fds[index] = -1;
  }

  /** Closes every connection and the epoll set (once); nothing may be called afterwards. */
  close(): void {
    if (this.#epoll < 0) return;
    for (let index = 0; index < this.#fds.length; index++) this.closeOne(index);
    this.#libc.close(this.#epoll);
    this.#epoll = -1;
    this.#library.close();
  }

  #control(operation: number, index: number, events: number): void {
    const view = this.#changeView;
    view.setUint32(0, events, true);
    view.setUint32(DATA_OFFSET, index, true);
    view.setUint32(DATA_OFFSET + 4, 0, true);
    if (this.#libc.epoll_ctl(this.#epoll, operation, this.#fds[index], this.#change) !== 0) {
      throw callError("epoll_ctl", errno(this.#libc));
    }
  }
}
