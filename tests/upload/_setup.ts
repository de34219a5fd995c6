/**
 * What the upload tests share: a server in a fresh folder, local files to
 * send, and a plain socket client for speaking the protocol (or not) by hand.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join } from "node:path";
import type { HostPort } from "../../lib/net/address.ts";
import { collectFiles, type LocalFile } from "../../lib/upload/files.ts";
import { serveUpload, type UploadServer, type UploadServerOptions } from "../../lib/upload/server.ts";
import { waitUntil } from "../_helpers/wait.ts";

/** A running test server and where things are. */
export interface TestServer {
  server: UploadServer;
  /** The upload folder. */
  dir: string;
  /** A scratch folder for the client's files. */
  local: string;
  address: HostPort;
  logs: string[];
}

/** Runs `fn` against an upload server on a free loopback port; cleans everything up after. */
export async function withServer(
  options: Partial<UploadServerOptions>,
  fn: (setup: TestServer) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "wirebox-up-" });
  const local = await Deno.makeTempDir({ prefix: "wirebox-local-" });
  const logs: string[] = [];
  const server = await serveUpload({
    hostname: "127.0.0.1",
    port: 0,
    dir,
    log: (line) => logs.push(line),
    ...options,
  });
  try {
    await fn({ server, dir: server.dir, local, address: server.tcp.addr, logs });
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.remove(local, { recursive: true }).catch(() => {});
  }
}

/** Random bytes (crypto.getRandomValues fills at most 64 KiB at a time). */
export function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += 65536) {
    crypto.getRandomValues(bytes.subarray(offset, Math.min(size, offset + 65536)));
  }
  return bytes;
}

/** SHA-256 of `bytes` in hex. */
export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Writes `bytes` to `dir/name` and returns it as a file to send (named `name`, or `as`). */
export async function localFile(dir: string, name: string, bytes: Uint8Array, as?: string): Promise<LocalFile> {
  const path = join(dir, name);
  await Deno.mkdir(join(path, ".."), { recursive: true });
  await Deno.writeFile(path, bytes);
  const [file] = await collectFiles([path], { name: as ?? name });
  return file;
}

/** Every file under `dir` (hidden ones too), as "/"-separated relative names, sorted. */
export async function listTree(dir: string, prefix = ""): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const name = prefix + entry.name;
    if (entry.isDirectory) names.push(...await listTree(join(dir, entry.name), `${name}/`));
    else names.push(name);
  }
  return names.sort();
}

/** A plain socket to the server, for speaking the protocol by hand. */
export class RawClient {
  #conn: Deno.TcpConn;
  #received = "";
  #ended = false;
  #reading: Promise<void>;
  #waiters: (() => void)[] = [];

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.#reading = this.#read();
  }

  static async connect(address: HostPort): Promise<RawClient> {
    return new RawClient(await Deno.connect(address));
  }

  /** Sends text or bytes (all of them). */
  async send(data: string | Uint8Array): Promise<void> {
    let bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    while (bytes.length > 0) bytes = bytes.subarray(await this.#conn.write(bytes));
  }

  /** Sends EOF (the server sees the end of the upload). */
  async closeWrite(): Promise<void> {
    await this.#conn.closeWrite();
  }

  /** Waits for `count` reply lines (or the end of the connection) and returns every line so far. */
  async lines(count: number, timeoutMs = 10_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.#split().length < count && !this.#ended) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`Expected ${count} reply lines, got: ${JSON.stringify(this.#received)}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
    return this.#split();
  }

  /** Waits until the server closes the connection; returns every line it sent. */
  async ended(timeoutMs = 10_000): Promise<string[]> {
    await this.lines(Infinity, timeoutMs).catch(() => {});
    if (!this.#ended) throw new Error(`The server did not close; it sent: ${JSON.stringify(this.#received)}`);
    return this.#split();
  }

  /** Closes the socket and waits for the reader to stop. */
  async close(): Promise<void> {
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    await this.#reading;
  }

  #split(): string[] {
    return this.#received.split("\n").slice(0, -1);
  }

  async #read(): Promise<void> {
    const buffer = new Uint8Array(4096);
    const decoder = new TextDecoder();
    try {
      while (true) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        this.#received += decoder.decode(buffer.subarray(0, n), { stream: true });
        this.#wake();
      }
    } catch { /* reset or closed by us */ }
    this.#ended = true;
    this.#wake();
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }
}

/** Waits until `condition` holds (it may throw while not yet true), for at most `timeoutMs`. */
export function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  return waitUntil(condition, String(condition), timeoutMs);
}
