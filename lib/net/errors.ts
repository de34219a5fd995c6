/**
 * Socket errors rewritten into one clear sentence that names the operation
 * and the address, keeping Deno's error class (so callers can still tell
 * `AddrInUse` from `PermissionDenied`) and the original as `cause`.
 *
 * @module
 */

import { formatAddress, type HostPort } from "./address.ts";

const REASONS: [new (...args: never[]) => Error, string][] = [
  [Deno.errors.AddrInUse, "address already in use"],
  [Deno.errors.AddrNotAvailable, "address not available on this machine"],
  [Deno.errors.PermissionDenied, "permission denied"],
  [Deno.errors.ConnectionRefused, "connection refused"],
  [Deno.errors.ConnectionReset, "connection reset by peer"],
  [Deno.errors.TimedOut, "timed out"],
  [Deno.errors.NotFound, "host not found"],
];

/** Short lower-case reason for a socket error ("address already in use"). */
export function reasonOf(error: unknown): string {
  for (const [kind, reason] of REASONS) if (error instanceof kind) return reason;
  const message = error instanceof Error ? error.message : String(error);
  if (message.startsWith("failed to lookup address")) return "host not found (the name does not resolve)";
  // Deno appends "(os error N)"; the number helps nobody reading a CLI line.
  return message.replace(/\s*\(os error \d+\)$/, "").replace(/^./, (c) => c.toLowerCase());
}

/**
 * The same kind of error (so callers can still tell `TimedOut` from
 * `NotFound`) with a new message, the original as its `cause`.
 *
 * @example Usage
 * ```ts
 * import { rewrap } from "./errors.ts";
 * const error = rewrap(new Deno.errors.TimedOut("timed out"), "Cannot get boot.img: timed out");
 * error instanceof Deno.errors.TimedOut; // true
 * ```
 */
export function rewrap(error: unknown, message: string): Error {
  const Kind = error instanceof Error ? (error.constructor as ErrorConstructor) : Error;
  try {
    return new Kind(message, { cause: error });
  } catch {
    return new Error(message, { cause: error });
  }
}

/**
 * Rewrites a bind failure as `Cannot bind to tcp 0.0.0.0:69: permission denied`.
 *
 * @example Usage
 * ```ts
 * import { bindError } from "./errors.ts";
 * try {
 *   Deno.listen({ port: 80 });
 * } catch (error) {
 *   throw bindError(error, "tcp", { hostname: "0.0.0.0", port: 80 });
 * }
 * ```
 */
export function bindError(error: unknown, transport: string, address: HostPort): Error {
  return rewrap(error, `Cannot bind to ${transport} ${formatAddress(address)}: ${reasonOf(error)}`);
}

/**
 * Rewrites a connect failure as `Cannot connect to 127.0.0.1:9: connection refused`.
 *
 * @example Usage
 * ```ts
 * import { connectError } from "./errors.ts";
 * const address = { hostname: "127.0.0.1", port: 9 };
 * try {
 *   await Deno.connect(address);
 * } catch (error) {
 *   throw connectError(error, address);
 * }
 * ```
 */
export function connectError(error: unknown, address: HostPort): Error {
  return rewrap(error, `Cannot connect to ${formatAddress(address)}: ${reasonOf(error)}`);
}

/**
 * Whether an error is the ordinary end of a connection (reset, broken pipe,
 * closed under us, EOF mid-read) rather than a fault worth reporting.
 *
 * @example Usage
 * ```ts
 * import { isDisconnect } from "./errors.ts";
 * isDisconnect(new Deno.errors.ConnectionReset("reset")); // true
 * ```
 */
export function isDisconnect(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted ||
    error instanceof Deno.errors.UnexpectedEof ||
    error instanceof Deno.errors.NotConnected;
}

/**
 * Closes a socket, file or listener that may already be closed.
 *
 * @example Usage
 * ```ts
 * import { closeQuietly } from "./errors.ts";
 * const listener = Deno.listen({ port: 0 });
 * closeQuietly(listener);
 * closeQuietly(listener); // no error the second time
 * ```
 */
export function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch { /* already closed */ }
}
