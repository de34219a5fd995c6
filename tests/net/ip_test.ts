import assert from "node:assert/strict";
import { formatIp, parseIp } from "../../lib/net/ip.ts";
import { seededRandom } from "../_helpers/random.ts";

Deno.test("ip: literals parse to their bytes", () => {
  assert.deepEqual(parseIp("127.0.0.1"), new Uint8Array([127, 0, 0, 1]));
  assert.deepEqual(parseIp("0.0.0.0"), new Uint8Array(4));
  assert.deepEqual(parseIp("255.255.255.255"), new Uint8Array([255, 255, 255, 255]));
  assert.deepEqual(parseIp("::"), new Uint8Array(16));
  assert.deepEqual(parseIp("::1"), new Uint8Array([...new Uint8Array(15), 1]));
  assert.deepEqual(parseIp("::ffff:10.0.0.2"), new Uint8Array([...new Uint8Array(10), 255, 255, 10, 0, 0, 2]));
  assert.deepEqual(
    parseIp("2001:DB8::8:800:200C:417A"),
    new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 8, 8, 0, 0x20, 0x0c, 0x41, 0x7a]),
  );
  assert.deepEqual(parseIp("fe80::"), new Uint8Array([0xfe, 0x80, ...new Uint8Array(14)]));
  assert.deepEqual(parseIp("1:2:3:4:5:6:7:8"), new Uint8Array([0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]));
  assert.deepEqual(parseIp("1:2:3:4:5:6:1.2.3.4"), new Uint8Array([0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 1, 2, 3, 4]));
});

Deno.test("ip: names, zones and malformed literals are not addresses", () => {
  for (
    const text of [
      "",
      "localhost",
      "example.org",
      "1.2.3",
      "1.2.3.4.5",
      "256.1.1.1",
      "01.2.3.4",
      "1.2.3.-4",
      ":",
      ":::",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7::8",
      "12345::",
      "g::1",
      "fe80::1%eth0",
      "::1.2.3",
      "::1.2.3.4:5",
    ]
  ) {
    assert.equal(parseIp(text), undefined, text);
  }
});

Deno.test("ip: addresses print as Deno prints them (RFC 5952)", () => {
  const cases: [string, string][] = [
    ["127.0.0.1", "127.0.0.1"],
    ["::", "::"],
    ["::1", "::1"],
    ["0:0:0:0:0:0:0:1", "::1"],
    ["2001:DB8:0:0:8:800:200C:417A", "2001:db8::8:800:200c:417a"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["::ffff:127.0.0.1", "::ffff:127.0.0.1"],
    ["fe80::", "fe80::"],
  ];
  for (const [input, printed] of cases) assert.equal(formatIp(parseIp(input)!), printed, input);
});

Deno.test("ip: what formatIp prints parses back to the same bytes", () => {
  const random = seededRandom(7);
  for (let i = 0; i < 2000; i++) {
    const bytes = new Uint8Array(16);
    // Mostly zeros, so that runs of zero groups of every length occur.
    for (let j = 0; j < 16; j += 2) {
      if (random() < 0.4) [bytes[j], bytes[j + 1]] = [random() * 256, random() * 256];
    }
    assert.deepEqual(parseIp(formatIp(bytes)), bytes);
  }
  assert.throws(() => formatIp(new Uint8Array(5)), RangeError);
});

Deno.test("ip: formatIp agrees with the addresses Deno reports", () => {
  for (const hostname of ["127.0.0.1", "::1", "0:0:0:0:0:0:0:1"]) {
    const socket = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
    try {
      assert.equal(formatIp(parseIp(hostname)!), (socket.addr as Deno.NetAddr).hostname);
    } finally {
      socket.close();
    }
  }
});
