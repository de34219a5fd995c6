/**
 * What the ffi backend adds: transfer threads that are woken at once by an
 * abort, errors of the main thread's source or sink that reach the peer and
 * come back as the very same error, files read and written by the thread
 * itself (only the very file vetted), exact timeouts, a server whose threads
 * are all busy serving on the deno backend, and threads that end.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { type BlockSource, type FileIdentity, memorySink } from "../../lib/tftp/block_io.ts";
import { downloadFile } from "../../lib/tftp/client.ts";
import { DEFAULT_SETTINGS } from "../../lib/tftp/options.ts";
import { encodeAck, encodeData, encodeError, encodeRequest, ErrorCode } from "../../lib/tftp/packet.ts";
import { RetransmitTimer } from "../../lib/tftp/rto.ts";
import { transferThreadsAlive, TransferWorkers, WorkerLink } from "../../lib/tftp/worker_link.ts";
import { libcTest } from "../_helpers/ffi.ts";
import { waitUntil } from "../_helpers/wait.ts";
import { assertNoThreads, backendTest, makeFile, RawPeer, startOurServer, tempDir } from "./_support.ts";

async function openLink(peer: RawPeer, options: { signal?: AbortSignal; workers?: TransferWorkers } = {}) {
  const link = await WorkerLink.open({ hostname: "127.0.0.1", peer: peer.address, ...options });
  assert.ok(link, "a thread for the link");
  return link;
}

libcTest("ffi link: an abort wakes a thread blocked in a long wait at once", async () => {
  await using peer = new RawPeer();
  const controller = new AbortController();
  const link = await openLink(peer, { signal: controller.signal });
  try {
    const started = performance.now();
    const waiting = link.receiveDatagram(60_000);
    // The thread is blocked in poll(); the abort must not wait for its minute.
    setTimeout(() => controller.abort(new Deno.errors.Interrupted("stop")), 20);
    assert.equal(await waiting, null);
    assert.ok(performance.now() - started < 10_000, "woken, not timed out");
    assert.equal(await link.receiveDatagram(60_000), null, "and every wait after it ends at once");
  } finally {
    await link.close();
  }
  assertNoThreads();
});

libcTest(
  "ffi link: a source failing on this thread sends the peer an ERROR and rejects with that very error",
  async () => {
    await using peer = new RawPeer();
    const link = await openLink(peer);
    try {
      const failure = new Deno.errors.PermissionDenied("the disk went away");
      let reads = 0;
      const source = { read: (into: Uint8Array) => reads++ < 3 ? into.length : Promise.reject(failure) };
      const sending = link.sendBlocks(source, { settings: { ...DEFAULT_SETTINGS, windowsize: 8 } });
      await assert.rejects(sending, (error) => error === failure);
      const packets = [];
      for (let packet = await peer.maybeReceive(200); packet; packet = await peer.maybeReceive(200)) {
        packets.push(
          packet,
        );
      }
      const last = packets.at(-1)!;
      assert.ok(last.type === "ERROR" && last.code === ErrorCode.accessViolation, JSON.stringify(last));
      assert.equal(last.type === "ERROR" && last.message, "the disk went away");
    } finally {
      await link.close();
    }
  },
);

libcTest("ffi link: a sink failing on this thread is reported to the peer (disk full) and rethrown", async () => {
  await using peer = new RawPeer();
  const link = await openLink(peer);
  try {
    const failure = new Error("No space left on device (os error 28)");
    const sink = { write: () => Promise.reject(failure), flush: () => Promise.resolve() };
    const receiving = assert.rejects(
      link.receiveBlocks(sink, { settings: { ...DEFAULT_SETTINGS, blksize: 512 } }),
      (error) => error === failure,
    );
    // Blocks until the sink's failure comes back to the thread (after a chunk, or at the final flush).
    for (let block = 1; block <= 600; block++) {
      await peer.send(encodeData(block, new Uint8Array(block === 600 ? 10 : 512)), link.localAddress);
      const answer = await peer.receiveFrom(block);
      if (answer.type === "ERROR") {
        assert.equal(answer.code, ErrorCode.diskFull);
        break;
      }
      assert.deepEqual(answer, { type: "ACK", block });
    }
    await receiving;
  } finally {
    await link.close();
  }
});

/** A file's identity, as the main thread vets it. */
async function identity(path: string): Promise<FileIdentity> {
  const { dev, ino } = await Deno.stat(path);
  return { path, dev: dev!, ino: ino! };
}

