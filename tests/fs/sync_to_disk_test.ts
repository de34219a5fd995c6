import assert from "node:assert/strict";
import { AtomicFile, syncToDisk } from "../../lib/fs/atomic_file.ts";

Deno.test("syncToDisk flushes a file committed without fsync; a missing file is an error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = await AtomicFile.create(`${dir}/upload.bin`, { fsync: false });
    await file.write(new Uint8Array([1, 2, 3]));
    const path = await file.commit();
    await syncToDisk(path);
    assert.deepEqual(await Deno.readFile(path), new Uint8Array([1, 2, 3]));
    await assert.rejects(syncToDisk(`${dir}/missing`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
