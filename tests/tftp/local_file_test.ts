/**
 * A transfer thread's own file access: only the very file vetted is opened,
 * reads in chunks or straight into blocks give the file's bytes, and writes
 * of mixed block sizes land in order before the main thread's part runs.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { FileIdentity } from "../../lib/tftp/block_io.ts";
import { LocalFileSink, localFileSource, openVetted } from "../../lib/tftp/local_file.ts";
import { seededBytes } from "../_helpers/random.ts";
import { makeFile, tempDir } from "./_support.ts";

async function identity(path: string): Promise<FileIdentity> {
  const { dev, ino } = await Deno.stat(path);
  return { path, dev: dev!, ino: ino! };
}

Deno.test("openVetted opens the file vetted and refuses one swapped in under its name", async () => {
  await using dir = await tempDir();
  const path = await makeFile(dir.path, "a.bin", 100, 1);
  const vetted = await identity(path);
  openVetted(vetted, "read").close();
  await Deno.rename(await makeFile(dir.path, "b.bin", 100, 2), path);
  assert.throws(() => openVetted(vetted, "read"), Deno.errors.PermissionDenied);
  // A symlink to the vetted file is not it either once the name is swapped for the link.
  await Deno.rename(path, join(dir.path, "moved.bin"));
  await Deno.symlink(join(dir.path, "moved.bin"), path);
  openVetted({ ...vetted, ino: (await Deno.stat(join(dir.path, "moved.bin"))).ino! }, "read").close();
  assert.throws(() => openVetted(vetted, "write"), Deno.errors.PermissionDenied);
});

Deno.test("localFileSource gives the file's bytes, through chunks or straight into large blocks", async (t) => {
  await using dir = await tempDir();
  const data = seededBytes(100_000, 5);
  const path = join(dir.path, "data.bin");
  await Deno.writeFile(path, data);
  for (const [blksize, chunkBytes] of [[512, 4096], [700, 1000], [32768, 65536]]) {
    await t.step(`blksize ${blksize}, chunks of ${chunkBytes}`, async () => {
      const source = localFileSource(await identity(path), blksize, chunkBytes);
      try {
        const got: number[] = [];
        while (true) {
          const block = new Uint8Array(blksize);
          const n = await source.read(block);
          got.push(...block.subarray(0, n));
          if (n < blksize) break;
        }
        assert.deepEqual(new Uint8Array(got), data);
      } finally {
        source.close();
      }
    });
  }
});

Deno.test("LocalFileSink writes small and large blocks in order, closes, then runs the main thread's part", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "upload.part");
  await Deno.writeFile(path, new Uint8Array());
  let atFinish: Uint8Array | undefined;
  const sink = new LocalFileSink(await identity(path), 4096, async () => void (atFinish = await Deno.readFile(path)));
  const blocks = [100, 3000, 40_000, 512, 512, 20_000, 7, 0].map((size, i) => seededBytes(size, i + 1));
  for (const block of blocks) sink.write(block);
  await sink.flush();
  const expected = new Uint8Array(blocks.reduce((sum, block) => sum + block.length, 0));
  blocks.reduce((offset, block) => (expected.set(block, offset), offset + block.length), 0);
  assert.deepEqual(atFinish, expected);
});

Deno.test("LocalFileSink vets its file even when nothing is written", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "empty.part");
  await Deno.writeFile(path, new Uint8Array());
  const vetted = await identity(path);
  // Another file under the name (both kept, so the inode cannot be reused).
  await Deno.rename(path, join(dir.path, "kept.part"));
  await Deno.writeFile(path, new Uint8Array());
  let finished = false;
  const sink = new LocalFileSink(vetted, 4096, () => Promise.resolve(void (finished = true)));
  await assert.rejects(sink.flush(), Deno.errors.PermissionDenied);
  assert.equal(finished, false);
});
