import assert from "node:assert/strict";
import { join } from "node:path";
import { isPartialName, partialKey, partialPath, randomKey, sweepPartials } from "../../lib/upload/partial.ts";
import { listTree } from "./_setup.ts";

Deno.test("partial: the key tells apart names, sizes and client ids", () => {
  const key = partialKey("a/b.bin", 100, "x");
  assert.match(key, /^[0-9a-f]{32}$/);
  assert.equal(partialKey("a/b.bin", 100, "x"), key);
  assert.notEqual(partialKey("a/b.bin", 101, "x"), key);
  assert.notEqual(partialKey("a/c.bin", 100, "x"), key);
  assert.notEqual(partialKey("a/b.bin", 100, "y"), key);
  assert.notEqual(partialKey("a/b.bin", 100), key);
  assert.notEqual(randomKey(), randomKey());
  assert.equal(partialPath("/srv/up/a/b.bin", key), `/srv/up/a/.b.bin.${key}.part`);
  assert.ok(isPartialName(`.b.bin.${key}.part`));
  assert.ok(!isPartialName("b.bin") && !isPartialName(".b.bin.part") && !isPartialName(`b.bin.${key}.part`));
});

Deno.test("partial: the sweep removes only stale partial files, at any depth, never one in use or a link", async () => {
  const root = await Deno.makeTempDir();
  const outside = await Deno.makeTempDir();
  try {
    const key = "0123456789abcdef0123456789abcdef";
    const old = new Date(Date.now() - 2 * 3600_000);
    await Deno.mkdir(join(root, "sub/deeper"), { recursive: true });
    const files = {
      stale: join(root, `.a.bin.${key}.part`),
      staleDeep: join(root, `sub/deeper/.b.bin.${key}.part`),
      fresh: join(root, `sub/.c.bin.${key}.part`),
      inUse: join(root, `.d.bin.${key}.part`),
      userFile: join(root, "report.part"),
      outsideTarget: join(outside, `.e.bin.${key}.part`),
    };
    for (const path of Object.values(files)) await Deno.writeTextFile(path, "x");
    for (const path of [files.stale, files.staleDeep, files.inUse, files.userFile, files.outsideTarget]) {
      await Deno.utime(path, old, old);
    }
    await Deno.symlink(outside, join(root, "link"));
    const removed = await sweepPartials(root, { maxAgeMs: 3600_000, inUse: new Set([files.inUse]) });
    assert.equal(removed, 2);
    assert.deepEqual(await listTree(root), [`.d.bin.${key}.part`, "link", "report.part", `sub/.c.bin.${key}.part`]);
    assert.deepEqual(await listTree(outside), [`.e.bin.${key}.part`]);
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});
