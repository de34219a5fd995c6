/**
 * A chat client: connects, asks the server for JSON events (falling back to
 * plain text lines from a server that does not speak them), keeps track of
 * its nick, paces what it sends to the server's announced rate, and can
 * wait until the server has handled everything it sent.
 *
 * @module
 */

import { formatAddress, type HostPort } from "../net/address.ts";
import { closeQuietly, isDisconnect } from "../net/errors.ts";
import { writeAll } from "../net/io.ts";
import { LineFramer } from "../net/line_stream.ts";
import { connectTcp } from "../net/tcp_connect.ts";
import { delay, withTimeout } from "../net/timeout.ts";
import { type ChatEvent, cleanLine, type LeaveReason, parseEvent, type RoomLimits } from "./protocol.ts";
import { TokenBucket } from "./rate_limit.ts";

/** Options for {@linkcode ChatClient.connect}. */
export interface ChatClientOptions {
  /** Ask for this nick once connected (if it is taken, the server's error is shown and the guest nick stays). */
  nick?: string;
  /** Give up connecting after this many milliseconds.
   * @default {10000} */
  connectTimeoutMs?: number;
  /** Milliseconds to wait for the first JSON event before treating the server as a plain line server.
   * @default {2000} */
  negotiateMs?: number;
  /** Closes the connection when aborted. */
  signal?: AbortSignal;
  /** Receives every event to show (not the client's own sync echoes). */
  onEvent: (event: ChatEvent) => void;
  /** Receives lines from a server that does not send JSON (cleaned of control characters). */
  onText?: (line: string) => void;
}

/** How a chat session ended. */
export interface ChatEnd {
  /** Whether this side asked to leave (`/quit`, or `close()`). */
  byClient: boolean;
  /** The reason the server gave for our leaving, when it gave one. */
  reason?: LeaveReason;
  /** The detail that came with the reason (a kick's reason, say). */
  detail?: string;
  /** One sentence for the user: "kicked by the operator: spamming", "the server closed the connection". */
  message: string;
}

const MAX_EVENT_BYTES = 1 << 20;
const MAX_HELD_LINES = 1000;
const encoder = new TextEncoder();

/**
 * A connected chat client. Create it with {@linkcode ChatClient.connect}.
 *
 * @example Usage
 * ```ts
 * import { ChatClient } from "./client.ts";
 * const client = await ChatClient.connect({ hostname: "127.0.0.1", port: 9999 }, {
 *   nick: "bot",
 *   onEvent: (event) => console.log(event.type),
 * }).catch(() => undefined);
 * if (client) {
 *   await client.send("hello");
 *   await client.sync(); // the server has handled "hello"
 *   await client.quit();
 * }
 * ```
 */
export class ChatClient {
  /** The server's address. */
  readonly address: HostPort;
  #conn: Deno.TcpConn;
  #options: ChatClientOptions;
  #nick = "";
  #limits: RoomLimits | undefined;
  #bucket: TokenBucket | undefined;
  #sentBeforeWelcome = 0;
  #mode: "negotiating" | "json" | "text" = "negotiating";
  #held: string[] = [];
  #negotiation: ReturnType<typeof setTimeout> | undefined;
  #welcomed = Promise.withResolvers<void>();
  #echoes = new Map<string, () => void>();
  #sending: Promise<void> = Promise.resolve();
  #quitting = false;
  #leave: { reason: LeaveReason; detail?: string } | undefined;
  #ended: Promise<ChatEnd>;
  #stop = new AbortController();

  private constructor(conn: Deno.TcpConn, address: HostPort, options: ChatClientOptions) {
    this.#conn = conn;
    this.address = address;
    this.#options = options;
    const onAbort = () => this.close();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    this.#ended = this.#readLoop().finally(() => {
      options.signal?.removeEventListener("abort", onAbort);
      clearTimeout(this.#negotiation);
      this.#stop.abort();
      closeQuietly(this.#conn);
    });
  }

  /**
   * Connects to `address`, asks for JSON events and, when `nick` is given,
   * for that nick. Fails with `Cannot connect to HOST:PORT: <reason>`.
   */
  static async connect(address: HostPort, options: ChatClientOptions): Promise<ChatClient> {
    const conn = await connectTcp(address, { timeoutMs: options.connectTimeoutMs, signal: options.signal });
    const client = new ChatClient(conn, address, options);
    client.#negotiation = setTimeout(() => client.#fallBackToText(), options.negotiateMs ?? 2000);
    await client.#write("/format json");
    if (options.nick !== undefined) await client.#write(`/nick ${options.nick}`);
    return client;
  }

  /** The nick the server knows us by ("" until the welcome arrives). */
  get nick(): string {
    return this.#nick;
  }

  /** The limits the server announced, once welcomed. */
  get limits(): RoomLimits | undefined {
    return this.#limits;
  }

  /** Settles when the connection has ended, saying how. */
  get ended(): Promise<ChatEnd> {
    return this.#ended;
  }

  /** Settles once the server's welcome has arrived (or it turned out to speak plain text). */
  get welcomed(): Promise<void> {
    return this.#welcomed.promise;
  }

