import assert from "node:assert/strict";
import { type BlockSource, bytesSource, memorySink, readerSource, writerSink } from "../../lib/tftp/block_io.ts";
import { toNetascii } from "../../lib/tftp/netascii.ts";
import { seededBytes } from "../_helpers/random.ts";

/** A reader that hands out at most `step` bytes per read, like a pipe. */
function trickle(data: Uint8Array, step: number) {
  let position = 0;
  return {
    reads: 0,
    read(into: Uint8Array): Promise<number | null> {
      this.reads++;
      if (position >= data.length) return Promise.resolve(null);
      const n = Math.min(step, into.length, data.length - position);
      into.set(data.subarray(position, position + n));
      position += n;
      return Promise.resolve(n);
    },
  };
}

async function drain(source: BlockSource, blksize: number): Promise<number[][]> {
  const blocks: number[][] = [];
  while (true) {
    const block = new Uint8Array(blksize);
    const n = await source.read(block);
    blocks.push([...block.subarray(0, n)]);
    if (n < blksize) return blocks;
  }
}

Deno.test("block_io: a reader source fills whole blocks across chunk and read boundaries", async () => {
  const data = seededBytes(10_000, 1);
  const blocks = await drain(readerSource(trickle(data, 333), { chunkSize: 1000 }), 512);
  assert.deepEqual(blocks.flat(), [...data]);
  assert.ok(blocks.slice(0, -1).every((block) => block.length === 512));
  assert.equal(blocks.at(-1)!.length, 10_000 % 512);
});

Deno.test("block_io: a multiple of the block size ends with an empty block; netascii converts on the way", async () => {
  assert.deepEqual((await drain(readerSource(trickle(new Uint8Array(1024), 4096)), 512)).map((b) => b.length), [
    512,
    512,
    0,
  ]);
  const text = new TextEncoder().encode("a\nb\r\n".repeat(500));
  const netascii = await drain(readerSource(trickle(text, 77), { mode: "netascii", chunkSize: 100 }), 64);
  assert.deepEqual(netascii.flat(), [...toNetascii(text)]);
  assert.deepEqual((await drain(bytesSource(text, { mode: "netascii" }), 64)).flat(), [...toNetascii(text)]);
});

Deno.test("block_io: a failing read surfaces from read()", async () => {
  const source = readerSource({ read: () => Promise.reject(new Error("EIO")) });
  await assert.rejects(async () => await source.read(new Uint8Array(512)), /EIO/);
});

Deno.test("block_io: a writer sink writes whole chunks, one at a time, and everything on flush", async () => {
  const written: number[][] = [];
  let writing = 0;
  const sink = writerSink({
    async write(bytes) {
      assert.equal(writing++, 0, "never two writes at once");
      await new Promise((resolve) => setTimeout(resolve, 1));
      written.push([...bytes]);
      writing--;
    },
  }, { chunkSize: 1000 });
  const data = seededBytes(5000, 2);
  for (let offset = 0; offset < data.length; offset += 300) {
    const writingNow = sink.write(data.subarray(offset, offset + 300));
    if (writingNow) await writingNow;
  }
  await sink.flush();
  assert.deepEqual(written.flat(), [...data]);
  assert.ok(written.length >= 5);
});

Deno.test("block_io: a sink converts netascii back, with a CR at the end of a block", async () => {
  const sink = memorySink({ mode: "netascii" });
  for (const part of ["one\r", "\ntwo\r", "\0three\r"]) {
    const writing = sink.write(new TextEncoder().encode(part));
    if (writing) await writing;
  }
  await sink.flush();
  assert.equal(new TextDecoder().decode(sink.bytes()), "one\ntwo\rthree\r");
});

Deno.test("block_io: a failing write surfaces at the next write or flush", async () => {
  const sink = writerSink({ write: () => Promise.reject(new Error("ENOSPC: no space left on device")) }, {
    chunkSize: 10,
  });
  await sink.write(new Uint8Array(8));
  await sink.write(new Uint8Array(8)); // the first chunk is being written
  await assert.rejects(async () => {
    await sink.write(new Uint8Array(8));
    await sink.flush();
  }, /no space left/);
});
