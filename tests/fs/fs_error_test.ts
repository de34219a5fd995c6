import assert from "node:assert/strict";
import { fsReason } from "../../lib/fs/fs_error.ts";

Deno.test("fsReason: Deno's OS errors in plain words, without the error number and the operation", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/file`;
    await Deno.writeTextFile(file, "x");
    const reasons = [];
    for (const attempt of [() => Deno.mkdir(`${file}/x`), () => Deno.readTextFile(`${dir}/missing`)]) {
      reasons.push(await attempt().then(() => "no error", fsReason));
    }
    assert.deepEqual(reasons, ["not a directory", "no such file or directory"]);
    assert.equal(fsReason(new Error("ENOSPC: something")), "ENOSPC: something", "not Deno's shape: kept");
    assert.equal(fsReason("disk on fire"), "disk on fire");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
