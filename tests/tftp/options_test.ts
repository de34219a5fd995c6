import assert from "node:assert/strict";
import { acceptOack, datagramFootprint, negotiate, requestOptions, windowCap } from "../../lib/tftp/options.ts";
import { decodePacket, encodeRequest, ErrorCode, type RequestPacket } from "../../lib/tftp/packet.ts";

function request(type: "RRQ" | "WRQ", options: Record<string, string>, mode: "octet" | "netascii" = "octet") {
  return decodePacket(encodeRequest(type, "file", mode, new Map(Object.entries(options)))) as RequestPacket;
}

Deno.test("options: no options, no OACK, RFC 1350 settings", () => {
  const result = negotiate(request("RRQ", {}), 1000);
  assert.deepEqual(result, {
    ok: true,
    settings: { blksize: 512, windowsize: 1, timeoutMs: undefined, tsize: undefined, rollover: 0 },
    oack: undefined,
  });
});

Deno.test("options: the server grants blksize, timeout, tsize and windowsize, ignoring unknown ones", () => {
  const result = negotiate(
    request("RRQ", { blksize: "1468", timeout: "3", tsize: "0", windowsize: "8", multicast: "", foo: "bar" }),
    123456,
  );
  assert.ok(result.ok);
  assert.deepEqual(result.settings, { blksize: 1468, windowsize: 8, timeoutMs: 3000, tsize: 123456, rollover: 0 });
  assert.deepEqual(
    [...result.oack!],
    [["blksize", "1468"], ["timeout", "3"], ["tsize", "123456"], ["windowsize", "8"]],
  );
});

Deno.test("options: out-of-range values are ignored or lowered", () => {
  const result = negotiate(
    request("RRQ", { blksize: "4", timeout: "0", windowsize: "0", rollover: "2", utimeout: "5" }),
    1,
  );
  assert.deepEqual(result, negotiate(request("RRQ", {}), 1), "every option ignored");
  const big = negotiate(request("RRQ", { blksize: "70000", windowsize: "70000" }), 1, {
    maxBlksize: 8192,
    maxWindowsize: 16,
  });
  assert.ok(big.ok);
  assert.equal(big.settings.blksize, 8192);
  assert.equal(big.oack?.get("blksize"), "8192");
  assert.equal(big.oack?.get("windowsize"), undefined, "70000 is beyond RFC 7440's range: ignored");
  const lowered = negotiate(request("RRQ", { windowsize: "500", blksize: "1468" }), 1, { maxWindowsize: 16 });
  assert.ok(lowered.ok);
  assert.equal(lowered.settings.windowsize, 16);
});

Deno.test("options: a window never overruns a socket buffer (65464 x 8 becomes 65464 x 2)", () => {
  const result = negotiate(request("RRQ", { blksize: "65464", windowsize: "8" }), 1);
  assert.ok(result.ok);
  assert.equal(result.settings.windowsize, 2);
  assert.equal(result.oack?.get("windowsize"), "2");
  for (const blksize of [8, 512, 1428, 1468, 4096, 8192, 16384, 32768, 65464]) {
    const cap = windowCap(blksize);
    assert.ok(cap >= 1 && cap * datagramFootprint(blksize) <= 159_744, `blksize ${blksize}: ${cap}`);
  }
  assert.equal(windowCap(512), 124);
  assert.equal(windowCap(1468), 69);
});

Deno.test("options: tsize is the file size on an octet RRQ, omitted for netascii", () => {
  const octet = negotiate(request("RRQ", { tsize: "0" }), 5000);
  assert.equal(octet.ok && octet.oack?.get("tsize"), "5000");
  const ascii = negotiate(request("RRQ", { tsize: "0" }, "netascii"), 5000);
  assert.equal(ascii.ok && ascii.oack, undefined);
});

Deno.test("options: a WRQ announcing more than the server takes is refused with error 3", () => {
  const result = negotiate(request("WRQ", { tsize: "1000001" }), undefined, { maxUploadBytes: 1_000_000 });
  assert.equal(result.ok, false);
  assert.equal(!result.ok && result.code, ErrorCode.diskFull);
  const fits = negotiate(request("WRQ", { tsize: "1000000" }), undefined, { maxUploadBytes: 1_000_000 });
  assert.equal(fits.ok && fits.settings.tsize, 1_000_000);
});

Deno.test("options: utimeout (tftpd-hpa) and rollover are understood", () => {
  const result = negotiate(request("RRQ", { utimeout: "20000", rollover: "1" }), 1);
  assert.ok(result.ok);
  assert.equal(result.settings.timeoutMs, 20);
  assert.equal(result.settings.rollover, 1);
});

Deno.test("options: a client asks only for what differs from RFC 1350, window clamped", () => {
  assert.deepEqual([...requestOptions({ blksize: 512, windowsize: 1 })], []);
  assert.deepEqual([...requestOptions({ blksize: 65464, windowsize: 16, timeoutSeconds: 2, tsize: 0 })], [
    ["blksize", "65464"],
    ["windowsize", "2"],
    ["timeout", "2"],
    ["tsize", "0"],
  ]);
  assert.deepEqual([...requestOptions({ tsize: false })], []);
});

Deno.test("options: the client accepts a lowered blksize and refuses what it did not ask for", () => {
  const requested = requestOptions({ blksize: 1468, windowsize: 8, tsize: 0 });
  const ok = acceptOack(new Map([["blksize", "1024"], ["windowsize", "4"], ["tsize", "99"], ["x", "y"]]), requested);
  assert.deepEqual(ok, {
    ok: true,
    settings: { blksize: 1024, windowsize: 4, timeoutMs: undefined, tsize: 99, rollover: 0 },
  });
  assert.match(
    (acceptOack(new Map([["blksize", "2000"]]), requested) as { message: string }).message,
    /blksize 2000 is not between 8 and the 1468 requested/,
  );
  assert.match(
    (acceptOack(new Map([["timeout", "5"]]), requested) as { message: string }).message,
    /timeout 5 was not requested/,
  );
  assert.equal(acceptOack(new Map([["windowsize", "0"]]), requested).ok, false);
  assert.equal(acceptOack(new Map([["timeout", "2"]]), requestOptions({ timeoutSeconds: 3 })).ok, false);
});

Deno.test("options: a server may decline the timeout option and keep its adaptive timer", () => {
  const result = negotiate(request("RRQ", { timeout: "6", utimeout: "20000", blksize: "1024" }), 1, {
    acceptTimeout: false,
  });
  assert.ok(result.ok);
  assert.equal(result.settings.timeoutMs, undefined);
  assert.deepEqual([...result.oack!], [["blksize", "1024"]]);
});
