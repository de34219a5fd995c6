/**
 * What a fault-injection and hostile-input campaign against the upload
 * server found: each test failed before its fix.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { HostPort } from "../../lib/net/address.ts";
import { checkName } from "../../lib/fs/safe_path.ts";
import { replyError, uploadFiles } from "../../lib/upload/client.ts";
import { partialKey, partialPath } from "../../lib/upload/partial.ts";
import { encodeHeader, formatReply, formatTrailer, parseHeader } from "../../lib/upload/protocol.ts";
import { listTree, localFile, randomBytes, RawClient, sha256, waitFor, withServer } from "./_setup.ts";

const encoder = new TextEncoder();

/** One upload on its own connection; the lines the server answered until it closed. */
async function uploadOnce(address: HostPort, name: string, data: Uint8Array): Promise<string[]> {
  const client = await RawClient.connect(address);
  try {
    await client.send(encodeHeader({ name, size: data.length }));
    await client.send(data);
    await client.send(formatTrailer(sha256(data)));
    await client.closeWrite().catch(() => {});
    return await client.ended();
  } finally {
    await client.close();
  }
}

Deno.test("hostile: two resumers over a stalled upload: one stores the file whole, the other is refused", async () => {
  await withServer({}, async ({ dir, address }) => {
    const data = randomBytes(100_000);
    const temp = partialPath(join(dir, "t.bin"), partialKey("t.bin", data.length, "same"));
    const stalled = await RawClient.connect(address);
    const resumers = [await RawClient.connect(address), await RawClient.connect(address)];
    try {
      await stalled.send(encodeHeader({ name: "t.bin", size: data.length, id: "same" }));
      await stalled.send(data.subarray(0, 30_000));
      await stalled.lines(1);
      await waitFor(async () => (await Deno.stat(temp)).size === 30_000);
      // Before the fix both took over, both appended the rest, and "OK" named a 170000-byte file.
      const resume = encodeHeader({ name: "t.bin", size: data.length, id: "same", resume: true });
      await Promise.all(resumers.map((client) => client.send(resume)));
      // The second is refused as busy, or (arriving once the first holds the file) takes over from it.
      const outcomes = await Promise.all(resumers.map(async (client) => {
        await client.send(data.subarray(30_000)).catch(() => {});
        await client.send(formatTrailer(sha256(data))).catch(() => {});
        await client.closeWrite().catch(() => {});
        return (await client.ended()).join("\n");
      }));
      const stored = outcomes.filter((lines) => /^OK /m.test(lines));
      assert.equal(stored.length, 1, outcomes.join("\n--\n"));
      assert.match(stored[0], new RegExp(`^OK ${data.length} ${sha256(data)} t.bin$`, "m"));
      assert.match(outcomes.find((lines) => !/^OK /m.test(lines))!, /^ERROR (busy|taken-over) /m);
      assert.equal(sha256(await Deno.readFile(join(dir, "t.bin"))), sha256(data));
      assert.deepEqual(await listTree(dir), ["t.bin"]);
    } finally {
      await Promise.all([stalled.close(), ...resumers.map((client) => client.close())]);
    }
  });
});

Deno.test("hostile: a client that never reads its replies is cut off, not kept forever", async () => {
  await withServer(
    { headerTimeoutMs: 500, idleTimeoutMs: 500, onConflict: "overwrite", fsync: false },
    async ({ server, address, logs }) => {
      const conn = await Deno.connect(address);
      // Long names make long replies, so the unread ones fill the socket buffers soon.
      const name = Array.from({ length: 15 }, (_, i) => String.fromCharCode(97 + i).repeat(250)).join("/") + "/f";
      const one = [...encodeHeader({ name, size: 0 }), ...encoder.encode(formatTrailer(sha256(new Uint8Array())))];
      const batch = new Uint8Array(Array.from({ length: 50 }, () => one).flat());
      const pump = (async () => {
        try {
          for (let i = 0; i < 2000; i++) {
            for (let rest = batch; rest.length > 0;) rest = rest.subarray(await conn.write(rest));
          }
        } catch { /* the server closed the connection */ }
      })();
      try {
        await waitFor(() => logs.some((line) => line.includes("has not read its replies")), 20_000);
        await waitFor(() => server.tcp.connections === 0);
      } finally {
        try {
          conn.close();
        } catch { /* closed */ }
        await pump;
      }
    },
  );
});

Deno.test("hostile: a trailer line over the limit is refused with a reason, not taken for a cut connection", async () => {
  await withServer({}, async ({ dir, address, logs }) => {
    const client = await RawClient.connect(address);
    try {
      await client.send(encodeHeader({ name: "x.bin", size: 5 }));
      await client.send("hello");
      await client.send("A".repeat(20_000));
      const lines = await client.ended();
      assert.match(
        lines.at(-1)!,
        /^ERROR bad-request expected "sha256: <64 hex digits>" after the data, got a line longer/,
      );
    } finally {
      await client.close();
    }
    assert.deepEqual(await listTree(dir), []);
    assert.ok(!logs.some((line) => line.includes("partial data kept")), logs.join("\n"));
  });
});

