import assert from "node:assert/strict";
import { OutputPressure } from "../../lib/chat/pressure.ts";

Deno.test("OutputPressure: overloaded while a member is behind and still receiving", async () => {
  const pressure = new OutputPressure();
  const a = pressure.join({ stalledMs: 0 });
  const b = pressure.join({ stalledMs: 0 });
  assert.equal(pressure.members, 2);
  assert.equal(pressure.overloaded, false);
  a.congested(true);
  assert.equal(pressure.overloaded, true);
  let relieved = false;
  const relief = pressure.relief().then(() => relieved = true);
  b.congested(true);
  a.congested(false);
  await Promise.resolve();
  assert.equal(relieved, false, "b is still behind");
  b.leave();
  await relief;
  assert.equal(pressure.overloaded, false);
  a.leave();
  a.leave(); // twice is harmless
  assert.equal(pressure.members, 0);
});

Deno.test("OutputPressure: a member whose write stalled holds nobody back", async () => {
  const pressure = new OutputPressure({ stuckMs: 30, sweepMs: 10 });
  const source = { stalledMs: 0 };
  const slow = pressure.join(source);
  slow.congested(true);
  assert.equal(pressure.overloaded, true);
  source.stalledMs = 1000; // its peer stopped reading
  await pressure.relief(); // the sweep finds it stuck
  assert.equal(pressure.overloaded, false);
  source.stalledMs = 0; // it reads again: it counts again
  await new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (pressure.overloaded) {
        clearInterval(check);
        resolve();
      }
    }, 5);
  });
  slow.leave();
  assert.equal(pressure.overloaded, false);
});

Deno.test("OutputPressure: a member already stalled when it fills up is stuck from the start", () => {
  const pressure = new OutputPressure({ stuckMs: 100 });
  const stuck = pressure.join({ stalledMs: 5000 });
  stuck.congested(true);
  assert.equal(pressure.overloaded, false);
  stuck.leave();
});
