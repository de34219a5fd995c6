/**
 * Tests that need a real peer program (tftp-hpa, ncat, python3, chromium...).
 * When one is missing the test is registered as ignored with the reason in
 * its name, so the skip is visible in the report; `.ci/run` installs every
 * peer, so in CI none is skipped.
 *
 * @module
 */

import { missingPrograms } from "./cli.ts";

/**
 * Registers `fn` as a test that runs only when every program in `programs` is on PATH.
 *
 * @example Usage
 * ```ts
 * peerTest("echo: the classic Python client", ["python3"], async () => {});
 * ```
 */
export function peerTest(name: string, programs: string[], fn: (t: Deno.TestContext) => Promise<void>): void {
  const missing = missingPrograms(...programs);
  if (missing.length > 0) {
    Deno.test({ name: `${name} (SKIPPED: ${missing.join(", ")} not installed)`, ignore: true, fn });
    return;
  }
  Deno.test(name, fn);
}
