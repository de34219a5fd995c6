import assert from "node:assert/strict";
import { WriteQueue } from "../../lib/chat/write_queue.ts";

/** A writer that records each write; it can take only part, hold writes until released, or fail. */
class FakeWriter {
  writes: Uint8Array[] = [];
  maxPerWrite = Infinity;
  fail: Error | undefined;
  #held: (() => void)[] = [];
  hold = false;

  write(bytes: Uint8Array): Promise<number> {
    if (this.fail) return Promise.reject(this.fail);
    const n = Math.min(bytes.length, this.maxPerWrite);
    this.writes.push(bytes.slice(0, n));
    if (!this.hold) return Promise.resolve(n);
    return new Promise((resolve) => this.#held.push(() => resolve(n)));
  }

  release(): void {
    for (const resolve of this.#held.splice(0)) resolve();
  }

  get text(): string {
    return this.writes.map((bytes) => new TextDecoder().decode(bytes)).join("");
  }
}

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("WriteQueue: what one task pushes leaves in one write", async () => {
  const writer = new FakeWriter();
  const queue = new WriteQueue(writer);
  queue.push(bytes("a\n"));
  queue.push(bytes("b\n"));
  queue.push(bytes("c\n"));
  await queue.drained();
  assert.equal(writer.writes.length, 1);
  assert.equal(writer.text, "a\nb\nc\n");
});

Deno.test("WriteQueue: pushes during a write gather for the next one; partial writes are completed", async () => {
  const writer = new FakeWriter();
  writer.hold = true;
  const queue = new WriteQueue(writer);
  queue.push(bytes("first\n"));
  await Promise.resolve();
  queue.push(bytes("x\n"));
  queue.push(bytes("y\n"));
  assert.equal(queue.queuedBytes, 4);
  writer.hold = false;
  writer.maxPerWrite = 3;
  writer.release();
  await queue.drained();
  assert.equal(writer.text, "first\nx\ny\n");
  assert.deepEqual(writer.writes.map((write) => write.length), [6, 3, 1]);
});

Deno.test("WriteQueue: one write carries at most 64 KiB", async () => {
  const writer = new FakeWriter();
  const queue = new WriteQueue(writer, { maxBytes: 1 << 20 });
  const chunk = new Uint8Array(1000).fill(0x61);
  for (let i = 0; i < 200; i++) queue.push(chunk);
  await queue.drained();
  assert.ok(writer.writes.every((write) => write.length <= 64 * 1024));
  assert.equal(writer.writes.reduce((sum, write) => sum + write.length, 0), 200_000);
  assert.equal(writer.writes.length, 4);
});

Deno.test("WriteQueue: refuses past its bound; congestion is reported at the high-water mark and cleared at half", async () => {
  const writer = new FakeWriter();
  writer.hold = true;
  const changes: boolean[] = [];
  const queue = new WriteQueue(writer, { maxBytes: 100, onCongestion: (congested) => changes.push(congested) });
  assert.ok(queue.push(new Uint8Array(10))); // taken into the first write at once
  await Promise.resolve();
  assert.ok(queue.push(new Uint8Array(20)));
  assert.ok(!queue.congested);
  assert.ok(queue.push(new Uint8Array(10))); // 30 > 100 / 4
  assert.ok(queue.congested);
  assert.ok(queue.push(new Uint8Array(70)));
  assert.ok(!queue.push(new Uint8Array(1)), "past maxBytes");
  assert.equal(queue.queuedBytes, 100);
  assert.ok(queue.stalledMs >= 0);
  const below = queue.below(50);
  writer.hold = false;
  writer.release();
  await below;
  await queue.drained();
  assert.deepEqual(changes, [true, false]);
  assert.equal(queue.stalledMs, 0);
});

Deno.test("WriteQueue: a failed write is reported once and everything after it refused", async () => {
  const writer = new FakeWriter();
  writer.fail = new Deno.errors.BrokenPipe("gone");
  const errors: unknown[] = [];
  const queue = new WriteQueue(writer, { onError: (error) => errors.push(error) });
  queue.push(bytes("lost\n"));
  await queue.drained();
  assert.equal(errors.length, 1);
  assert.ok(queue.failed);
  assert.equal(queue.push(bytes("more\n")), false);
  await queue.drained();
  assert.equal(errors.length, 1);
});
