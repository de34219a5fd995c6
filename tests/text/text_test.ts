import assert from "node:assert/strict";
import { createTranscoder, textCodec } from "../../lib/text/encoding.ts";
import {
  formatBytes,
  formatCount,
  formatDuration,
  formatRate,
  parseDuration,
  parseSize,
} from "../../lib/text/format.ts";
import { escapeControls, stripControls } from "../../lib/text/sanitize.ts";

Deno.test("stripControls removes escape sequences, controls and bidi overrides", () => {
  assert.equal(stripControls("hi\x1b[2J\x1b[31m there"), "hi there");
  assert.equal(stripControls("title\x1b]0;pwned\x07 ok"), "title ok"); // OSC ended by BEL
  assert.equal(stripControls("a\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\b"), "alinkb"); // hyperlink
  assert.equal(stripControls("bell\x07 back\x08space del\x7f nul\x00"), "bell backspace del nul");
  assert.equal(stripControls("c1 \x9b2J csi"), "c1 2J csi"); // 8-bit CSI is removed
  assert.equal(stripControls("abc\u202edcba"), "abcdcba"); // right-to-left override
  assert.equal(stripControls("tab\there\r\n"), "tab here");
  assert.equal(stripControls("plain ✓ 你好"), "plain ✓ 你好");
  assert.equal(stripControls("dangling \x1b"), "dangling ");
});

Deno.test("escapeControls makes controls visible but keeps line breaks and tabs", () => {
  assert.equal(escapeControls("a\x1b[31mb\n"), "a\\x1b[31mb\n");
  assert.equal(escapeControls("line\r\nnext\rover"), "line\r\nnext\\rover");
  assert.equal(escapeControls("tab\tok \u202e"), "tab\tok \\u202e");
});

Deno.test("textCodec: GBK round trip and unknown labels", () => {
  const gbk = textCodec("gbk");
  assert.equal(gbk.encoding, "gbk");
  assert.deepEqual([...gbk.encode("你好, world")], [0xc4, 0xe3, 0xba, 0xc3, ...new TextEncoder().encode(", world")]);
  const text = "中文测试：网络调试助手 ABC 123";
  assert.equal(gbk.decoder().decode(gbk.encode(text)), text);
  assert.deepEqual([...gbk.encode("😀")], [0x3f]); // not representable: "?"
  assert.deepEqual([...textCodec("latin1").encode("café")], [0x63, 0x61, 0x66, 0xe9]);
  assert.equal(textCodec("big5").decoder().decode(textCodec("big5").encode("網路")), "網路");
  assert.throws(() => textCodec("klingon"), /Unknown encoding "klingon"/);
  assert.throws(() => textCodec("utf-16le"), /ASCII-compatible/);
});

Deno.test("createTranscoder carries a character split between chunks", () => {
  const toGbk = createTranscoder({ to: "gbk" });
  const utf8 = new TextEncoder().encode("你好");
  const out = [...toGbk(utf8.subarray(0, 1)), ...toGbk(utf8.subarray(1, 5)), ...toGbk(utf8.subarray(5), true)];
  assert.deepEqual(out, [0xc4, 0xe3, 0xba, 0xc3]);
  const fromGbk = createTranscoder({ from: "gbk", map: (text) => text.toUpperCase() });
  const bytes = Uint8Array.of(0x61, 0xc4, 0xe3, 0x62);
  const text = new TextDecoder().decode(
    Uint8Array.from([...fromGbk(bytes.subarray(0, 2)), ...fromGbk(bytes.subarray(2), true)]),
  );
  assert.equal(text, "A你B");
});

Deno.test("sizes, rates, durations and counts", () => {
  assert.deepEqual([formatCount(0, "file"), formatCount(1, "file"), formatCount(2, "retry", "retries")], [
    "0 files",
    "1 file",
    "2 retries",
  ]);
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(1023), "1023 B");
  assert.equal(formatBytes(1536), "1.50 KiB");
  assert.equal(formatBytes(200 * 1024 * 1024), "200 MiB");
  assert.equal(formatRate(10 * 1024 * 1024, 2000), "5.00 MiB/s");
  assert.equal(formatRate(1, 0), "-");
  assert.equal(formatDuration(850), "850 ms");
  assert.equal(formatDuration(12_340), "12.3 s");
  assert.equal(formatDuration(245_000), "4:05");
  assert.equal(formatDuration(3_723_000), "1:02:03");
  assert.equal(parseSize("10M"), 10 * 1024 * 1024);
  assert.equal(parseSize("1.5GiB"), 1.5 * 1024 ** 3);
  assert.equal(parseSize("100"), 100);
  assert.throws(() => parseSize("ten"), /Invalid size/);
  assert.equal(parseDuration("500ms"), 500);
  assert.equal(parseDuration("30"), 30_000);
  assert.equal(parseDuration("5m"), 300_000);
  assert.throws(() => parseDuration("soon"), /Invalid duration/);
});
