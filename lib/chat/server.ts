/**
 * The chat server: one room, served over TCP and, when asked, to browsers
 * (a page and its WebSocket, joining the same {@linkcode ChatServer.room}),
 * with an optional transcript.
 *
 * @module
 */

import { formatAddress, formatEndpoint } from "../net/address.ts";
import { formatCount } from "../text/format.ts";
import { writeAll } from "../net/io.ts";
import { serveTcp, type TcpServer } from "../net/tcp_server.ts";
import { OutputPressure } from "./pressure.ts";
import { EncodedEvent, formatText } from "./protocol.ts";
import { ChatRoom, type ChatRoomOptions } from "./room.ts";
import { type ChatConnectionOptions, serveChatConnection } from "./tcp_transport.ts";
import { Transcript } from "./transcript.ts";
import { type ChatWebServer, type ChatWebServerOptions, serveChatWeb } from "./web_server.ts";

/** Options for {@linkcode serveChat}. */
export interface ChatServerOptions extends Omit<ChatRoomOptions, "onEvent">, Omit<ChatConnectionOptions, "pressure"> {
  /** Address to listen on.
   * @default {"0.0.0.0"} */
  hostname?: string;
  /** TCP port; 0 picks a free one.
   * @default {9999} */
  port?: number;
  /** Clients at once; the next one is told the server is full and closed.
   * @default {1000} */
  maxClients?: number;
  /** Append every public event to this file as JSON lines. */
  transcriptPath?: string;
  /** Stops the server when aborted: clients are told, queues flushed, sockets closed. */
  signal?: AbortSignal;
  /** Receives one line per event (joins, leaves, messages; not private messages). */
  log?: (line: string) => void;
  /** Also serve the chat page and its WebSocket on this TCP port (same `hostname`); 0 picks a free one.
   * @default {no web page} */
  webPort?: number;
  /** Origins whose pages may open the WebSocket (see {@linkcode ChatWebServerOptions.origins}).
   * @default {[]: pages from the chat's own address only} */
  origins?: ChatWebServerOptions["origins"];
  /** Largest WebSocket frame accepted, in bytes.
   * @default {2 * maxLineBytes + 1024} */
  maxFrameBytes?: number;
}

/**
 * A running chat server. Create it with {@linkcode serveChat}.
 *
 * @example Usage
 * ```ts
 * import { serveChat } from "./server.ts";
 * const controller = new AbortController();
 * const chat = serveChat({ hostname: "127.0.0.1", port: 0, signal: controller.signal });
 * console.log(chat.endpoints); // ["tcp://127.0.0.1:40001"]
 * chat.room.say("hello from the operator");
 * controller.abort();
 * await chat.finished;
 * ```
 */
export class ChatServer {
  /** The room every transport joins. */
  readonly room: ChatRoom;
  /** The TCP listener. */
  readonly tcp: TcpServer;
  /** The web page and its WebSocket, when `webPort` was given. */
  readonly web: ChatWebServer | undefined;
  /** The transcript, when one is kept. */
  readonly transcript: Transcript | undefined;
  /** The room's output pressure; every transport's members join it, so that
   * input waits while members are behind (see {@linkcode OutputPressure}). */
  readonly pressure: OutputPressure = new OutputPressure();
  /** Settles once the server has stopped and the transcript is written. */
  readonly finished: Promise<void>;
  #stop = new AbortController();

  constructor(options: ChatServerOptions = {}) {
    const log = options.log ?? (() => {});
    const logEvents = options.log !== undefined;
    const signal = options.signal ? AbortSignal.any([options.signal, this.#stop.signal]) : this.#stop.signal;
    this.transcript = options.transcriptPath === undefined
      ? undefined
      : Transcript.open(options.transcriptPath, { onError: (message) => log(`chat: ${message}`) });
    const transcript = this.transcript;
    this.room = new ChatRoom({
      ...options,
      onEvent(event) {
        transcript?.write(event.json);
        if (logEvents) log(`chat: ${formatText(event.event, { time: false })}`);
      },
    });
    const maxClients = options.maxClients ?? 1000;
    try {
      const connection = { ...options, pressure: this.pressure };
      this.tcp = serveTcp(
        (conn, info) => serveChatConnection(this.room, conn, formatAddress(info.remote), connection),
        {
          hostname: options.hostname ?? "0.0.0.0",
          port: options.port ?? 9999,
          maxConnections: maxClients,
          signal,
          onRefused: async (conn) => {
            log(
              `chat: ${formatAddress(conn.remoteAddr)} refused: the server is full (${
                formatCount(maxClients, "client")
              })`,
            );
            const full = new EncodedEvent({
              type: "error",
              time: Date.now(),
              text: `the server is full (${formatCount(maxClients, "client")}): try again later`,
            });
            await writeAll(conn, full.text);
          },
          onError: (error, remote) => log(`chat: ${formatAddress(remote)}: ${(error as Error).message}`),
        },
      );
    } catch (error) {
      this.transcript?.close();
      throw error;
    }
    try {
      this.web = options.webPort === undefined ? undefined : serveChatWeb(this.room, {
        ...options,
        hostname: options.hostname ?? "0.0.0.0",
        port: options.webPort,
        maxClients,
        pressure: this.pressure,
        signal,
        log,
      });
    } catch (error) {
      // The TCP side is up already: take it down again before reporting.
      this.#stop.abort();
      this.room.close();
      this.transcript?.close();
      throw error;
    }
    const stop = () => this.room.close();
    if (signal.aborted) stop();
    signal.addEventListener("abort", stop, { once: true });
    this.finished = Promise.all([this.tcp.finished, this.web?.finished]).finally(async () => {
      this.room.close();
      await this.transcript?.close();
    }).then(() => {});
  }

  /** Where the server listens: `tcp://HOST:PORT`, and `http://HOST:PORT` for the web page. */
  get endpoints(): string[] {
    const web = this.web ? [this.web.endpoint] : [];
    return [formatEndpoint("tcp", this.tcp.addr), ...web];
  }

  /** Stops the server gracefully (as aborting the signal does) and waits until it has. */
  close(): Promise<void> {
    this.#stop.abort();
    return this.finished;
  }
}

/**
 * Starts a chat server. Throws at once if the port cannot be bound or the
 * transcript cannot be opened.
 *
 * @example Usage
 * ```ts
 * import { serveChat } from "./server.ts";
 * const controller = new AbortController();
 * const chat = serveChat({ port: 0, historySize: 100, rate: 5, signal: controller.signal });
 * controller.abort();
 * await chat.finished;
 * ```
 */
export function serveChat(options: ChatServerOptions = {}): ChatServer {
  return new ChatServer(options);
}
