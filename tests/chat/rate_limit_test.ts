import assert from "node:assert/strict";
import { TokenBucket } from "../../lib/chat/rate_limit.ts";

Deno.test("TokenBucket: burst, then the rate", () => {
  const bucket = new TokenBucket(10, 3, 0);
  assert.deepEqual([0, 0, 0, 0].map(() => bucket.take(0)), [true, true, true, false]);
  assert.equal(bucket.waitMs(0), 100);
  assert.equal(bucket.take(50), false);
  assert.equal(bucket.take(100), true);
  assert.equal(bucket.isFull(100), false);
  assert.equal(bucket.isFull(400), true);
  assert.equal(bucket.waitMs(400), 0);
});

Deno.test("TokenBucket: rate 0 never limits; impossible limits are refused", () => {
  const free = new TokenBucket(0, 1, 0);
  for (let i = 0; i < 1000; i++) assert.ok(free.take(0));
  assert.throws(() => new TokenBucket(-1, 5), RangeError);
  assert.throws(() => new TokenBucket(5, 0), RangeError);
});
