/**
 * How the CLI speaks: colours that honour NO_COLOR and non-terminals, and
 * the one place where failures become a message, a hint and an exit code.
 *
 * @module
 */

import { isDisconnect } from "../net/errors.ts";

/** A mistake in how the command was called: printed with a hint, exit code 2. */
export class UsageError extends TypeError {
  /** Which command's help to point at (`chat`, `tftp`...), if any. */
  readonly command: string | undefined;

  constructor(message: string, command?: string) {
    super(message);
    this.name = "UsageError";
    this.command = command;
  }
}

/** Exit codes of the CLI. */
export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;

const encoder = new TextEncoder();

/** Whether to colour what goes to `stream`: a terminal, and NO_COLOR unset. */
export function useColor(stream: { isTerminal(): boolean } = Deno.stderr): boolean {
  return !Deno.noColor && stream.isTerminal();
}

/** ANSI colours, applied only when `enabled`. */
export function paint(
  text: string,
  color: "red" | "green" | "yellow" | "cyan" | "dim" | "bold" | number,
  enabled: boolean,
): string {
  if (!enabled) return text;
  const codes = { red: "31", green: "32", yellow: "33", cyan: "36", dim: "2", bold: "1" } as const;
  const code = typeof color === "number" ? `38;5;${color}` : codes[color];
  return `\x1b[${code}m${text}\x1b[0m`;
}

/** Writes a line to stdout. */
export function print(line: string): void {
  writeLine(Deno.stdout, line);
}

/** Writes a line to stderr. */
export function printError(line: string): void {
  writeLine(Deno.stderr, line);
}

function writeLine(stream: { writeSync(p: Uint8Array): number }, line: string): void {
  const bytes = encoder.encode(line + "\n");
  try {
    let offset = 0;
    while (offset < bytes.length) offset += stream.writeSync(bytes.subarray(offset));
  } catch (error) {
    // Whoever read our output has gone (a closed pipe): nothing left to tell.
    if (!isDisconnect(error)) throw error;
  }
}

/** What to do about a failure, by its kind. */
function hintFor(error: Error): string | undefined {
  const message = error.message;
  if (error instanceof Deno.errors.AddrInUse) {
    return "another program is using that port: choose another one (port 0 picks a free one)";
  }
  if (error instanceof Deno.errors.PermissionDenied && message.startsWith("Cannot bind")) {
    const port = Number(/:(\d+):/.exec(message)?.[1]);
    return port < 1024 ? "ports below 1024 need root privileges: choose a port above 1023 with --port" : undefined;
  }
  if (error instanceof Deno.errors.AddrNotAvailable) return "use an address of this machine, or 0.0.0.0 for all";
  if (error instanceof Deno.errors.ConnectionRefused) {
    return "nothing is listening there: check the host, the port and that the server runs";
  }
  if (error instanceof Deno.errors.TimedOut && message.startsWith("Cannot connect")) {
    return "the host did not answer: check the address and any firewall in between";
  }
  if (message.startsWith("Cannot connect") && message.includes("host not found")) {
    return "check the spelling of the host name, or use its IP address";
  }
  if (error instanceof Deno.errors.NotCapable) {
    return "run through the deno.json tasks, or the compiled binary, which grant the permissions wirebox needs";
  }
  return undefined;
}

/**
 * Prints a failure as one line (plus a hint line when there is one) and
 * returns the exit code: 2 for usage errors, 1 for runtime failures. An
 * error that is not an expected failure (a bug) keeps its stack trace.
 *
 * @example Usage
 * ```ts
 * import { reportError } from "./output.ts";
 * const code = reportError(new Deno.errors.AddrInUse("Cannot bind to tcp 0.0.0.0:9999: address already in use"));
 * console.log(code); // 1
 * ```
 */
export function reportError(error: unknown): number {
  const color = useColor();
  const prefix = paint("wirebox:", "red", color);
  if (error instanceof UsageError) {
    printError(`${prefix} ${error.message}`);
    const help = error.command ? `wirebox ${error.command} --help` : "wirebox --help";
    printError(paint(`Try '${help}' for usage.`, "dim", color));
    return EXIT.usage;
  }
  if (isExpected(error)) {
    printError(`${prefix} ${error.message}`);
    const hint = hintFor(error);
    if (hint) printError(paint(`hint: ${hint}`, "dim", color));
    return EXIT.failure;
  }
  printError(`${prefix} unexpected error (please report it): ${error instanceof Error ? error.stack : String(error)}`);
  return EXIT.failure;
}

/** Expected failures: OS and network conditions, refusals, out-of-range values and
 * errors raised deliberately with a plain `Error`. A TypeError or ReferenceError is a bug. */
function isExpected(error: unknown): error is Error {
  if (!(error instanceof Error)) return false;
  return Object.values(Deno.errors).some((kind) => error instanceof kind) ||
    error instanceof RangeError || error.constructor === Error;
}

/**
 * Fails the command: prints `message` (and `hint`) and exits with code 1.
 * For fatal conditions found deep in a command; prefer throwing where a caller can recover.
 *
 * @example Usage
 * ```ts
 * import { error } from "./output.ts";
 * if (false) error("Cannot read config.json: not found", "create it with wirebox init");
 * ```
 */
export function error(message: string, hint?: string): never {
  const color = useColor();
  printError(`${paint("wirebox:", "red", color)} ${message}`);
  if (hint) printError(paint(`hint: ${hint}`, "dim", color));
  Deno.exit(EXIT.failure);
}

/**
 * Prints a server's first line, which tests and scripts read for the
 * address: `echo listening on tcp://127.0.0.1:10888 udp://127.0.0.1:10888`.
 *
 * @example Usage
 * ```ts
 * import { announce } from "./output.ts";
 * announce("echo", ["tcp://127.0.0.1:10888"]);
 * ```
 */
export function announce(name: string, endpoints: string[]): void {
  print(`${name} listening on ${endpoints.join(" ")}`);
}

/**
 * A log function for servers: each line goes to stdout stamped with the
 * local time, or nowhere when `quiet`.
 *
 * @example Usage
 * ```ts
 * import { serverLog } from "./output.ts";
 * const log = serverLog(false);
 * log("echo: 127.0.0.1:5000 connected"); // "12:00:00 echo: 127.0.0.1:5000 connected"
 * ```
 */
export function serverLog(quiet: boolean): (line: string) => void {
  if (quiet) return () => {};
  return (line) => print(`${new Date().toTimeString().slice(0, 8)} ${line}`);
}
