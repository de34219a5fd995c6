/**
 * Waiting for a condition in tests without sleeping a guessed time: polls
 * `condition` every few milliseconds and fails with `what` after `timeoutMs`.
 *
 * @module
 */

/** Resolves once `condition()` is true (a condition that throws counts as not yet); rejects after `timeoutMs`. */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await Promise.resolve().then(condition).catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
