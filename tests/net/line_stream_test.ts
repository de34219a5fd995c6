import assert from "node:assert/strict";
import { type LineChunk, LineFramer, LineStream } from "../../lib/net/line_stream.ts";

const encode = (text: string) => new TextEncoder().encode(text);

async function frame(chunks: (string | Uint8Array)[], maxLineBytes = 4096): Promise<LineChunk[]> {
  const bytes = chunks.map((chunk) => typeof chunk === "string" ? encode(chunk) : chunk);
  return await Array.fromAsync(ReadableStream.from(bytes).pipeThrough(new LineStream({ maxLineBytes })));
}

const OVERLONG = (max: number) => ({ overlong: true, maxLineBytes: max });

Deno.test("LineStream: LF and CRLF endings, a last line without newline", async () => {
  assert.deepEqual(await frame(["a\r\nb\nc"]), ["a", "b", "c"]);
  assert.deepEqual(await frame(["\n\r\n"]), ["", ""]);
  assert.deepEqual(await frame([]), []);
  // A lone CR inside a line is content, not an ending.
  assert.deepEqual(await frame(["a\rb\n"]), ["a\rb"]);
});

Deno.test("LineStream: lines split anywhere across chunks, CRLF split between chunks", async () => {
  const text = "first line\r\nsecond\nthird ✓ line\r\n";
  const bytes = encode(text);
  for (let cut = 0; cut <= bytes.length; cut++) {
    assert.deepEqual(await frame([bytes.subarray(0, cut), bytes.subarray(cut)]), [
      "first line",
      "second",
      "third ✓ line",
    ]);
  }
  // One byte at a time.
  assert.deepEqual(await frame([...bytes].map((b) => Uint8Array.of(b))), ["first line", "second", "third ✓ line"]);
});

Deno.test("LineStream: invalid UTF-8 is replaced, never thrown", async () => {
  assert.deepEqual(await frame([Uint8Array.of(0x61, 0xff, 0xfe, 0x62, 0x0a, 0xc3, 0x0a)]), [
    "a\ufffd\ufffdb",
    "\ufffd",
  ]);
});

Deno.test("LineStream: an overlong line is reported once, the rest of it dropped, then framing resumes", async () => {
  assert.deepEqual(await frame(["12345\nabcdefgh\nok\n"], 5), ["12345", OVERLONG(5), "ok"]);
  // The cap counts bytes without the line ending: exactly max bytes plus CRLF is accepted.
  assert.deepEqual(await frame(["12345\r\n"], 5), ["12345"]);
  assert.deepEqual(await frame(["123456\r\n"], 5), [OVERLONG(5)]);
  // Reported as soon as the cap is passed, across chunks, and only once per line.
  assert.deepEqual(await frame(["abc", "def", "ghi", "jkl\nnext\n"], 5), [OVERLONG(5), "next"]);
  // A CR at the cap, its LF in the next chunk.
  assert.deepEqual(await frame(["12345\r", "\nx\n"], 5), ["12345", "x"]);
  // Overlong last line without a newline.
  assert.deepEqual(await frame(["abcdefgh"], 5), [OVERLONG(5)]);
});

Deno.test("LineFramer: memory stays bounded while a peer sends megabytes without a newline", () => {
  const framer = new LineFramer({ maxLineBytes: 4096 });
  const chunk = new Uint8Array(64 * 1024).fill(0x61);
  const out: LineChunk[] = [];
  for (let i = 0; i < 160; i++) { // 10 MiB
    framer.push(chunk, (line) => out.push(line));
    assert.ok(framer.pendingBytes <= 4096 + 1, `holding ${framer.pendingBytes} bytes`);
  }
  framer.push(encode("\nafter\n"), (line) => out.push(line));
  assert.deepEqual(out, [OVERLONG(4096), "after"]);
});

Deno.test("LineStream: other ASCII-compatible encodings, and UTF-16 refused", async () => {
  const gbk = Uint8Array.of(0xc4, 0xe3, 0xba, 0xc3, 0x0a); // 你好\n
  const lines = await Array.fromAsync(
    ReadableStream.from([gbk]).pipeThrough(new LineStream({ encoding: "gbk" })),
  );
  assert.deepEqual(lines, ["你好"]);
  assert.throws(() => new LineStream({ encoding: "utf-16le" }), /ASCII-compatible/);
  assert.throws(() => new LineStream({ maxLineBytes: 0 }), RangeError);
});

Deno.test("LineFramer: a line sent a byte at a time is held in one buffer, not a buffer per read", () => {
  // Before, each read's remainder was its own copy (~500 bytes of overhead each): 300 such
  // connections sending 3000 bytes one at a time held about 450 MB.
  const framers = Array.from({ length: 300 }, () => new LineFramer({ maxLineBytes: 4096 }));
  const byte = new Uint8Array([0x61]);
  const before = Deno.memoryUsage().rss;
  for (let i = 0; i < 3000; i++) for (const framer of framers) framer.push(byte, () => {});
  const grown = Deno.memoryUsage().rss - before;
  assert.ok(grown < 100 * 2 ** 20, `held ${(grown / 2 ** 20).toFixed(0)} MB for 0.9 MB of data`);
  const lines: LineChunk[] = [];
  framers[0].push(new Uint8Array([0x0a]), (line) => lines.push(line));
  assert.deepEqual(lines, ["a".repeat(3000)]);
});
