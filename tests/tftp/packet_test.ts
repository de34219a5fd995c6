import assert from "node:assert/strict";
import {
  absoluteBlock,
  blockOf,
  decodePacket,
  describePacket,
  encodeAck,
  encodeData,
  encodeError,
  encodeOack,
  encodeRequest,
  opcodeOf,
  wireBlock,
} from "../../lib/tftp/packet.ts";
import { seededRandom } from "../_helpers/random.ts";

const bytes = (...parts: (number[] | string)[]) =>
  new Uint8Array(parts.flatMap((part) => typeof part === "string" ? [...new TextEncoder().encode(part)] : part));

Deno.test("packet: a request round-trips with its options, names lower-cased", () => {
  const rrq = encodeRequest("RRQ", "boot/pxelinux.0", "octet", new Map([["blksize", "1468"], ["tsize", "0"]]));
  assert.deepEqual(
    rrq,
    bytes([0, 1], "boot/pxelinux.0", [0], "octet", [0], "blksize", [0], "1468", [0], "tsize", [0], "0", [0]),
  );
  assert.deepEqual(decodePacket(rrq), {
    type: "RRQ",
    filename: "boot/pxelinux.0",
    mode: "octet",
    options: new Map([["blksize", "1468"], ["tsize", "0"]]),
  });
  const wrq = decodePacket(
    bytes([0, 2], "f", [0], "NetASCII", [0], "BlkSize", [0], "8", [0], "blksize", [0], "9", [0]),
  );
  assert.deepEqual(wrq, { type: "WRQ", filename: "f", mode: "netascii", options: new Map([["blksize", "8"]]) });
});

Deno.test("packet: requests padded with NUL bytes after the last option are accepted", () => {
  const padded = decodePacket(bytes([0, 1], "f", [0], "octet", [0, 0, 0, 0]));
  assert.equal(padded.type, "RRQ");
});

Deno.test("packet: DATA, ACK, ERROR and OACK round-trip", () => {
  const data = decodePacket(encodeData(65535, bytes("hello")));
  assert.equal(data.type, "DATA");
  assert.deepEqual(data.type === "DATA" && [data.block, new TextDecoder().decode(data.data)], [65535, "hello"]);
  assert.deepEqual(decodePacket(encodeData(1, new Uint8Array())), { type: "DATA", block: 1, data: new Uint8Array() });
  assert.deepEqual(decodePacket(encodeAck(258)), { type: "ACK", block: 258 });
  assert.deepEqual(decodePacket(encodeError(1, "File not found")), {
    type: "ERROR",
    code: 1,
    message: "File not found",
  });
  assert.deepEqual(decodePacket(encodeOack(new Map([["tsize", "42"]]))), {
    type: "OACK",
    options: new Map([["tsize", "42"]]),
  });
  assert.deepEqual(decodePacket(encodeOack(new Map())), { type: "OACK", options: new Map() });
});

