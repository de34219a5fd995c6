/**
 * The chat's web server (`Deno.serve`): the page at `/` (HTML, script and
 * styles embedded in the program), the WebSocket at `/ws` that seats each
 * browser in the same room as the TCP clients, and `/healthz`.
 *
 * @module
 */

import config from "../../deno.json" with { type: "json" };
import { formatAddress, formatEndpoint, type HostPort } from "../net/address.ts";
import { formatCount } from "../text/format.ts";
import { bindError } from "../net/errors.ts";
import { delay } from "../net/timeout.ts";
import { escapeControls } from "../text/sanitize.ts";
import { EncodedEvent } from "./protocol.ts";
import type { ChatRoom } from "./room.ts";
import { SECURITY_HEADERS, WEB_ASSETS } from "./web_assets.ts";
import { CLOSE_CODES, originAllowed, WEB_SOCKET_PATH } from "./web_protocol.ts";
import { type ChatWebSocketOptions, serveChatWebSocket } from "./web_transport.ts";

/** The web page's usual port. */
export const WEB_PORT = 8080;
/** Longest nick read from the page's URL (the room allows 32 characters; more is an error, not an echo of kilobytes). */
const MAX_NICK_PARAM = 64;

/** Options for {@linkcode serveChatWeb}. */
export interface ChatWebServerOptions extends Omit<ChatWebSocketOptions, "nick" | "onError"> {
  /** Address to listen on.
   * @default {"0.0.0.0"} */
  hostname?: string;
  /** TCP port of the page and its WebSocket; 0 picks a free one.
   * @default {8080} */
  port?: number;
  /** Origins whose pages may open the WebSocket besides pages served from the host the
   * browser addressed (the same host and port as the WebSocket request), which always may
   * (`http://host:port`, as `normalizeOrigin` in web_protocol.ts writes them; `*` for any).
   * @default {[]} */
  origins?: string[];
  /** WebSocket clients at once; the next one is told the server is full and closed.
   * @default {1000} */
  maxClients?: number;
  /** Stops the server when aborted: clients get `gracePeriodMs` to be told and closed, then the listener closes. */
  signal?: AbortSignal;
  /** Milliseconds the WebSocket clients get to close after the stop begins.
   * @default {2000} */
  gracePeriodMs?: number;
  /** Receives a line for each refused WebSocket (wrong origin, server full) and each server error. */
  log?: (line: string) => void;
}

/**
 * A running chat web server. Create it with {@linkcode serveChatWeb}.
 *
 * @example Usage
 * ```ts
 * import { ChatRoom } from "./room.ts";
 * import { serveChatWeb } from "./web_server.ts";
 * const room = new ChatRoom();
 * const web = serveChatWeb(room, { hostname: "127.0.0.1", port: 0 });
 * console.log(web.endpoint); // "http://127.0.0.1:40123"
 * room.close();
 * await web.close();
 * ```
 */
export class ChatWebServer {
  /** Where the server listens. */
  readonly addr: HostPort;
  /** Settles once the server has stopped and every connection is closed. */
  readonly finished: Promise<void>;
  #room: ChatRoom;
  #options: ChatWebServerOptions;
  #http: Deno.HttpServer<Deno.NetAddr>;
  /** Members being served (settled once each is closed or given up on). */
  #clients = new Set<Promise<void>>();
  /** WebSockets open, counting those whose member was given up on but whose peer has not closed yet. */
  #open = 0;
  #stopping = false;
  #stopped: Promise<void> | undefined;
  #log: (line: string) => void;

  constructor(room: ChatRoom, options: ChatWebServerOptions = {}) {
    this.#room = room;
    this.#options = options;
    this.#log = options.log ?? (() => {});
    const hostname = options.hostname ?? "0.0.0.0";
    const port = options.port ?? WEB_PORT;
    try {
      this.#http = Deno.serve({
        hostname,
        port,
        onListen() {},
        onError: (error) => {
          this.#log(`chat: web: ${(error as Error)?.message ?? error}`);
          return plain(500, "Internal server error.\n");
        },
      }, (request, info) => this.#handle(request, info));
    } catch (error) {
      throw bindError(error, "tcp", { hostname, port });
    }
    this.addr = { hostname: this.#http.addr.hostname, port: this.#http.addr.port };
    const signal = options.signal;
    if (signal?.aborted) this.close();
    signal?.addEventListener("abort", () => this.close(), { once: true });
    this.finished = this.#http.finished;
  }

  /** Where the page is: `http://HOST:PORT`. */
  get endpoint(): string {
    return formatEndpoint("http", this.addr);
  }

  /** WebSocket connections open now. */
  get clients(): number {
    return this.#open;
  }

