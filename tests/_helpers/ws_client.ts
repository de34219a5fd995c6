/**
 * A WebSocket chat client for tests, as a bot would be: it collects the
 * events the server sends (binary frames of JSON lines), sends frames, and
 * a test waits for an event matching a condition (never sleeps).
 *
 * @module
 */

/** An event as the server sent it (JSON), with `time` still a string. */
export type WireEvent = Record<string, unknown> & { type: string };

/** How the connection ended. */
export interface WsClose {
  code: number;
  reason: string;
}

/** Options for {@linkcode WsClient.connect}. */
export interface WsClientOptions {
  /** The nick to ask for (the page passes it in the URL). */
  nick?: string;
  /** Handshake headers (an `Origin`, say). */
  headers?: Record<string, string>;
  /** The server's address as a URL host (`[::1]` for IPv6).
   * @default {"127.0.0.1"} */
  host?: string;
}

const decoder = new TextDecoder();

/** A connected test client. */
export class WsClient {
  /** Every event received so far. */
  readonly events: WireEvent[] = [];
  /** Frames that were not JSON lines (there should be none). */
  readonly garbage: string[] = [];
  #socket: WebSocket;
  #waiters: { test: (event: WireEvent) => boolean; resolve: (event: WireEvent) => void }[] = [];
  #closed: Promise<WsClose>;
  #close: WsClose | undefined;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.binaryType = "arraybuffer";
    socket.addEventListener("message", (event) => this.#receive(event.data));
    this.#closed = new Promise((resolve) => {
      socket.addEventListener("close", (event) => {
        this.#close = { code: event.code, reason: event.reason };
        resolve(this.#close);
      });
    });
  }

  /** Opens `ws://HOST:PORT/ws` and waits for the socket to open (rejects if the server refuses it). */
  static async connect(port: number, options: WsClientOptions = {}): Promise<WsClient> {
    const url = new URL(`ws://${options.host ?? "127.0.0.1"}:${port}/ws`);
    if (options.nick !== undefined) url.searchParams.set("nick", options.nick);
    const socket = new WebSocket(url, { headers: options.headers });
    const client = new WsClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener("open", () => resolve(), { once: true });
      socket.addEventListener("error", () => reject(new Error(`Could not open ${url}`)), { once: true });
    });
    return client;
  }

  /** Opens a client and waits for its welcome; returns it with the nick it got. */
  static async join(port: number, options: WsClientOptions = {}): Promise<WsClient> {
    const client = await WsClient.connect(port, options);
    await client.waitFor((event) => event.type === "welcome");
    return client;
  }

  /** The nick of the last welcome. */
  get nick(): string {
    const welcome = this.events.findLast((event) => event.type === "welcome");
    return String(welcome?.nick ?? "");
  }

  /** How the socket closed, once it has. */
  get closeInfo(): WsClose | undefined {
    return this.#close;
  }

  /** Sends `{"type":"line","text":TEXT}`. */
  say(text: string): void {
    this.send(JSON.stringify({ type: "line", text }));
  }

  /** Sends a frame as it is (text, or bytes as a binary frame). */
  send(frame: string | Uint8Array): void {
    this.#socket.send(frame);
  }

  /** Waits for an event (already received or still to come) for which `test` holds. */
  waitFor(test: (event: WireEvent) => boolean, timeoutMs = 10_000): Promise<WireEvent> {
    const seen = this.events.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = {
        test,
        resolve: (event: WireEvent) => {
          clearTimeout(timer);
          resolve(event);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`No event matched ${test} within ${timeoutMs} ms; last events:\n${this.tail()}`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** Waits for a message (or action) event whose text is `text`. */
  waitForText(text: string, timeoutMs?: number): Promise<WireEvent> {
    return this.waitFor(
      (event) => (event.type === "message" || event.type === "action") && event.text === text,
      timeoutMs,
    );
  }

  /** Waits for an error event whose text matches `pattern`. */
  waitForError(pattern: RegExp, timeoutMs?: number): Promise<WireEvent> {
    return this.waitFor((event) => event.type === "error" && pattern.test(String(event.text)), timeoutMs);
  }

  /** Waits until the server closes the socket; rejects after `timeoutMs`. */
  async waitClosed(timeoutMs = 10_000): Promise<WsClose> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`The server did not close the socket:\n${this.tail()}`)), timeoutMs);
    });
    return await Promise.race([this.#closed, expired]).finally(() => clearTimeout(timer));
  }

  /** The last events, for error messages. */
  tail(count = 10): string {
    return this.events.slice(-count).map((event) => JSON.stringify(event)).join("\n");
  }

  /** Closes the socket and waits until it is closed. */
  async close(): Promise<void> {
    if (this.#socket.readyState === WebSocket.OPEN || this.#socket.readyState === WebSocket.CONNECTING) {
      this.#socket.close();
    }
    await this.#closed;
  }

  #receive(data: unknown): void {
    const text = typeof data === "string" ? data : decoder.decode(data as ArrayBuffer);
    if (typeof data === "string") this.garbage.push(`text frame: ${text}`);
    for (const line of text.split("\n")) {
      if (line === "") continue;
      let event: WireEvent;
      try {
        event = JSON.parse(line);
      } catch {
        this.garbage.push(line);
        continue;
      }
      this.events.push(event);
      for (const waiter of [...this.#waiters]) {
        if (waiter.test(event)) {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          waiter.resolve(event);
        }
      }
    }
    if (!text.endsWith("\n")) this.garbage.push(`frame without a final newline: ${text}`);
  }
}
