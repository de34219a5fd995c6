import assert from "node:assert/strict";
import { formatAddress, formatEndpoint, parseAddress, parsePort, sameAddress } from "../../lib/net/address.ts";

Deno.test("parseAddress: every accepted form", () => {
  assert.deepEqual(parseAddress("example.org:69"), { hostname: "example.org", port: 69 });
  assert.deepEqual(parseAddress(":8080", { defaultHostname: "0.0.0.0" }), { hostname: "0.0.0.0", port: 8080 });
  assert.deepEqual(parseAddress("[::1]:9999"), { hostname: "::1", port: 9999 });
  assert.deepEqual(parseAddress("[fe80::1]", { defaultPort: 69 }), { hostname: "fe80::1", port: 69 });
  assert.deepEqual(parseAddress("::1", { defaultPort: 7 }), { hostname: "::1", port: 7 });
  assert.deepEqual(parseAddress("host", { defaultPort: 69 }), { hostname: "host", port: 69 });
  assert.deepEqual(parseAddress("9000", { bareNumberIsPort: true, defaultHostname: "0.0.0.0" }), {
    hostname: "0.0.0.0",
    port: 9000,
  });
  assert.deepEqual(parseAddress("127.0.0.1:0"), { hostname: "127.0.0.1", port: 0 });
});

Deno.test("parseAddress: bad input is refused with the reason", () => {
  assert.throws(() => parseAddress("host"), /a port is required/);
  assert.throws(() => parseAddress("host:65536"), /0 to 65535/);
  assert.throws(() => parseAddress("host:-1"), /0 to 65535/);
  assert.throws(() => parseAddress("host:http"), /0 to 65535/);
  assert.throws(() => parseAddress("[::1:80"), /missing "\]"/);
  assert.throws(() => parseAddress("[::1]80"), /expected ":PORT"/);
  assert.throws(() => parseAddress("[127.0.0.1]:80"), /brackets are for IPv6/);
  assert.throws(() => parseAddress("a b:80"), /not a host name/);
  assert.throws(() => parseAddress("user@host:22"), /not a host name/);
});

Deno.test("parsePort and formatting", () => {
  assert.equal(parsePort("0"), 0);
  assert.equal(parsePort("65535"), 65535);
  assert.throws(() => parsePort("123456"), RangeError);
  assert.throws(() => parsePort(""), RangeError);
  assert.equal(formatAddress({ hostname: "::1", port: 69 }), "[::1]:69");
  assert.equal(formatAddress({ hostname: "10.0.0.1", port: 69 }), "10.0.0.1:69");
  assert.equal(formatEndpoint("udp", { hostname: "::", port: 1 }), "udp://[::]:1");
  // Formatting and parsing round-trip.
  for (const address of [{ hostname: "::1", port: 5 }, { hostname: "192.168.1.2", port: 65535 }]) {
    assert.deepEqual(parseAddress(formatAddress(address)), address);
  }
});

Deno.test("sameAddress treats IPv4-mapped IPv6 as IPv4", () => {
  assert.ok(sameAddress({ hostname: "::ffff:127.0.0.1", port: 7 }, { hostname: "127.0.0.1", port: 7 }));
  assert.ok(!sameAddress({ hostname: "127.0.0.1", port: 7 }, { hostname: "127.0.0.1", port: 8 }));
  assert.ok(!sameAddress({ hostname: "127.0.0.2", port: 7 }, { hostname: "127.0.0.1", port: 7 }));
});
