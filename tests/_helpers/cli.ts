/**
 * Test helpers that drive the CLI as a subprocess (`deno run main.ts ...`),
 * the same entry point the compiled binary runs.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { LineStream } from "../../lib/net/line_stream.ts";
import { type HostPort, parseAddress } from "../../lib/net/address.ts";

/** The project root. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const MAIN = `${ROOT}main.ts`;
const CONFIG = `${ROOT}deno.json`;
/** The permissions the compiled binary gets (see the compile task). */
export const WIREBOX_PERMISSIONS: readonly string[] = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-sys=networkInterfaces",
  "--allow-ffi",
];

/**
 * The arguments to `deno` that run wirebox (`run ... main.ts`), with the
 * compiled binary's permissions or `permissions`; wirebox's own follow.
 */
export function wireboxArgs(permissions: readonly string[] = WIREBOX_PERMISSIONS): string[] {
  return ["run", "-q", "--config", CONFIG, ...permissions, MAIN];
}

/** Options for {@linkcode runCli} and {@linkcode startCli}. */
export interface CliOptions {
  /** Bytes or text for stdin; without it stdin is closed at once. */
  stdin?: string | Uint8Array;
  /** Working directory. */
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Kill the process if it has not exited after this long.
   * @default {30000} */
  timeoutMs?: number;
  /** Deno permission flags instead of the compiled binary's. */
  permissions?: string[];
}

/** A finished CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A finished CLI run with stdout as raw bytes too. */
export interface CliBytesResult extends CliResult {
  stdoutBytes: Uint8Array;
}

function command(args: string[], options: CliOptions, stdin: "piped" | "null"): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [...wireboxArgs(options.permissions), ...args],
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
    stdin,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/**
 * Runs `wirebox ARGS...` to completion and returns its exit code and output.
 */
export async function runCli(args: string[], options: CliOptions = {}): Promise<CliBytesResult> {
  const child = command(args, options, options.stdin === undefined ? "null" : "piped");
  const killer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000);
  try {
    if (options.stdin !== undefined) {
      const writer = child.stdin.getWriter();
      const bytes = typeof options.stdin === "string" ? new TextEncoder().encode(options.stdin) : options.stdin;
      await writer.write(bytes).catch(() => {});
      await writer.close().catch(() => {});
    }
    const { code, stdout, stderr } = await child.output();
    const decoder = new TextDecoder();
    return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr), stdoutBytes: stdout };
  } finally {
    clearTimeout(killer);
  }
}

/** A CLI process still running: a server, or a client fed through `stdin`. */
export class CliProcess {
  #child: Deno.ChildProcess;
  #stdout: string[] = [];
  #stderr: string[] = [];
  #waiters: { pattern: RegExp; resolve: (line: string) => void; stream: "stdout" | "stderr" }[] = [];
  #drained: Promise<void>;
  #status: Promise<Deno.CommandStatus>;
  #stdin: WritableStreamDefaultWriter<Uint8Array> | undefined;

