/**
 * `wirebox send`: a small netcat client. Copies input to the socket and the
 * socket to output at the same time (never send-then-receive in lock step)
 * and finishes when both directions are done.
 *
 * @module
 */

import { formatAddress, type HostPort } from "../net/address.ts";
import { closeQuietly, isDisconnect } from "../net/errors.ts";
import { LineFramer } from "../net/line_stream.ts";
import { connectTcp } from "../net/tcp_connect.ts";
import { IdleTimer } from "../net/timeout.ts";
import { DatagramReader, listenUdp } from "../net/udp.ts";
import { textCodec } from "../text/encoding.ts";
import { pump, type PumpOptions, type PumpResult } from "./pump.ts";

/** Options for {@linkcode send}. */
export interface SendOptions extends PumpOptions {
  /** Use UDP: each input line is sent as one datagram (without its newline).
   * @default {false} */
  udp?: boolean;
  /** UDP only: the local address to send from, so a peer that knows only that port can answer. */
  bind?: HostPort;
  /** Give up connecting after this many milliseconds.
   * @default {10000} */
  connectTimeoutMs?: number;
  /** Called once connected (TCP) or bound (UDP), with the local address. */
  onReady?: (local: HostPort) => void;
}

/** What {@linkcode send} moved. */
export type SendResult = PumpResult;

const MAX_DATAGRAM = 65507;

/**
 * Connects to `address` and copies both ways at once.
 *
 * @example Usage
 * ```ts
 * import { send } from "./send.ts";
 * const input = ReadableStream.from([new TextEncoder().encode("hello\n")]);
 * const result = await send({ hostname: "127.0.0.1", port: 10888 }, { input, waitMs: 1000 })
 *   .catch((error) => console.error(error.message));
 * console.log(result);
 * ```
 */
export function send(address: HostPort, options: SendOptions = {}): Promise<SendResult> {
  if (options.bind && !options.udp) {
    throw new TypeError("A local port (bind) can only be chosen for UDP");
  }
  if (options.encoding) textCodec(options.encoding); // an unknown label fails before connecting
  return options.udp ? sendUdp(address, options) : sendTcp(address, options);
}

async function sendTcp(address: HostPort, options: SendOptions): Promise<SendResult> {
  const conn = await connectTcp(address, { timeoutMs: options.connectTimeoutMs, signal: options.signal });
  options.onReady?.(conn.localAddr);
  return await pump(conn, options);
}

async function sendUdp(address: HostPort, options: SendOptions): Promise<SendResult> {
  const socket = listenUdp({
    hostname: options.bind?.hostname ?? (address.hostname.includes(":") ? "::" : "0.0.0.0"),
    port: options.bind?.port ?? 0,
  });
  const { hostname, port } = socket.addr as Deno.NetAddr;
  options.onReady?.({ hostname, port });
  const result: SendResult = { sent: 0, received: 0, ended: "wait expired" };
  const input = (options.input ?? Deno.stdin.readable).getReader();
  const output = (options.output ?? Deno.stdout.writable).getWriter();
  const codec = textCodec(options.encoding ?? "utf-8");
  const decoder = codec.decoder();
  const mapText = options.mapText ?? ((text: string) => text);
  const encoder = new TextEncoder();
  const target = { transport: "udp" as const, ...address };
  const stop = (why: SendResult["ended"]) => {
    result.ended = why;
    closeQuietly(socket);
    input.cancel().catch(() => {});
  };
  const onAbort = () => stop("aborted");
  options.signal?.addEventListener("abort", onAbort, { once: true });
  let idle: IdleTimer | undefined;

  const upstream = (async () => {
    const framer = new LineFramer({ maxLineBytes: MAX_DATAGRAM });
    const pending: string[] = [];
    const collect = (line: string | { overlong: true }) => {
      if (typeof line === "string") pending.push(line);
    };
    const flush = async () => {
      for (const line of pending.splice(0)) {
        const bytes = codec.encode(line);
        await socket.send(bytes, target);
        result.sent += bytes.length;
      }
    };
    try {
      while (true) {
        const { value, done } = await input.read();
        if (done) break;
        framer.push(value, collect);
        await flush();
      }
      framer.end(collect);
      await flush();
      const waitMs = options.waitMs ?? 10_000;
      if (waitMs > 0) idle = new IdleTimer(waitMs, () => stop("wait expired"));
    } catch (error) {
      if (!isDisconnect(error)) throw error;
    }
  })();

  const downstream = (async () => {
    const reader = new DatagramReader(socket);
    while (true) {
      const datagram = await reader.receive();
      if (!datagram) break;
      idle?.touch();
      result.received += datagram.data.length;
      let text = mapText(decoder.decode(datagram.data));
      if (!text.endsWith("\n")) text += "\n";
      // Replies from anywhere but the target are shown with their sender.
      if (datagram.from.port !== address.port) text = `[${formatAddress(datagram.from)}] ${text}`;
      await output.write(encoder.encode(text));
    }
  })();

  try {
    await Promise.all([upstream, downstream]);
  } finally {
    idle?.stop();
    options.signal?.removeEventListener("abort", onAbort);
    closeQuietly(socket);
    output.releaseLock();
    input.releaseLock();
  }
  return result;
}
