import assert from "node:assert/strict";
import { basename, dirname } from "node:path";
import { AtomicFile, temporaryPathFor } from "../../lib/fs/atomic_file.ts";

Deno.test("atomic file: background flushes leave the content intact and release every resource", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const chunk = crypto.getRandomValues(new Uint8Array(64 * 1024));
    const file = await AtomicFile.create(`${dir}/big.bin`, { syncEveryBytes: 128 * 1024 });
    for (let i = 0; i < 40; i++) await file.write(chunk);
    const stored = await file.commit();
    const bytes = await Deno.readFile(stored);
    assert.equal(bytes.length, 40 * chunk.length);
    assert.deepEqual(bytes.subarray(39 * chunk.length), chunk);
    assert.deepEqual([...Deno.readDirSync(dir)].map((entry) => entry.name), ["big.bin"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("atomic file: abort while a background flush runs removes the temporary file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = await AtomicFile.create(`${dir}/x.bin`, { syncEveryBytes: 1 });
    await file.write(new Uint8Array(4096));
    await file.abort(); // a flush was just started; abort must wait for it
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("atomic file: a tagged temporary name is stable; a long name is shortened to fit 255 bytes", () => {
  assert.equal(temporaryPathFor("/srv/report.pdf", "abc"), "/srv/.report.pdf.abc.part");
  const long = "é".repeat(127) + ".txt"; // 258 bytes
  const temp = temporaryPathFor(`/srv/${long}`, "0123456789abcdef0123456789abcdef");
  assert.equal(dirname(temp), "/srv");
  assert.ok(new TextEncoder().encode(basename(temp)).length <= 255);
  assert.ok(basename(temp).endsWith(".0123456789abcdef0123456789abcdef.part"));
  assert.ok(!basename(temp).includes("\ufffd"));
  assert.match(basename(temporaryPathFor("/srv/a")), /^\.a\.[0-9a-z]+\.part$/);
});

Deno.test("atomic file: a 255-byte name can be written (its temporary name fits)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const name = "n".repeat(255);
    const file = await AtomicFile.create(`${dir}/${name}`);
    await file.write(new Uint8Array([1]));
    assert.equal(await file.commit(), `${dir}/${name}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