Deno.test("packet: every malformed packet is rejected with a reason", () => {
  const cases: [Uint8Array, RegExp][] = [
    [bytes([]), /too short/],
    [bytes([0]), /too short/],
    [bytes([0, 9, 1, 2]), /unknown opcode 9/],
    [bytes([0, 0]), /unknown opcode 0/],
    [bytes([0, 1], "file"), /filename is not terminated/],
    [bytes([0, 1, 0], "octet", [0]), /empty filename/],
    [bytes([0, 1], "f", [0], "octet"), /mode is not terminated/],
    [bytes([0, 2], "f", [0], "binary", [0]), /mode "binary" is not netascii or octet/],
    [bytes([0, 1, 0xff, 0xfe, 0], "octet", [0]), /not valid UTF-8/],
    [bytes([0, 1], "f", [0], "octet", [0], "blksize"), /option name is not terminated/],
    [bytes([0, 1], "f", [0], "octet", [0], "blksize", [0], "1468"), /option value is not terminated/],
    [bytes([0, 1], "f", [0], "octet", [0], "blksize", [0], "big", [0]), /blksize has value "big", expected a number/],
    [bytes([0, 1], "f", [0], "octet", [0], "tsize", [0], "-1", [0]), /tsize has value "-1"/],
    [bytes([0, 1], "f", [0], "octet", [0], "windowsize", [0, 0]), /windowsize has value ""/],
    [bytes([0, 1], "f", [0], "octet", [0, 1], "x", [0]), /option value is not terminated/],
    [bytes([0, 1], "f", [0], "octet", [0, 0], "v", [0]), /option with an empty name/],
    [bytes([0, 1], "f", [0], "octet", [0], "timeout", [0], "9".repeat(30), [0]), /timeout has value/],
    [bytes([0, 3, 0]), /DATA is 3 bytes/],
    [new Uint8Array(4 + 65465).fill(3, 1, 2), /more than 65464/],
    [bytes([0, 4, 0]), /ACK is 3 bytes/],
    [bytes([0, 4, 0, 1, 0]), /ACK is 5 bytes/],
    [bytes([0, 5, 0, 1]), /ERROR is 4 bytes/],
    [bytes([0, 5, 0, 1], "no end"), /not terminated/],
    [bytes([0, 5, 0, 1], "a", [0], "b"), /bytes after its message/],
    [bytes([0, 6], "blksize", [0], "x", [0]), /OACK option blksize has value "x"/],
    [bytes([0, 6], "blksize"), /OACK option name is not terminated/],
  ];
  for (const [packet, reason] of cases) {
    const decoded = decodePacket(packet);
    assert.equal(decoded.type, "malformed", `accepted ${[...packet.subarray(0, 40)]}`);
    assert.match(decoded.type === "malformed" ? decoded.reason : "", reason);
  }
});

Deno.test("packet: random bytes never crash the decoder", () => {
  const random = seededRandom(1350);
  for (let i = 0; i < 20_000; i++) {
    const packet = new Uint8Array(Math.floor(random() * 40));
    for (let j = 0; j < packet.length; j++) packet[j] = random() < 0.3 ? 0 : Math.floor(random() * 256);
    if (packet.length > 1 && random() < 0.8) packet[0] = 0;
    if (packet.length > 1 && random() < 0.8) packet[1] = 1 + Math.floor(random() * 6);
    const decoded = decodePacket(packet);
    assert.ok(typeof describePacket(decoded) === "string");
  }
});

Deno.test("packet: ERROR messages are cut to fit and NULs replaced", () => {
  const long = decodePacket(encodeError(0, "é".repeat(400)));
  assert.equal(long.type, "ERROR");
  assert.ok(long.type === "ERROR" && long.message.length <= 250 && !long.message.includes("\uFFFD"));
  assert.deepEqual(decodePacket(encodeError(0, "a\0b")), { type: "ERROR", code: 0, message: "a b" });
});

Deno.test("packet: fast helpers read opcode and block without decoding", () => {
  assert.equal(opcodeOf(encodeAck(7)), 4);
  assert.equal(opcodeOf(new Uint8Array([0])), 0);
  assert.equal(blockOf(encodeData(513, new Uint8Array(1))), 513);
  assert.equal(blockOf(new Uint8Array([0, 4, 1])), -1);
});

Deno.test("packet: block numbers wrap to 0 or to 1, and map back within a window", () => {
  assert.deepEqual([65534, 65535, 65536, 65537].map((n) => wireBlock(n, 0)), [65534, 65535, 0, 1]);
  assert.deepEqual([65535, 65536, 65537, 131070, 131071].map((n) => wireBlock(n, 1)), [65535, 1, 2, 65535, 1]);
  assert.equal(absoluteBlock(0, 65530, 65540, 0), 65536);
  assert.equal(absoluteBlock(65533, 65530, 65540, 0), 65533);
  assert.equal(absoluteBlock(65529, 65530, 65540, 0), -1);
  assert.equal(absoluteBlock(1, 65530, 65540, 1), 65536);
  assert.equal(absoluteBlock(0, 65530, 65540, 1), -1);
  assert.equal(absoluteBlock(3, 1, 10, 1), 3);
  for (const rollover of [0, 1] as const) {
    for (const n of [1, 100, 65535, 65536, 65537, 200_000, 1_000_000]) {
      assert.equal(absoluteBlock(wireBlock(n, rollover), n - 5, n + 5, rollover), n, `${n} rollover ${rollover}`);
    }
  }
});
