import assert from "node:assert/strict";
import { delay, IdleTimer, withTimeout } from "../../lib/net/timeout.ts";

Deno.test("withTimeout rejects with TimedOut naming the wait, and clears its timer", async () => {
  const never = new Promise<never>(() => {});
  await assert.rejects(
    withTimeout(never, 10, "reading the header"),
    (error: Error) =>
      error instanceof Deno.errors.TimedOut && error.message === "reading the header timed out after 0.01 s",
  );
  assert.equal(await withTimeout(Promise.resolve(42), 10_000, "quick"), 42); // no timer left behind (sanitizer)
});

Deno.test("delay rejects when aborted", async () => {
  const controller = new AbortController();
  const waiting = delay(60_000, controller.signal);
  controller.abort(new Error("stop"));
  await assert.rejects(waiting, /stop/);
});

Deno.test("IdleTimer fires after inactivity, and touching postpones it", async () => {
  const fired: number[] = [];
  let resolveFired!: () => void;
  const done = new Promise<void>((resolve) => resolveFired = resolve);
  const started = Date.now();
  const timer = new IdleTimer(60, () => {
    fired.push(Date.now() - started);
    resolveFired();
  });
  // Keep it busy for a while: it must not fire while touched.
  const busyUntil = Date.now() + 150;
  while (Date.now() < busyUntil) {
    timer.touch();
    await delay(10);
  }
  await done;
  timer.stop();
  assert.equal(fired.length, 1);
  assert.ok(fired[0] >= 150 + 60 - 15, `fired after ${fired[0]} ms, before the activity stopped`);
});

Deno.test("IdleTimer.stop prevents the call", async () => {
  let fired = false;
  const timer = new IdleTimer(10, () => fired = true);
  timer.stop();
  await delay(30);
  assert.equal(fired, false);
});
