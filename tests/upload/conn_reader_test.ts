import assert from "node:assert/strict";
import { ConnReader } from "../../lib/upload/conn_reader.ts";

/** A source that delivers `chunks` one per read. */
function source(...chunks: string[]) {
  const queue = chunks.map((chunk) => new TextEncoder().encode(chunk));
  return {
    read(buffer: Uint8Array): Promise<number | null> {
      const next = queue.shift();
      if (!next) return Promise.resolve(null);
      buffer.set(next);
      return Promise.resolve(next.length);
    },
  };
}

Deno.test("conn reader: lines split across reads, CRLF, then raw bytes from the buffer first", async () => {
  const reader = new ConnReader(source("REA", "DY 0\r\nOK 1", " x\nrest", "more"));
  assert.equal(await reader.readLine(100), "READY 0");
  assert.equal(await reader.readLine(100), "OK 1 x");
  const into = new Uint8Array(16);
  assert.equal(await reader.read(into), 4);
  assert.equal(new TextDecoder().decode(into.subarray(0, 4)), "rest");
  assert.equal(await reader.read(into), 4);
  assert.equal(await reader.read(into), null);
  assert.equal(await reader.readLine(100), null);
});

Deno.test("conn reader: an overlong line and a line cut by the end of the stream are errors", async () => {
  await assert.rejects(new ConnReader(source("x".repeat(50))).readLine(10), RangeError);
  await assert.rejects(new ConnReader(source("no newline")).readLine(100), Deno.errors.UnexpectedEof);
});