/** Sends `file`'s blocks to the peer, acknowledging each, and returns what arrived. */
async function fetchAll(link: WorkerLink, peer: RawPeer, source: BlockSource, blksize: number): Promise<Uint8Array> {
  const sending = link.sendBlocks(source, { settings: { ...DEFAULT_SETTINGS, blksize } });
  const parts: Uint8Array[] = [];
  for (let block = 1;; block++) {
    const packet = await peer.receiveFrom(block);
    assert.ok(packet.type === "DATA" && packet.block === block, JSON.stringify(packet));
    if (packet.type !== "DATA") break;
    parts.push(packet.data.slice());
    await peer.send(encodeAck(packet.block), link.localAddress);
    if (packet.data.length < blksize) break;
  }
  await sending;
  const all = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  parts.reduce((offset, part) => (all.set(part, offset), offset + part.length), 0);
  return all;
}

const NOT_HERE = () => {
  throw new Error("read or written on the main thread");
};

libcTest("ffi link: a file is read by the thread itself, in chunks or straight into packets", async (t) => {
  await using dir = await tempDir();
  const path = await makeFile(dir.path, "boot.img", 200_000);
  for (const blksize of [512, 32768]) {
    await t.step(`blksize ${blksize}`, async () => {
      await using peer = new RawPeer();
      const link = await openLink(peer);
      try {
        // The main thread's read would fail the transfer: every byte must come from the thread.
        const got = await fetchAll(link, peer, { file: await identity(path), read: NOT_HERE }, blksize);
        assert.deepEqual(got, await Deno.readFile(path));
      } finally {
        await link.close();
      }
    });
  }
});

libcTest("ffi link: a file replaced after it was vetted is refused, not served (access violation)", async () => {
  await using dir = await tempDir();
  const path = await makeFile(dir.path, "boot.img", 5000, 1);
  const vetted = await identity(path);
  await Deno.rename(await makeFile(dir.path, "other.img", 5000, 2), path);
  await using peer = new RawPeer();
  const link = await openLink(peer);
  try {
    await assert.rejects(link.sendBlocks({ file: vetted, read: NOT_HERE }, { settings: DEFAULT_SETTINGS }), {
      name: "PermissionDenied",
    });
    const { packet } = await peer.receive();
    assert.ok(packet.type === "ERROR" && packet.code === ErrorCode.accessViolation, JSON.stringify(packet));
  } finally {
    await link.close();
  }
});

libcTest("ffi link: a file is written by the thread itself, complete before the main sink's flush runs", async (t) => {
  await using dir = await tempDir();
  const data = new Uint8Array(150_000).map((_, i) => i * 13);
  for (const blksize of [512, 32768]) {
    await t.step(`blksize ${blksize}`, async () => {
      const path = join(dir.path, `upload-${blksize}.part`);
      await Deno.writeFile(path, new Uint8Array());
      let atFlush: Uint8Array | undefined;
      const sink = {
        file: await identity(path),
        write: NOT_HERE,
        flush: async () => void (atFlush = await Deno.readFile(path)),
      };
      await using peer = new RawPeer();
      const link = await openLink(peer);
      try {
        const receiving = link.receiveBlocks(sink, { settings: { ...DEFAULT_SETTINGS, blksize } });
        for (let block = 1; (block - 1) * blksize <= data.length; block++) {
          await peer.send(encodeData(block, data.subarray((block - 1) * blksize, block * blksize)), link.localAddress);
          assert.deepEqual(await peer.receiveFrom(block), { type: "ACK", block });
        }
        assert.equal((await receiving).bytes, data.length);
        assert.deepEqual(atFlush, data, "the whole file was on disk when the main thread's flush ran");
      } finally {
        await link.close();
      }
    });
  }
});

