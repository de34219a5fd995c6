import assert from "node:assert/strict";
import { encodeNetascii, fromNetascii, NetasciiDecoder, toNetascii } from "../../lib/tftp/netascii.ts";
import { seededBytes, seededRandom } from "../_helpers/random.ts";

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("netascii: LF becomes CR LF and a bare CR becomes CR NUL", () => {
  assert.deepEqual(toNetascii(text("a\nb\rc\r\n")), text("a\r\nb\r\0c\r\0\r\n"));
  const out = new Uint8Array(8);
  assert.equal(encodeNetascii(text("\n\n\n\n"), out), 8);
});

Deno.test("netascii: decoding undoes encoding for any bytes", () => {
  for (const seed of [1, 2, 3]) {
    const data = seededBytes(5000, seed).map((byte) => [10, 13, 0, 65][byte % 4]);
    assert.deepEqual(fromNetascii(toNetascii(data)), data);
  }
});

Deno.test("netascii: a CR at the end of one chunk pairs with the start of the next", () => {
  const wire = text("one\r\ntwo\r\0three\r\r\nfour\rx\r");
  const random = seededRandom(9);
  for (let round = 0; round < 200; round++) {
    const decoder = new NetasciiDecoder();
    const out = new Uint8Array(wire.length + 1);
    let written = 0;
    let offset = 0;
    while (offset < wire.length) {
      const take = 1 + Math.floor(random() * 4);
      written += decoder.decode(wire.subarray(offset, offset + take), out.subarray(written));
      offset += take;
    }
    written += decoder.end(out.subarray(written));
    assert.equal(new TextDecoder().decode(out.subarray(0, written)), "one\ntwo\rthree\r\nfour\rx\r");
  }
});

Deno.test("netascii: lenient with a CR followed by anything else", () => {
  assert.deepEqual(fromNetascii(text("a\rb")), text("a\rb"));
  assert.deepEqual(fromNetascii(text("\r\r\r\n")), text("\r\r\n"));
});