  /**
   * Stops: no new WebSockets, the connected ones get the grace period to
   * close (the room tells them why when it closes), then the listener and
   * whatever is left are closed. Resolves once all that is done.
   */
  close(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    this.#stopping = true;
    const timer = new AbortController();
    await Promise.race([Promise.all(this.#clients), delay(this.#options.gracePeriodMs ?? 2000, timer.signal)])
      .catch(() => {});
    timer.abort();
    await this.#http.shutdown();
    await this.finished;
  }

  #handle(request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Response {
    const url = new URL(request.url);
    if (request.method !== "GET" && request.method !== "HEAD") {
      return plain(405, "Only GET is served here.\n", { allow: "GET, HEAD" });
    }
    if (url.pathname === WEB_SOCKET_PATH) return this.#upgrade(request, url, info.remoteAddr);
    if (url.pathname === "/healthz") {
      const status = this.#stopping || this.#room.closed ? "stopping" : "ok";
      const body = { status, version: config.version, online: this.#room.size, web: this.#open };
      return respond(status === "ok" ? 200 : 503, JSON.stringify(body) + "\n", "application/json", request);
    }
    const asset = WEB_ASSETS.get(url.pathname === "/index.html" ? "/" : url.pathname);
    if (!asset) return plain(404, `Not found: ${url.pathname}. The chat is at /.\n`);
    const headers = { ...SECURITY_HEADERS, "content-type": asset.type, etag: asset.etag, "cache-control": "no-cache" };
    if (request.headers.get("if-none-match") === asset.etag) return new Response(null, { status: 304, headers });
    if (request.method === "HEAD") return new Response(null, { headers: headOnly(headers, asset.body.length) });
    return new Response(asset.body, { headers });
  }

  #upgrade(request: Request, url: URL, remote: Deno.NetAddr): Response {
    const address = `${formatAddress(remote)} (web)`;
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return plain(426, "This is the chat's WebSocket endpoint: open / in a browser.\n", { upgrade: "websocket" });
    }
    if (this.#stopping || this.#room.closed) return plain(503, "The chat server is stopping.\n");
    const origin = request.headers.get("origin");
    if (!originAllowed(origin, request.headers.get("host"), this.#options.origins ?? [])) {
      // The header is the peer's: C1 controls (bytes 0x80-0x9f) in it must not reach the operator's terminal.
      this.#log(`chat: ${address} refused: origin ${escapeControls(origin ?? "")} is not allowed (see --origin)`);
      return plain(403, `Origin ${origin} may not open this chat.\n`);
    }
    if (!request.headers.has("sec-websocket-key")) {
      return plain(400, "A WebSocket request needs a Sec-WebSocket-Key header.\n");
    }
    const { socket, response } = Deno.upgradeWebSocket(request);
    const maxClients = this.#options.maxClients ?? 1000;
    const full = this.#open >= maxClients;
    this.#open++;
    socket.addEventListener("close", () => this.#open--);
    if (full) {
      this.#log(`chat: ${address} refused: the server is full (${formatCount(maxClients, "web client")})`);
      socket.binaryType = "arraybuffer";
      socket.addEventListener("open", () => {
        const text = `the server is full (${formatCount(maxClients, "client")}): try again later`;
        socket.send(new EncodedEvent({ type: "error", time: Date.now(), text }).json);
        socket.close(CLOSE_CODES.tryAgainLater, "server full");
      });
      return response;
    }
    const nick = url.searchParams.get("nick")?.slice(0, MAX_NICK_PARAM) || undefined;
    const client = serveChatWebSocket(this.#room, socket, address, {
      ...this.#options,
      nick,
      onError: (error) => this.#log(`chat: ${address}: ${(error as Error)?.stack ?? error}`),
    });
    this.#clients.add(client);
    client.finally(() => this.#clients.delete(client));
    return response;
  }
}

/** `HEAD`'s headers: a GET's, with the length the body would have had. */
function headOnly(headers: Record<string, string>, length: number): Record<string, string> {
  return { ...headers, "content-length": `${length}` };
}

/** A response with the security headers; `HEAD` gets the headers alone. */
function respond(
  status: number,
  body: string,
  type: string,
  request?: Request,
  extra: Record<string, string> = {},
): Response {
  const headers = {
    ...SECURITY_HEADERS,
    "content-type": `${type}; charset=utf-8`,
    "cache-control": "no-store",
    ...extra,
  };
  if (request?.method === "HEAD") {
    return new Response(null, { status, headers: headOnly(headers, new TextEncoder().encode(body).length) });
  }
  return new Response(body, { status, headers });
}

function plain(status: number, body: string, extra: Record<string, string> = {}): Response {
  return respond(status, body, "text/plain", undefined, extra);
}

/**
 * Serves the chat page and its WebSocket for `room`. Throws at once, with a
 * message naming the address, if the port cannot be bound.
 *
 * @example Usage
 * ```ts
 * import { ChatRoom } from "./room.ts";
 * import { serveChatWeb } from "./web_server.ts";
 * const controller = new AbortController();
 * const room = new ChatRoom();
 * const web = serveChatWeb(room, { port: 0, origins: ["http://chat.lan:8080"], signal: controller.signal });
 * room.close();
 * controller.abort();
 * await web.finished;
 * ```
 */
export function serveChatWeb(room: ChatRoom, options: ChatWebServerOptions = {}): ChatWebServer {
  return new ChatWebServer(room, options);
}