  constructor(child: Deno.ChildProcess, piped: boolean) {
    this.#child = child;
    this.#stdin = piped ? child.stdin.getWriter() : undefined;
    this.#drained = Promise.all([
      this.#collect(child.stdout, this.#stdout, "stdout"),
      this.#collect(child.stderr, this.#stderr, "stderr"),
    ]).then(() => {});
    this.#status = child.status;
  }

  /** The process ID. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Lines printed to stdout so far. */
  get stdout(): string[] {
    return this.#stdout;
  }

  /** Lines printed to stderr so far. */
  get stderr(): string[] {
    return this.#stderr;
  }

  async #collect(stream: ReadableStream<Uint8Array>, into: string[], name: "stdout" | "stderr"): Promise<void> {
    for await (const line of stream.pipeThrough(new LineStream({ maxLineBytes: 1 << 20 }))) {
      if (typeof line !== "string") continue;
      into.push(line);
      for (const waiter of [...this.#waiters]) {
        if (waiter.stream === name && waiter.pattern.test(line)) {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
    // The stream ended: nobody still waiting will ever be satisfied.
    for (const waiter of this.#waiters.filter((w) => w.stream === name)) waiter.resolve("");
  }

  /**
   * Waits for a line matching `pattern` (already printed or still to come).
   * Rejects after `timeoutMs` or if the stream ends first, with the output so far.
   */
  async waitFor(pattern: RegExp, options: { stream?: "stdout" | "stderr"; timeoutMs?: number } = {}): Promise<string> {
    const stream = options.stream ?? "stdout";
    const seen = (stream === "stdout" ? this.#stdout : this.#stderr).find((line) => pattern.test(line));
    if (seen !== undefined) return seen;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const line = await Promise.race([
      new Promise<string>((resolve) => this.#waiters.push({ pattern, resolve, stream })),
      new Promise<string>((resolve) => timer = setTimeout(() => resolve(""), options.timeoutMs ?? 20_000)),
    ]).finally(() => clearTimeout(timer));
    if (line === "" && !pattern.test("")) {
      throw new Error(
        `No ${stream} line matched ${pattern}.\nstdout:\n${this.#stdout.join("\n")}\nstderr:\n${
          this.#stderr.join("\n")
        }`,
      );
    }
    return line;
  }

  /** Writes to the process's stdin. */
  async write(text: string | Uint8Array): Promise<void> {
    if (!this.#stdin) throw new Error("stdin is not piped");
    await this.#stdin.write(typeof text === "string" ? new TextEncoder().encode(text) : text);
  }

  /** Closes the process's stdin (EOF). */
  async closeStdin(): Promise<void> {
    const stdin = this.#stdin;
    this.#stdin = undefined;
    await stdin?.close().catch(() => {});
  }

  /** Waits for the process to exit by itself (killing it after `timeoutMs`). */
  async exit(timeoutMs = 20_000): Promise<CliResult> {
    const timer = setTimeout(() => this.#kill("SIGKILL"), timeoutMs);
    try {
      await this.closeStdin();
      const { code } = await this.#status;
      await this.#drained;
      return { code, stdout: this.#stdout.join("\n"), stderr: this.#stderr.join("\n") };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends `signal` (SIGTERM by default) and waits for the exit. */
  stop(signal: Deno.Signal = "SIGTERM", timeoutMs = 20_000): Promise<CliResult> {
    this.#kill(signal);
    return this.exit(timeoutMs);
  }

  #kill(signal: Deno.Signal): void {
    try {
      this.#child.kill(signal);
    } catch { /* already exited */ }
  }

  /** Stops the process if a test left it running. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop("SIGKILL");
  }
}

/**
 * Starts `wirebox ARGS...` and, when `firstLine` is given (the default for
 * servers), waits for its first stdout line.
 */
export async function startCli(
  args: string[],
  options: CliOptions & { stdinPiped?: boolean; waitForFirstLine?: boolean } = {},
): Promise<CliProcess> {
  const process = new CliProcess(command(args, options, options.stdinPiped ? "piped" : "null"), !!options.stdinPiped);
  if (options.waitForFirstLine ?? true) {
    try {
      await process.waitFor(/./);
    } catch (error) {
      await process.stop("SIGKILL");
      throw error;
    }
  }
  return process;
}

/**
 * The endpoints a server announced on its first line (`name listening on
 * tcp://HOST:PORT udp://...`), by scheme. A wildcard host (0.0.0.0, ::)
 * becomes the loopback address, for connecting.
 */
export function endpointsOf(line: string): Record<string, HostPort> {
  const found: Record<string, HostPort> = {};
  for (const [, scheme, address] of line.matchAll(/(\w+):\/\/(\S+)/g)) {
    const parsed = parseAddress(address);
    if (parsed.hostname === "0.0.0.0") parsed.hostname = "127.0.0.1";
    if (parsed.hostname === "::") parsed.hostname = "::1";
    found[scheme] ??= parsed;
  }
  return found;
}

/** Starts a server command and returns it with its announced endpoints. */
export async function startServer(
  args: string[],
  options: CliOptions = {},
): Promise<{ server: CliProcess; endpoints: Record<string, HostPort> }> {
  const server = await startCli(args, options);
  return { server, endpoints: endpointsOf(server.stdout[0]) };
}

/** Which of `programs` are missing from PATH (for skipping interop tests with a visible reason). */
export function missingPrograms(...programs: string[]): string[] {
  const path = (Deno.env.get("PATH") ?? "").split(":");
  return programs.filter((program) =>
    !path.some((dir) => {
      try {
        return Deno.statSync(`${dir}/${program}`).isFile;
      } catch {
        return false;
      }
    })
  );
}