  /**
   * Sends one line (a message or a command), waiting first if the server's
   * rate limit would otherwise drop it. Lines go out in the order of the calls.
   */
  send(line: string): Promise<void> {
    const next = this.#sending.then(async () => {
      await this.#pace();
      await this.#write(line.replace(/[\r\n]+/g, " "));
    });
    this.#sending = next.catch(() => {});
    return next;
  }

  /**
   * Resolves once the server has handled every line sent so far (it answers
   * an `/echo` with a token after them, in order). Against a server that
   * speaks only plain text there is nothing to wait for.
   */
  async sync(timeoutMs = 10_000): Promise<void> {
    await this.welcomed;
    if (this.#mode === "text") return; // a plain line server has no /echo to wait for
    const token = `sync-${crypto.randomUUID()}`;
    const echoed = new Promise<void>((resolve) => this.#echoes.set(token, resolve));
    const ended = this.#ended.then((end) => {
      throw new Deno.errors.ConnectionAborted(`The chat ended before the server answered: ${end.message}`);
    });
    try {
      await this.send(`/echo ${token}`);
      await withTimeout(Promise.race([echoed, ended]), timeoutMs, "Waiting for the chat server to answer");
    } finally {
      this.#echoes.delete(token);
      ended.catch(() => {});
    }
  }

  /** Leaves the room (`/quit REASON`) and waits, at most `timeoutMs`, for the server to close. */
  async quit(reason?: string, timeoutMs = 3000): Promise<ChatEnd> {
    this.#quitting = true;
    await this.send(reason ? `/quit ${reason}` : "/quit").catch(() => {});
    const timer = delay(timeoutMs, this.#stop.signal).then(() => this.close(), () => {});
    const end = await this.#ended;
    await timer;
    return end;
  }

  /** Closes the connection at once. */
  close(): void {
    this.#quitting = true;
    closeQuietly(this.#conn);
  }

  async #write(line: string): Promise<void> {
    if (!this.#limits) this.#sentBeforeWelcome++;
    await writeAll(this.#conn, encoder.encode(line + "\n"));
  }

  async #pace(): Promise<void> {
    const bucket = this.#bucket;
    if (!bucket) return;
    let wait = bucket.waitMs(Date.now());
    while (wait > 0) {
      await delay(wait, this.#stop.signal);
      wait = bucket.waitMs(Date.now());
    }
    bucket.take(Date.now());
  }

  async #readLoop(): Promise<ChatEnd> {
    let failure: string | undefined;
    try {
      await new LineFramer({ maxLineBytes: MAX_EVENT_BYTES }).readFrom(this.#conn, (line) => {
        if (typeof line === "string") this.#line(line);
      });
    } catch (error) {
      if (!isDisconnect(error)) throw error;
      if (!this.#quitting) failure = error instanceof Deno.errors.ConnectionReset ? "reset" : "lost";
    }
    this.#fallBackToText();
    return this.#end(failure);
  }

  #end(failure: string | undefined): ChatEnd {
    const where = formatAddress(this.address);
    const leave = this.#leave;
    const byClient = this.#quitting || leave?.reason === "quit";
    let message: string;
    if (leave && leave.reason !== "quit") {
      const because = {
        "kicked": "you were kicked by the operator",
        "flooding": "you were disconnected for flooding",
        "idle timeout": "you were disconnected for being idle",
        "too slow": "you were disconnected for reading too slowly",
        "server stopping": "the chat server stopped",
        "connection lost": "the connection was lost",
        "quit": "you left",
      }[leave.reason];
      message = leave.detail ? `${because} (${leave.detail})` : because;
    } else if (byClient) {
      message = "you left";
    } else {
      message = `the connection to ${where} was ${failure === "reset" ? "reset" : "closed by the server"}`;
    }
    return { byClient, ...leave, message };
  }

  #line(line: string): void {
    if (this.#mode === "text") return this.#options.onText?.(cleanLine(line));
    const event = parseEvent(line);
    if (!event) {
      if (this.#mode === "json") return this.#options.onText?.(cleanLine(line));
      // Before the first JSON event: the text welcome, sent before our /format json
      // arrived. It is sent again as JSON; if no JSON ever comes, these are shown.
      if (this.#held.length < MAX_HELD_LINES) this.#held.push(line);
      return;
    }
    if (this.#mode === "negotiating") {
      this.#mode = "json";
      this.#held = [];
      clearTimeout(this.#negotiation);
    }
    this.#event(event);
  }

  #event(event: ChatEvent): void {
    switch (event.type) {
      case "welcome":
        this.#nick = event.nick;
        if (!this.#limits) this.#pacing(event.limits);
        this.#welcomed.resolve();
        break;
      case "nick":
        if (event.from === this.#nick) this.#nick = event.nick;
        break;
      case "leave":
        if (event.nick === this.#nick) this.#leave = { reason: event.reason, detail: event.detail };
        break;
      case "echo": {
        const resolve = this.#echoes.get(event.text);
        if (resolve) return resolve();
        break;
      }
    }
    this.#options.onEvent(event);
  }

  /** Paces sends a little under the server's limit, counting what was sent before the limit was known. */
  #pacing(limits: RoomLimits): void {
    this.#limits = limits;
    if (limits.rate <= 0) return;
    const burst = Math.max(1, limits.burst - 2);
    this.#bucket = new TokenBucket(limits.rate * 0.9, burst);
    for (let i = 0; i < this.#sentBeforeWelcome; i++) this.#bucket.take(Date.now());
  }

  #fallBackToText(): void {
    if (this.#mode !== "negotiating") return;
    this.#mode = "text";
    clearTimeout(this.#negotiation);
    for (const line of this.#held.splice(0)) this.#options.onText?.(cleanLine(line));
    this.#welcomed.resolve();
  }
}
