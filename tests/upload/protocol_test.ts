import assert from "node:assert/strict";
import {
  encodeHeader,
  formatReply,
  formatTrailer,
  MAX_HEADER_BYTES,
  opensWithMagic,
  parseHeader,
  parseReply,
  parseTrailer,
} from "../../lib/upload/protocol.ts";

const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text);
const SHA = "ab".repeat(32);

Deno.test("protocol: a header round-trips with every field, and the bytes after it are left alone", () => {
  const header = { name: "photos/été 2024/cat.jpg", size: 123456789, id: "f00d.1_2-3", token: "s3cr et", resume: true };
  const encoded = encodeHeader(header);
  const withData = new Uint8Array([...encoded, 1, 2, 3]);
  const parsed = parseHeader(withData);
  assert.deepEqual(parsed, { status: "ok", header, length: encoded.length });
  assert.equal(
    new TextDecoder().decode(encodeHeader({ name: "a", size: 0 })),
    "WIREBOX-UPLOAD 1\nname: a\nsize: 0\n\n",
  );
});

Deno.test("protocol: a header split anywhere is incomplete until its empty line arrives", () => {
  const encoded = encodeHeader({ name: "a.txt", size: 3 });
  for (let cut = 0; cut < encoded.length; cut++) {
    assert.deepEqual(parseHeader(encoded.subarray(0, cut)), { status: "incomplete" }, `cut at ${cut}`);
  }
  assert.equal(parseHeader(encoded).status, "ok");
});

Deno.test("protocol: CRLF line endings are accepted, unknown fields ignored", () => {
  const text = "WIREBOX-UPLOAD 1\r\nname: a b\r\nsize: 7\r\nfuture-field: x\r\n\r\n";
  const parsed = parseHeader(bytes(text + "DATA"));
  assert.deepEqual(parsed, { status: "ok", header: { name: "a b", size: 7 }, length: text.length });
});

Deno.test("protocol: malformed headers are refused with a reason", () => {
  const cases: [string, string, RegExp][] = [
    ["WIREBOX-UPLOAD 2\nname: a\nsize: 1\n\n", "version", /version 2 is not supported/],
    ["WIREBOX-UPLOAD one\nname: a\nsize: 1\n\n", "bad-request", /must open with/],
    ["WIREBOX-UPLOAD 1\nsize: 1\n\n", "bad-request", /no "name"/],
    ["WIREBOX-UPLOAD 1\nname: a\n\n", "bad-request", /no "size"/],
    ["WIREBOX-UPLOAD 1\nname: a\nsize: -1\n\n", "bad-request", /invalid size/],
    ["WIREBOX-UPLOAD 1\nname: a\nsize: 1e3\n\n", "bad-request", /invalid size/],
    ["WIREBOX-UPLOAD 1\nname: a\nsize: 99999999999999999\n\n", "bad-request", /invalid size/],
    ["WIREBOX-UPLOAD 1\nname: a\nname: b\nsize: 1\n\n", "bad-request", /appears twice/],
    ["WIREBOX-UPLOAD 1\nname: a\nsize: 1\nid: ../x\n\n", "bad-request", /invalid id/],
    ["WIREBOX-UPLOAD 1\nname: a\nsize: 1\nresume: maybe\n\n", "bad-request", /invalid resume/],
    ["WIREBOX-UPLOAD 1\nname a\nsize: 1\n\n", "bad-request", /malformed header line/],
    [`WIREBOX-UPLOAD 1\nname: a\nsize: 1\ntoken: ${"t".repeat(2000)}\n\n`, "bad-request", /token is longer/],
  ];
  for (const [text, code, message] of cases) {
    const parsed = parseHeader(bytes(text));
    assert.equal(parsed.status, "invalid", text);
    if (parsed.status === "invalid") {
      assert.equal(parsed.code, code, text);
      assert.match(parsed.message, message);
    }
  }
  const badUtf8 = new Uint8Array([...bytes("WIREBOX-UPLOAD 1\nname: "), 0xff, 0xfe, ...bytes("\nsize: 1\n\n")]);
  assert.deepEqual(parseHeader(badUtf8), {
    status: "invalid",
    code: "bad-request",
    message: "the header is not valid UTF-8",
  });
});

Deno.test("protocol: a header that never ends is refused once it passes the cap", () => {
  const endless = bytes("WIREBOX-UPLOAD 1\nname: " + "x".repeat(MAX_HEADER_BYTES));
  const parsed = parseHeader(endless);
  assert.equal(parsed.status, "invalid");
  assert.equal(parseHeader(endless.subarray(0, 1000)).status, "incomplete");
});

Deno.test("protocol: encoding refuses line breaks (they would forge fields)", () => {
  assert.throws(() => encodeHeader({ name: "a\nsize: 0", size: 1 }), RangeError);
  assert.throws(() => encodeHeader({ name: "a", size: 1, token: "x\r" }), RangeError);
});

Deno.test("protocol: the magic word is recognised byte by byte", () => {
  assert.equal(opensWithMagic(bytes("")), undefined);
  assert.equal(opensWithMagic(bytes("WIREBOX")), undefined);
  assert.equal(opensWithMagic(bytes("WIREBOX-UPLOAD ")), true);
  assert.equal(opensWithMagic(bytes("WIREBOX-UPLOAD 9\n")), true);
  assert.equal(opensWithMagic(bytes("WIREBOX-UPLOADS")), false);
  assert.equal(opensWithMagic(bytes("GET / HTTP/1.1\r\n")), false);
  assert.equal(opensWithMagic(new Uint8Array([0x57, 0x00])), false);
});

Deno.test("protocol: replies round-trip; an error message stays on one line", () => {
  const replies = [
    { kind: "ready", offset: 0 },
    { kind: "ready", offset: 4096, prefixSha256: SHA },
    { kind: "ok", size: 10, sha256: SHA, name: "dir/report (1).pdf" },
    { kind: "error", code: "too-large", message: "the file is larger than 1.00 GiB" },
  ] as const;
  for (const reply of replies) {
    const line = formatReply(reply);
    assert.ok(line.endsWith("\n") && line.indexOf("\n") === line.length - 1);
    assert.deepEqual(parseReply(line.slice(0, -1)), reply);
  }
  assert.equal(formatReply({ kind: "error", code: "bad-name", message: "a\nb\rc" }), "ERROR bad-name a b c\n");
  assert.deepEqual(parseReply("ERROR busy"), { kind: "error", code: "busy", message: "" });
  for (const bad of ["", "READY", "READY -1", "OK 1 xyz a", "OK 1 " + SHA, "HELLO", "ERROR Bad code"]) {
    assert.equal(parseReply(bad), undefined, bad);
  }
});

Deno.test("protocol: the trailer carries the SHA-256 of the whole file", () => {
  assert.equal(formatTrailer(SHA), `sha256: ${SHA}\n`);
  assert.equal(parseTrailer(`sha256: ${SHA}`), SHA);
  assert.equal(parseTrailer(`sha256: ${SHA.toUpperCase()}`), SHA);
  assert.equal(parseTrailer(`sha256: ${SHA}\r`), SHA);
  assert.equal(parseTrailer("sha256: abc"), undefined);
  assert.equal(parseTrailer(`sha1: ${SHA}`), undefined);
  assert.throws(() => formatTrailer("xyz"), RangeError);
});