Deno.test("hostile: names with C1 controls or line separators are refused alike by client and server", async () => {
  await withServer({}, async ({ dir, address }) => {
    for (const name of ["a\u2028b.txt", "a\u2029b.txt", "a\u0085b.txt", "a\u009b31mb.txt"]) {
      assert.throws(() => checkName(name), /control characters/, JSON.stringify(name));
      // The header parser sees the field (it used to call the line malformed and echo it raw) ...
      const parsed = parseHeader(encodeHeaderUnchecked(name));
      assert.equal(parsed.status === "ok" && parsed.header.name, name);
      // ... and the server refuses the name with a reply that stays one clean line.
      const client = await RawClient.connect(address);
      try {
        await client.send(encodeHeaderUnchecked(name));
        const lines = await client.ended();
        assert.match(lines.at(-1)!, /^ERROR bad-name .*control characters/);
        assert.doesNotMatch(lines.join("\n"), /[\u0080-\u009f\u2028\u2029]/);
      } finally {
        await client.close();
      }
    }
    assert.deepEqual(await listTree(dir), []);
  });
  // What the server echoes of a malformed line, and error replies, carry no C1 or separator characters.
  const parsed = parseHeader(encoder.encode("WIREBOX-UPLOAD 1\nZ\u202eevil\u009b31m\nname: a\nsize: 0\n\n"));
  assert.ok(parsed.status === "invalid");
  assert.doesNotMatch(parsed.message, /[\u0080-\u009f\u2028\u2029\u202a-\u202e]/);
  assert.equal(formatReply({ kind: "error", code: "busy", message: "a\u2028b\u009bc" }), "ERROR busy a b c\n");
});

/** A header as a hostile client would send it, without the client's own name check. */
function encodeHeaderUnchecked(name: string): Uint8Array {
  return encoder.encode(`WIREBOX-UPLOAD 1\nname: ${name}\nsize: 0\n\n`);
}

Deno.test("hostile: a server's error message cannot drive the client's terminal", () => {
  const error = replyError("busy", "\x1b]0;pwned\x07\x1b[2J\u009b31m");
  // deno-lint-ignore no-control-regex
  assert.doesNotMatch(error.message, /[\x1b\x07\u009b]/);
  assert.match(error.message, /^the server refused: .*pwned.* \(busy\)$/);
});

Deno.test("hostile: a refusal for a name the system cannot store does not reveal the server's folder", async () => {
  await withServer({}, async ({ dir, address }) => {
    // 16 components of 255 bytes: a valid name, but a path longer than the system takes.
    const name = Array.from({ length: 16 }, (_, i) => String.fromCharCode(97 + i).repeat(255)).join("/");
    const lines = await uploadOnce(address, name, encoder.encode("x"));
    assert.match(lines.at(-1)!, /^ERROR bad-name cannot store .*: /);
    assert.ok(!lines.some((line) => line.includes(dir)), lines.join("\n"));
  });
});

Deno.test("hostile: a folder named like a partial upload is refused, so it cannot block that upload", async () => {
  await withServer({}, async ({ dir, address }) => {
    const squat = `.victim.txt.${partialKey("victim.txt", 5)}.part/junk`;
    assert.match((await uploadOnce(address, squat, encoder.encode("x"))).at(-1)!, /^ERROR bad-name .*partial uploads/);
    assert.match((await uploadOnce(address, "victim.txt", encoder.encode("hello"))).at(-1)!, /^OK 5 /);
    assert.deepEqual(await listTree(dir), ["victim.txt"]);
  });
});

Deno.test("hostile: --on-conflict rename keeps a 255-byte name within the limit", async () => {
  await withServer({}, async ({ dir, address }) => {
    const name = "n".repeat(251) + ".txt";
    assert.match((await uploadOnce(address, name, encoder.encode("first"))).at(-1)!, /^OK 5 /);
    const second = (await uploadOnce(address, name, encoder.encode("second"))).at(-1)!;
    assert.match(second, /^OK 6 [0-9a-f]{64} n+ \(1\)\.txt$/);
    const names = await listTree(dir);
    assert.equal(names.length, 2);
    assert.ok(names.every((stored) => encoder.encode(stored).length <= 255), names.join("\n"));
  });
});

Deno.test("hostile: a header with no data after it leaves no empty partial file", async () => {
  await withServer({}, async ({ dir, address }) => {
    const client = await RawClient.connect(address);
    try {
      await client.send(encodeHeader({ name: "g.bin", size: 100, id: "i" }));
      await client.lines(1);
    } finally {
      await client.close();
    }
    await waitFor(async () => (await listTree(dir)).length === 0);
  });
});

Deno.test("hostile: the client opens a file before announcing it, so a vanished one leaves nothing", async () => {
  await withServer({}, async ({ dir, local, address }) => {
    const file = await localFile(local, "gone.bin", encoder.encode("data"));
    await Deno.remove(file.path);
    const [result] = await uploadFiles(address, [file]);
    assert.equal(result.ok, false);
    assert.deepEqual(await listTree(dir), []);
  });
});
