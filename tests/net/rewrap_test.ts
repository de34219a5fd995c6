import assert from "node:assert/strict";
import { rewrap } from "../../lib/net/errors.ts";

Deno.test("rewrap keeps the error's class and chains the original as cause", () => {
  const original = new Deno.errors.TimedOut("timed out");
  const error = rewrap(original, "Cannot get boot.img: timed out");
  assert.ok(error instanceof Deno.errors.TimedOut);
  assert.equal(error.message, "Cannot get boot.img: timed out");
  assert.equal(error.cause, original);
  assert.equal(rewrap("text", "m").constructor, Error);
});
