/**
 * What every libc (`Deno.dlopen`) socket module shares: buffers libc may be
 * handed, `errno`, and the error a failed call means.
 *
 * @module
 */

/**
 * A buffer whose memory lives outside the V8 heap, so that its address is
 * stable and libc may be handed it.
 *
 * @example Usage
 * ```ts
 * import { ownedBuffer } from "./libc.ts";
 * const pollFds = ownedBuffer(16);
 * ```
 */
export function ownedBuffer(length: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(new ArrayBuffer(length));
}

/**
 * The calling thread's `errno`, read right after a failed call.
 *
 * @example Usage
 * ```ts
 * import { errno } from "./libc.ts";
 * const libc = Deno.dlopen("libc.so.6", { __errno_location: { parameters: [], result: "pointer" } });
 * errno(libc.symbols); // 0 until a call fails
 * libc.close();
 * ```
 */
export function errno(symbols: { __errno_location(): Deno.PointerValue }): number {
  const location = symbols.__errno_location();
  return location === null ? 0 : new Deno.UnsafePointerView(location).getInt32();
}

const ERRNO: Record<number, [new (message: string) => Error, string]> = {
  1: [Deno.errors.PermissionDenied, "operation not permitted"],
  13: [Deno.errors.PermissionDenied, "permission denied"],
  22: [TypeError, "invalid argument"],
  32: [Deno.errors.BrokenPipe, "broken pipe"],
  90: [RangeError, "message too long"],
  97: [Deno.errors.AddrNotAvailable, "address family not supported"],
  98: [Deno.errors.AddrInUse, "address already in use"],
  99: [Deno.errors.AddrNotAvailable, "address not available"],
  101: [Deno.errors.ConnectionRefused, "network is unreachable"],
  104: [Deno.errors.ConnectionReset, "connection reset"],
  105: [Error, "no buffer space available"],
  111: [Deno.errors.ConnectionRefused, "connection refused"],
  113: [Deno.errors.ConnectionRefused, "no route to host"],
};

/**
 * The error for a failed call: the class that fits `errno` (so callers can
 * tell `ConnectionRefused` from `AddrInUse`), with the call and the reason.
 *
 * @example Usage
 * ```ts
 * import { callError } from "./libc.ts";
 * callError("bind", 98).message; // "bind failed: address already in use (os error 98)"
 * ```
 */
export function callError(call: string, code: number): Error {
  const [Kind, reason] = ERRNO[code] ?? [Error, `error ${code}`];
  return new Kind(`${call} failed: ${reason} (os error ${code})`);
}
