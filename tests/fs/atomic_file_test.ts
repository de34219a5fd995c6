import assert from "node:assert/strict";
import { basename, dirname, join } from "node:path";
import { alternativeName, AtomicFile, temporaryPathFor } from "../../lib/fs/atomic_file.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "wirebox-atomic-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("AtomicFile: nothing under the final name until commit", () =>
  withDir(async (dir) => {
    const target = join(dir, "report.pdf");
    const file = await AtomicFile.create(target);
    await file.write(bytes("part one, "));
    await file.write(bytes("part two"));
    await assert.rejects(Deno.stat(target), Deno.errors.NotFound);
    assert.equal(file.bytesWritten, 18);
    assert.equal(await file.commit(), target);
    assert.equal(await Deno.readTextFile(target), "part one, part two");
    assert.deepEqual([...Deno.readDirSync(dir)].map((entry) => entry.name), ["report.pdf"]);
    await file.abort(); // a no-op after commit
    assert.equal(await Deno.readTextFile(target), "part one, part two");
  }));

Deno.test("AtomicFile: abort removes the temporary file and leaves the old one intact", () =>
  withDir(async (dir) => {
    const target = join(dir, "data.bin");
    await Deno.writeTextFile(target, "old contents");
    {
      await using file = await AtomicFile.create(target);
      await file.write(bytes("half of the new"));
      // leaving the block without commit aborts
    }
    assert.equal(await Deno.readTextFile(target), "old contents");
    assert.deepEqual([...Deno.readDirSync(dir)].map((entry) => entry.name), ["data.bin"]);
  }));

Deno.test("AtomicFile: conflict policies overwrite, reject and rename", () =>
  withDir(async (dir) => {
    const target = join(dir, "report.pdf");
    await Deno.writeTextFile(target, "first");
    const write = async (text: string, onConflict: "overwrite" | "reject" | "rename") => {
      const file = await AtomicFile.create(target);
      await file.write(bytes(text));
      return await file.commit({ onConflict });
    };
    assert.equal(await write("second", "rename"), join(dir, "report (1).pdf"));
    assert.equal(await write("third", "rename"), join(dir, "report (2).pdf"));
    await assert.rejects(write("fourth", "reject"), Deno.errors.AlreadyExists);
    assert.equal(await Deno.readTextFile(target), "first");
    assert.equal(await write("fifth", "overwrite"), target);
    assert.equal(await Deno.readTextFile(target), "fifth");
    assert.equal(await Deno.readTextFile(join(dir, "report (1).pdf")), "second");
    // No temporary files are left behind, not even by the rejected one.
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((entry) => entry.name).sort(),
      ["report (1).pdf", "report (2).pdf", "report.pdf"],
    );
  }));

Deno.test("AtomicFile: concurrent writers of one name never clobber each other", () =>
  withDir(async (dir) => {
    const target = join(dir, "same.txt");
    const files = await Promise.all(Array.from({ length: 20 }, () => AtomicFile.create(target)));
    await Promise.all(files.map((file, i) => file.write(bytes(`writer ${i}`))));
    const stored = await Promise.all(files.map((file) => file.commit({ onConflict: "rename" })));
    assert.equal(new Set(stored).size, 20, "every writer got its own name");
    const contents = await Promise.all(stored.map((path) => Deno.readTextFile(path)));
    assert.deepEqual(contents.sort(), Array.from({ length: 20 }, (_, i) => `writer ${i}`).sort());
  }));

Deno.test("AtomicFile: a kept temporary file can be resumed by appending", () =>
  withDir(async (dir) => {
    const target = join(dir, "big.iso");
    const tempPath = join(dir, ".big.iso.upload-key.part");
    const first = await AtomicFile.create(target, { tempPath, keepOnAbort: true });
    await first.write(bytes("0123456789"));
    await first.abort(); // connection lost
    const second = await AtomicFile.create(target, { tempPath, append: true });
    assert.equal(second.bytesWritten, 10);
    await second.write(bytes("abcdef"));
    await second.commit();
    assert.equal(await Deno.readTextFile(target), "0123456789abcdef");
    await assert.rejects(Deno.stat(tempPath), Deno.errors.NotFound);
  }));

Deno.test("AtomicFile: the temporary file must sit beside the target", () =>
  withDir(async (dir) => {
    await assert.rejects(
      AtomicFile.create(join(dir, "a.txt"), { tempPath: "/tmp/elsewhere.part" }),
      /same directory/,
    );
  }));

Deno.test("alternativeName keeps extensions and dotfiles apart", () => {
  assert.equal(alternativeName("/srv/report.pdf", 1), "/srv/report (1).pdf");
  assert.equal(alternativeName("/srv/archive.tar.gz", 2), "/srv/archive.tar (2).gz");
  assert.equal(alternativeName("/srv/.bashrc", 1), "/srv/.bashrc (1)");
  assert.equal(alternativeName("/srv/README", 3), "/srv/README (3)");
});

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
