/**
 * A raw TCP line client for tests, as `nc` would be: it sends bytes and
 * collects the lines that come back, and a test waits for a line matching a
 * pattern (never sleeps).
 *
 * @module
 */

import type { HostPort } from "../../lib/net/address.ts";
import { closeQuietly } from "../../lib/net/errors.ts";
import { writeAll } from "../../lib/net/io.ts";
import { type LineChunk, LineFramer } from "../../lib/net/line_stream.ts";

const encoder = new TextEncoder();

/** A connected test client. */
export class LineClient {
  /** Every line received so far. */
  readonly lines: string[] = [];
  #conn: Deno.TcpConn;
  #waiters: { test: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  #closed: Promise<void>;
  #ended = false;

  private constructor(conn: Deno.TcpConn, read: boolean) {
    this.#conn = conn;
    this.#closed = read ? this.#read() : Promise.resolve();
  }

  /** Connects to `address`; with `read: false` it never reads (a slow consumer). */
  static async connect(address: HostPort, options: { read?: boolean } = {}): Promise<LineClient> {
    const conn = await Deno.connect({ hostname: address.hostname, port: address.port });
    conn.setNoDelay(true);
    return new LineClient(conn, options.read ?? true);
  }

  /** The local port, which the server shows in its address for this client. */
  get localPort(): number {
    return this.#conn.localAddr.port;
  }

  /** Whether the server has closed the connection. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Settles when the connection has ended (the server closed it). */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** Sends text (or bytes) as it is: add the newline yourself. */
  async send(data: string | Uint8Array): Promise<void> {
    await writeAll(this.#conn, typeof data === "string" ? encoder.encode(data) : data);
  }

  /** Waits for a line (already received or still to come) that matches `pattern`. */
  waitFor(pattern: RegExp | ((line: string) => boolean), timeoutMs = 10_000): Promise<string> {
    const test = typeof pattern === "function" ? pattern : (line: string) => pattern.test(line);
    const seen = this.lines.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return this.#wait(test, timeoutMs, String(pattern));
  }

  /** Waits for the next line from now on that matches `pattern`. */
  next(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    return this.#wait((line) => pattern.test(line), timeoutMs, String(pattern));
  }

  /** Waits until `count` lines match `pattern`. */
  async waitForCount(pattern: RegExp, count: number, timeoutMs = 10_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const matching = this.lines.filter((line) => pattern.test(line));
      if (matching.length >= count) return matching;
      const left = deadline - Date.now();
      if (left <= 0 || this.#ended) {
        throw new Error(`Saw ${matching.length} of ${count} lines matching ${pattern}; last lines:\n${this.tail()}`);
      }
      await this.#wait((line) => pattern.test(line), left, String(pattern)).catch(() => {});
    }
  }

  /** Waits until the server closes the connection. */
  async waitClosed(timeoutMs = 10_000): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`The server did not close the connection:\n${this.tail()}`)),
        timeoutMs,
      );
    });
    await Promise.race([this.#closed, expired]).finally(() => clearTimeout(timer));
  }

  /** The last lines received, for error messages. */
  tail(count = 10): string {
    return this.lines.slice(-count).join("\n");
  }

  /** Closes the connection and waits for the reader to finish. */
  async close(): Promise<void> {
    closeQuietly(this.#conn);
    await this.#closed;
  }

  #wait(test: (line: string) => boolean, timeoutMs: number, what: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const waiter = {
        test,
        resolve: (line: string) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`No line matched ${what} within ${timeoutMs} ms; last lines:\n${this.tail()}`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  async #read(): Promise<void> {
    const onLine = (line: LineChunk) => {
      if (typeof line !== "string") return;
      this.lines.push(line);
      for (const waiter of [...this.#waiters]) {
        if (waiter.test(line)) {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    };
    try {
      await new LineFramer({ maxLineBytes: 1 << 20 }).readFrom(this.#conn, onLine);
    } catch {
      // Closed by us or reset by the server: either way the connection is over.
    } finally {
      this.#ended = true;
      closeQuietly(this.#conn);
    }
  }
}
