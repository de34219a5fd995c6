import assert from "node:assert/strict";
import { RetransmitTimer } from "../../lib/tftp/rto.ts";

Deno.test("rto: starts at the initial value, then follows the measured round trip within bounds", () => {
  const timer = new RetransmitTimer();
  assert.equal(timer.timeoutMs, 1000);
  for (let i = 0; i < 20; i++) timer.sample(0.1);
  assert.equal(timer.timeoutMs, 5, "loopback round trips: the lower bound");
  for (let i = 0; i < 50; i++) timer.sample(40);
  assert.ok(timer.timeoutMs > 40 && timer.timeoutMs < 80, String(timer.timeoutMs));
  for (let i = 0; i < 50; i++) timer.sample(10_000);
  assert.equal(timer.timeoutMs, 2000, "the upper bound");
});

Deno.test("rto: each timeout doubles the wait until the retries run out; progress resets it", () => {
  const timer = new RetransmitTimer({ retries: 3, minGiveUpMs: 0 });
  for (let i = 0; i < 10; i++) timer.sample(10);
  const base = timer.timeoutMs;
  assert.ok(timer.expired());
  assert.equal(timer.timeoutMs, base * 2);
  assert.ok(timer.expired());
  assert.ok(timer.expired());
  assert.equal(timer.retransmissions, 3);
  assert.equal(timer.expired(), false, "out of retries");
  timer.progress();
  assert.equal(timer.timeoutMs, base);
});

Deno.test("rto: in adaptive mode it keeps trying until the peer has been silent for minGiveUpMs", async () => {
  const timer = new RetransmitTimer({ retries: 1, minGiveUpMs: 30 });
  assert.ok(timer.expired());
  assert.ok(timer.expired(), "out of retries, but silent for less than 30 ms");
  await new Promise((resolve) => setTimeout(resolve, 35));
  assert.equal(timer.expired(), false);
});

Deno.test("rto: a negotiated timeout is used exactly, without backoff, and gives up after the retries", () => {
  const timer = new RetransmitTimer({ timeoutMs: 3000, retries: 2 });
  timer.sample(1);
  assert.equal(timer.timeoutMs, 3000);
  assert.ok(timer.expired());
  assert.equal(timer.timeoutMs, 3000);
  assert.ok(timer.expired());
  assert.equal(timer.expired(), false);
});

Deno.test("rto: a wait is armed once; remainingMs runs down", async () => {
  const timer = new RetransmitTimer({ timeoutMs: 40 });
  timer.arm();
  assert.ok(timer.remainingMs > 30);
  await new Promise((resolve) => setTimeout(resolve, 45));
  assert.equal(timer.remainingMs, 0);
});

Deno.test("rto: a snapshot carries the whole state (measured RTT, backoff, the armed wait) to a new timer", () => {
  const timer = new RetransmitTimer({ retries: 3, minMs: 2, initialMs: 500 });
  timer.sample(4);
  timer.sample(6);
  timer.arm();
  assert.ok(timer.expired());
  const snapshot = structuredClone(timer.snapshot());
  const copy = RetransmitTimer.fromSnapshot(snapshot);
  assert.equal(copy.srtt, timer.srtt);
  assert.equal(copy.timeoutMs, timer.timeoutMs);
  assert.equal(copy.retransmissions, 1);
  assert.ok(Math.abs(copy.remainingMs - timer.remainingMs) < 5);
  // And back: the original takes over what the copy learned.
  copy.sample(5);
  timer.restore(copy.snapshot());
  assert.equal(timer.srtt, copy.srtt);
  const fixed = RetransmitTimer.fromSnapshot(new RetransmitTimer({ timeoutMs: 3000 }).snapshot());
  assert.equal(fixed.timeoutMs, 3000);
});

Deno.test("rto: a retry count given explicitly is exact; only the default one waits for 5 s of silence", () => {
  const given = new RetransmitTimer({ retries: 1 });
  assert.ok(given.expired());
  assert.equal(given.expired(), false, "one retry, then give up at once");
  const byDefault = new RetransmitTimer();
  for (let i = 0; i < 6; i++) assert.ok(byDefault.expired());
  assert.ok(byDefault.expired(), "out of the 6 default retries, but the peer has been silent for less than 5 s");
  assert.equal(byDefault.retransmissions, 7, "and each retry beyond 6 is counted");
});

Deno.test("rto: withTimeout keeps what was measured and switches between a fixed and the adaptive timeout", () => {
  const asked = new RetransmitTimer({ timeoutMs: 3000, retries: 2, minMs: 2 });
  asked.sample(4);
  assert.equal(asked.timeoutMs, 3000);
  const declined = asked.withTimeout(undefined);
  assert.equal(declined.srtt, 4);
  assert.equal(declined.timeoutMs, 4 + 4 * 2, "the measured round trip rules (srtt + 4 deviations)");
  assert.ok(declined.expired());
  assert.equal(declined.timeoutMs, 24, "and it backs off");
  assert.ok(declined.expired());
  assert.equal(declined.expired(), false, "with the same retries");
  assert.equal(asked.withTimeout(3000).timeoutMs, 3000);
});
