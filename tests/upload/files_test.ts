import assert from "node:assert/strict";
import { join } from "node:path";
import { collectFiles } from "../../lib/upload/files.ts";

Deno.test("files: a folder is walked in name order; links to files are followed, to folders skipped", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(root, "photos/2024"), { recursive: true });
    await Deno.writeTextFile(join(root, "photos/b.jpg"), "bb");
    await Deno.writeTextFile(join(root, "photos/2024/a.jpg"), "a");
    await Deno.symlink(join(root, "photos/b.jpg"), join(root, "photos/link.jpg"));
    await Deno.symlink(join(root, "photos/2024"), join(root, "photos/loop"));
    await Deno.symlink(join(root, "nowhere"), join(root, "photos/broken"));
    const skipped: string[] = [];
    const files = await collectFiles([join(root, "photos")], {
      onSkip: (path, why) => skipped.push(`${path}: ${why}`),
    });
    assert.deepEqual(files.map((file) => [file.name, file.size]), [
      ["photos/2024/a.jpg", 1],
      ["photos/b.jpg", 2],
      ["photos/link.jpg", 2],
    ]);
    assert.deepEqual(skipped, [
      `${join(root, "photos/broken")}: a broken symbolic link`,
      `${join(root, "photos/loop")}: a symbolic link to a folder`,
    ]);
    const renamed = await collectFiles([join(root, "photos")], { name: "album" });
    assert.equal(renamed[0].name, "album/2024/a.jpg");
    const single = await collectFiles([join(root, "photos/b.jpg")], { name: "c.jpg" });
    assert.equal(single[0].name, "c.jpg");
    assert.equal(single[0].path, join(root, "photos/b.jpg"));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("files: a missing path, a name for several paths, or a name the server would refuse fail early", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(root, "a"), "a");
    await assert.rejects(collectFiles([join(root, "missing")]), Deno.errors.NotFound);
    await assert.rejects(collectFiles([join(root, "a"), join(root, "a")], { name: "x" }), RangeError);
    await assert.rejects(collectFiles([join(root, "a")], { name: "../a" }), Deno.errors.PermissionDenied);
    await Deno.writeTextFile(join(root, "bad\u202ename"), "x");
    await assert.rejects(collectFiles([root]), Deno.errors.PermissionDenied);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
