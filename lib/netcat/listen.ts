/**
 * `wirebox listen`: accept a connection (or datagrams) and show what
 * arrives; what is typed goes back to the peer.
 *
 * @module
 */

import { formatAddress, formatEndpoint, type HostPort } from "../net/address.ts";
import { closeQuietly, isDisconnect } from "../net/errors.ts";
import { writeAll } from "../net/io.ts";
import { LineFramer } from "../net/line_stream.ts";
import { serveTcp } from "../net/tcp_server.ts";
import { DatagramReader, listenUdp, udpAddress } from "../net/udp.ts";
import { createTranscoder, textCodec } from "../text/encoding.ts";
import { pump, type PumpOptions } from "./pump.ts";

const MAX_TRACKED = 10_000;

/** Options for {@linkcode listen}. */
export interface ListenOptions extends Omit<PumpOptions, "waitMs"> {
  /** Receive UDP datagrams instead of a TCP connection.
   * @default {false} */
  udp?: boolean;
  /** TCP: serve connection after connection, several at once, until aborted
   * (input is sent to every connected peer). UDP: show datagrams from every
   * sender, not only from the first.
   * @default {false} */
  keepOpen?: boolean;
  /** Called once bound, with the endpoint (`tcp://HOST:PORT`). */
  onListening?: (endpoint: string) => void;
  /** Receives status lines: connections opened and closed, senders ignored. */
  onEvent?: (line: string) => void;
}

/** What {@linkcode listen} saw. */
export interface ListenResult {
  /** TCP connections accepted (UDP: distinct senders shown). */
  peers: number;
  /** Bytes received in all. */
  received: number;
}

/**
 * Listens on `address` until the connection ends (TCP without `keepOpen`) or
 * until aborted. UDP datagrams are shown line by line, each line prefixed
 * with its sender (`[127.0.0.1:5000] hello`); input lines are sent to the
 * latest sender.
 *
 * @example Usage
 * ```ts
 * import { listen } from "./listen.ts";
 * const controller = new AbortController();
 * const done = listen({ hostname: "127.0.0.1", port: 0 }, {
 *   onListening: (endpoint) => console.error(`listening on ${endpoint}`),
 *   signal: controller.signal,
 * });
 * controller.abort();
 * await done;
 * ```
 */
export function listen(address: HostPort, options: ListenOptions = {}): Promise<ListenResult> {
  if (options.encoding) textCodec(options.encoding); // an unknown label fails before binding
  return options.udp ? listenDatagrams(address, options) : listenTcp(address, options);
}

async function listenTcp(address: HostPort, options: ListenOptions): Promise<ListenResult> {
  const result: ListenResult = { peers: 0, received: 0 };
  const event = options.onEvent ?? (() => {});
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const keepOpen = options.keepOpen ?? false;
  const peers = new Set<Deno.TcpConn>();
  let inputEnded = false;
  // Several connections share one writer: its writes queue in order.
  const shared = keepOpen ? (options.output ?? Deno.stdout.writable).getWriter() : undefined;
  const server = serveTcp(async (conn, info) => {
    const peer = formatAddress(info.remote);
    result.peers++;
    event(`connection from ${peer}`);
    try {
      if (!keepOpen) {
        const moved = await pump(conn, { ...options, waitMs: 0, signal });
        result.received += moved.received;
        return;
      }
      peers.add(conn);
      if (inputEnded) await conn.closeWrite().catch(() => {});
      result.received += await drain(conn, shared!, options);
    } finally {
      peers.delete(conn);
      event(`${peer} closed`);
      if (!keepOpen) stop.abort();
    }
  }, {
    hostname: address.hostname,
    port: address.port,
    maxConnections: keepOpen ? undefined : 1,
    signal,
    gracePeriodMs: 0,
    onError: (error) => event(`error: ${(error as Error).message}`),
  });
  options.onListening?.(formatEndpoint("tcp", server.addr));

  // With several peers, input is read here once and sent to all of them.
  const broadcast = keepOpen ? broadcastInput(peers, options, signal, () => inputEnded = true) : undefined;
  try {
    await server.finished;
    await broadcast;
  } finally {
    shared?.releaseLock();
  }
  return result;
}