libcTest("ffi link: received data reaches the sink whole; the timer's measurements come back", async () => {
  await using peer = new RawPeer();
  const link = await openLink(peer);
  try {
    const sink = memorySink();
    const timer = new RetransmitTimer();
    const receiving = link.receiveBlocks(sink, { settings: { ...DEFAULT_SETTINGS, blksize: 512 }, timer });
    const data = new Uint8Array(300_000).map((_, i) => i * 7);
    for (let block = 1; (block - 1) * 512 <= data.length; block++) {
      await peer.send(encodeData(block, data.subarray((block - 1) * 512, block * 512)), link.localAddress);
      assert.deepEqual(await peer.receiveFrom(block), { type: "ACK", block });
    }
    const result = await receiving;
    assert.equal(result.bytes, data.length);
    assert.deepEqual(sink.bytes(), data);
    assert.ok(timer.srtt !== undefined, "round trips measured in the thread");
  } finally {
    await link.close();
  }
});

libcTest("ffi threads: a pool lends at most max, stops idle ones beyond warm, and close stops the rest", async () => {
  await using peer = new RawPeer();
  const workers = new TransferWorkers({ max: 2, warm: 1, idleMs: 30 });
  try {
    assert.equal(workers.size, 1, "one kept warm from the start");
    const first = await openLink(peer, { workers });
    const second = await openLink(peer, { workers });
    assert.equal(await WorkerLink.open({ hostname: "127.0.0.1", workers }), undefined, "none left to lend");
    assert.equal(workers.busy, 2);
    await first.close();
    await second.close();
    assert.equal(workers.size, 2);
    await waitUntil(() => workers.size === 1, "the idle thread beyond warm to end");
  } finally {
    workers.close();
  }
  assert.equal(transferThreadsAlive(), 0);
});

backendTest("server: a negotiated timeout is used exactly, without backoff", async (backend) => {
  await using dir = await tempDir();
  await makeFile(dir.path, "file.bin", 5000);
  await using ours = startOurServer(dir.path, { udpBackend: backend, retransmit: { retries: 2 } });
  await using peer = new RawPeer();
  // utimeout (tftpd-hpa's, in microseconds): 150 ms keeps the test short.
  await peer.send(encodeRequest("RRQ", "file.bin", "octet", new Map([["utimeout", "150000"]])), ours.address);
  const oack = await peer.receive();
  assert.equal(oack.packet.type, "OACK");
  const times = [performance.now()];
  for (let i = 0; i < 2; i++) {
    assert.equal((await peer.receive(5000)).packet.type, "OACK", "repeated on timeout");
    times.push(performance.now());
  }
  for (let i = 1; i < times.length; i++) {
    const gap = times[i] - times[i - 1];
    // Never early; a fixed timeout does not double.
    assert.ok(gap >= 145 && gap < 1000, `repeat ${i} after ${gap.toFixed(0)} ms`);
  }
  await peer.send(encodeAck(0), oack.from);
});

libcTest("server: with every thread busy, a transfer runs on the deno backend and the log says so", async () => {
  await using dir = await tempDir();
  await makeFile(dir.path, "file.bin", 5000);
  await using ours = startOurServer(dir.path, { udpBackend: "ffi", maxThreads: 1 });
  await using first = new RawPeer();
  await using second = new RawPeer();
  const request = encodeRequest("RRQ", "file.bin", "octet");
  await first.send(request, ours.address);
  const held = await first.receive(); // DATA 1, not acknowledged: the thread stays busy
  await second.send(request, ours.address);
  const other = await second.receive();
  assert.equal(other.packet.type, "DATA");
  await second.send(encodeError(0, "enough"), other.from);
  await first.send(encodeError(0, "enough"), held.from);
  await ours.waitForRecords(2);
  assert.deepEqual(ours.records.map((record) => record.backend).sort(), ["deno", "ffi"]);
  const line = ours.log.find((entry) => entry.includes("[deno backend: all threads busy]"));
  assert.ok(line, ours.log.join("\n"));
  assert.equal(ours.server.backend, "ffi");
});

libcTest("server: an ffi server stops its threads when it finishes", async () => {
  await using dir = await tempDir();
  const original = await makeFile(dir.path, "file.bin", 20_000);
  const ours = startOurServer(dir.path, { udpBackend: "ffi" });
  assert.ok(ours.server.threads >= 1);
  await downloadFile(ours.address, "file.bin", join(dir.path, "got"), { udpBackend: "ffi" });
  assert.deepEqual(await Deno.readFile(join(dir.path, "got")), await Deno.readFile(original));
  await ours[Symbol.asyncDispose]();
  assert.equal(ours.server.threads, 0);
  assertNoThreads();
});
