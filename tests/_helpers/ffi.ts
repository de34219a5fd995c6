/**
 * Tests of the libc (FFI) UDP path. Where it cannot run (not 64-bit Linux
 * with glibc, or no --allow-ffi), the test is registered as ignored with the
 * reason in its name, so the skip is visible in the report.
 *
 * @module
 */

import { libcUdpAvailable } from "../../lib/net/libc_udp.ts";

/** Why the libc UDP path cannot run here, or undefined when it can. */
export const LIBC_MISSING = libcUdpAvailable() ? undefined : "libc UDP needs 64-bit Linux, glibc and --allow-ffi";

/**
 * Registers `fn` as a test that runs only where libc UDP sockets can be used.
 *
 * @example Usage
 * ```ts
 * libcTest("libc: a datagram goes out", async () => {});
 * ```
 */
export function libcTest(name: string, fn: (t: Deno.TestContext) => Promise<void> | void): void {
  if (LIBC_MISSING) {
    Deno.test({ name: `${name} (SKIPPED: ${LIBC_MISSING})`, ignore: true, fn });
    return;
  }
  Deno.test(name, fn);
}