async function drain(
  conn: Deno.TcpConn,
  output: WritableStreamDefaultWriter<Uint8Array>,
  options: ListenOptions,
): Promise<number> {
  const fromPeer = options.encoding || options.mapText
    ? createTranscoder({ from: options.encoding, map: options.mapText })
    : undefined;
  const buffer = new Uint8Array(64 * 1024);
  let received = 0;
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      received += n;
      const chunk = buffer.slice(0, n);
      await output.write(fromPeer ? fromPeer(chunk) : chunk);
    }
  } catch (error) {
    if (!isDisconnect(error)) throw error;
  }
  return received;
}

async function broadcastInput(
  peers: Set<Deno.TcpConn>,
  options: ListenOptions,
  signal: AbortSignal,
  onEnd: () => void,
): Promise<void> {
  const input = (options.input ?? Deno.stdin.readable).getReader();
  const cancel = () => input.cancel().catch(() => {});
  signal.addEventListener("abort", cancel, { once: true });
  const toPeer = options.encoding ? createTranscoder({ to: options.encoding }) : undefined;
  try {
    while (true) {
      const { value, done } = await input.read();
      if (done) break;
      const bytes = toPeer ? toPeer(value) : value;
      await Promise.all([...peers].map((conn) => writeAll(conn, bytes).catch(() => closeQuietly(conn))));
    }
    onEnd();
    await Promise.all([...peers].map((conn) => conn.closeWrite().catch(() => {})));
  } finally {
    signal.removeEventListener("abort", cancel);
    input.releaseLock();
  }
}

async function listenDatagrams(address: HostPort, options: ListenOptions): Promise<ListenResult> {
  const socket = listenUdp(address);
  options.onListening?.(formatEndpoint("udp", udpAddress(socket)));
  const result: ListenResult = { peers: 0, received: 0 };
  const event = options.onEvent ?? (() => {});
  const codec = textCodec(options.encoding ?? "utf-8");
  const decoder = codec.decoder();
  const mapText = options.mapText ?? ((text: string) => text);
  const output = (options.output ?? Deno.stdout.writable).getWriter();
  const input = (options.input ?? Deno.stdin.readable).getReader();
  const encoder = new TextEncoder();
  const senders = new Set<string>();
  const ignored = new Set<string>();
  let latest: HostPort | undefined;
  const stop = () => {
    closeQuietly(socket);
    input.cancel().catch(() => {});
  };
  if (options.signal?.aborted) stop();
  options.signal?.addEventListener("abort", stop, { once: true });

  const replies = (async () => {
    const framer = new LineFramer({ maxLineBytes: 65507 });
    const lines: string[] = [];
    try {
      while (true) {
        const { value, done } = await input.read();
        if (done) break;
        framer.push(value, (line) => typeof line === "string" && lines.push(line));
        for (const line of lines.splice(0)) {
          if (!latest) {
            event("nobody has sent anything yet: line not sent");
            continue;
          }
          await socket.send(codec.encode(line), { transport: "udp", ...latest });
        }
      }
    } catch (error) {
      if (!isDisconnect(error)) throw error;
    }
  })();

  const reader = new DatagramReader(socket);
  try {
    while (true) {
      const datagram = await reader.receive();
      if (!datagram) break;
      const sender = formatAddress(datagram.from);
      if (!senders.has(sender)) {
        if (senders.size > 0 && !options.keepOpen) {
          // Told once per sender, and the memory of whom we told is bounded.
          if (!ignored.has(sender) && ignored.size < MAX_TRACKED) {
            ignored.add(sender);
            event(`ignoring ${sender} (use --keep-open to accept every sender)`);
          }
          continue;
        }
        if (senders.size < MAX_TRACKED) senders.add(sender);
        result.peers++;
      }
      latest = datagram.from;
      result.received += datagram.data.length;
      const prefix = `[${sender}] `;
      const text = mapText(decoder.decode(datagram.data)).replace(/\r?\n$/, "");
      const shown = text.split(/\r?\n/).map((line) => prefix + line).join("\n") + "\n";
      await output.write(encoder.encode(shown));
    }
  } finally {
    options.signal?.removeEventListener("abort", stop);
    stop();
    await replies;
    output.releaseLock();
    input.releaseLock();
  }
  return result;
}
