/**
 * What the ffi backend adds: transfer threads that are woken at once by an
 * abort, errors of the main thread's source or sink that reach the peer and
 * come back as the very same error, exact timeouts, a server whose threads
 * are all busy serving on the deno backend, and threads that end.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { memorySink } from "../../lib/tftp/block_io.ts";
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
      const answer = await peer.receive();
      if (answer.packet.type === "ERROR") {
        assert.equal(answer.packet.code, ErrorCode.diskFull);
        break;
      }
      assert.deepEqual(answer.packet, { type: "ACK", block });
    }
    await receiving;
  } finally {
    await link.close();
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
      assert.deepEqual((await peer.receive()).packet, { type: "ACK", block });
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
