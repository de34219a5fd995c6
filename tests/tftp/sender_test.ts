import assert from "node:assert/strict";
import { bytesSource, memorySink } from "../../lib/tftp/block_io.ts";
import { tftpInfo } from "../../lib/tftp/errors.ts";
import { DEFAULT_SETTINGS, type TransferSettings } from "../../lib/tftp/options.ts";
import { decodePacket, encodeAck, encodeError, encodeOack, ErrorCode } from "../../lib/tftp/packet.ts";
import { dally, receiveBlocks } from "../../lib/tftp/receiver.ts";
import { sendBlocks } from "../../lib/tftp/sender.ts";
import { RetransmitTimer } from "../../lib/tftp/rto.ts";
import { seededBytes } from "../_helpers/random.ts";
import { type Faults, MemoryLink, memoryLinks } from "./_memory_link.ts";

const FAST = { initialMs: 20, minMs: 2, maxMs: 50, minGiveUpMs: 0, retries: 30 };

function settings(overrides: Partial<TransferSettings> = {}): TransferSettings {
  return { ...DEFAULT_SETTINGS, ...overrides };
}

/** Runs a sender and a receiver against each other in memory; returns what arrived. */
async function transfer(data: Uint8Array, options: Partial<TransferSettings>, faults: Faults = {}) {
  const [a, b] = memoryLinks(faults);
  const sink = memorySink();
  const [sent, received] = await Promise.all([
    sendBlocks(a, bytesSource(data), { settings: settings(options), retransmit: FAST }),
    receiveBlocks(b, sink, { settings: settings(options), retransmit: FAST, opening: encodeAck(0) }).then(
      async (result) => {
        // Stay to answer a repeated final block if the final ACK was lost, as a real receiver does.
        if (faults.drop || faults.reorder) await dally(b, result.finalAck, 300);
        return result;
      },
    ),
  ]);
  await sink.flush();
  return { sent, received, bytes: sink.bytes(), a, b };
}

for (const windowsize of [1, 4, 16]) {
  for (const size of [0, 1, 511, 512, 513, 512 * 7, 5000]) {
    Deno.test(`sender+receiver: ${size} bytes, blksize 512, windowsize ${windowsize}`, async () => {
      const data = seededBytes(size, size + windowsize);
      const { sent, received, bytes, a } = await transfer(data, { windowsize });
      assert.deepEqual(bytes, data);
      assert.equal(sent.bytes, size);
      assert.equal(received.bytes, size);
      assert.equal(sent.blocks, Math.floor(size / 512) + 1, "a multiple of the block size ends with an empty block");
      assert.equal(sent.retransmitted, 0);
      const last = decodePacket(a.sent.at(-1)!);
      assert.equal(last.type === "DATA" && last.data.length, size % 512);
    });
  }
}

for (
  const [name, faults] of Object.entries({
    "drops 15%": { drop: 0.15, seed: 7 },
    "duplicates 20%": { duplicate: 0.2, seed: 8 },
    "reorders 15%": { reorder: 0.15, seed: 9 },
    "drops, duplicates and reorders": { drop: 0.1, duplicate: 0.1, reorder: 0.1, seed: 10 },
  })
) {
  for (const windowsize of [1, 8]) {
    Deno.test(`sender+receiver: a link that ${name} (windowsize ${windowsize}) still delivers every byte`, async () => {
      const data = seededBytes(40_000, 3);
      const { bytes } = await transfer(data, { windowsize }, faults);
      assert.deepEqual(bytes, data);
    });
  }
}

Deno.test("sender+receiver: block numbers roll over past 65535 (to 0, and to 1 when negotiated)", async () => {
  // 8-byte blocks reach block 65536 after 512 KiB.
  const data = seededBytes(8 * 70_000 + 3, 11);
  for (const rollover of [0, 1] as const) {
    for (const windowsize of [1, 8]) {
      const { bytes, sent } = await transfer(data, { blksize: 8, windowsize, rollover });
      assert.deepEqual(bytes, data, `rollover ${rollover} windowsize ${windowsize}`);
      assert.equal(sent.blocks, 70_001);
    }
  }
});

Deno.test("sender+receiver: netascii converts line ends both ways, CR split across blocks", async () => {
  const text = new TextEncoder().encode("a\nb\rc\r\n".repeat(300) + "end\r");
  const [a, b] = memoryLinks();
  const sink = memorySink({ mode: "netascii" });
  const options = { settings: settings({ blksize: 9 }), retransmit: FAST };
  await Promise.all([
    sendBlocks(a, bytesSource(text, { mode: "netascii" }), options),
    receiveBlocks(b, sink, { ...options, opening: encodeAck(0) }),
  ]);
  await sink.flush();
  assert.deepEqual(sink.bytes(), text);
  const wire = a.sent.map((packet) => decodePacket(packet)).flatMap((p) => p.type === "DATA" ? [...p.data] : []);
  assert.ok(new TextDecoder().decode(new Uint8Array(wire)).startsWith("a\r\nb\r\0c\r\0\r\n"));
});

Deno.test("sender: a duplicate ACK never triggers a retransmission (no Sorcerer's Apprentice)", async () => {
  const [a, b] = memoryLinks();
  const data = seededBytes(512 * 3 + 10, 5);
  const sending = sendBlocks(a, bytesSource(data), { settings: settings(), retransmit: { ...FAST, initialMs: 5000 } });
  const received: number[] = [];
  for (let block = 1; block <= 4; block++) {
    const packet = decodePacket((await b.receive(5000))!);
    assert.equal(packet.type, "DATA");
    if (packet.type === "DATA") received.push(packet.block);
    // Every ACK is delivered twice, as a delayed duplicate would be.
    await b.send(encodeAck(block));
    await b.send(encodeAck(block));
  }
  const stats = await sending;
  assert.deepEqual(received, [1, 2, 3, 4]);
  assert.equal(a.sent.length, 4, "each block was sent exactly once");
  assert.equal(stats.retransmitted, 0);
});

Deno.test("sender: an ACK short of the window goes back to the block after it", async () => {
  const [a, b] = memoryLinks();
  const data = seededBytes(512 * 6, 6);
  const sending = sendBlocks(a, bytesSource(data), {
    settings: settings({ windowsize: 4 }),
    retransmit: { ...FAST, initialMs: 5000 },
  });
  const blocksOf = async (count: number) => {
    const blocks: number[] = [];
    for (let i = 0; i < count; i++) {
      const packet = decodePacket((await b.receive(5000))!);
      if (packet.type === "DATA") blocks.push(packet.block);
    }
    return blocks;
  };
  assert.deepEqual(await blocksOf(4), [1, 2, 3, 4]);
  await b.send(encodeAck(2)); // block 3 went missing
  assert.deepEqual(await blocksOf(4), [3, 4, 5, 6]);
  await b.send(encodeAck(6));
  assert.deepEqual(await blocksOf(1), [7]);
  await b.send(encodeAck(7));
  const stats = await sending;
  assert.equal(stats.blocks, 7);
  assert.equal(stats.retransmitted, 2);
});

Deno.test("sender: with an OACK it waits for ACK 0 and repeats the OACK on timeout", async () => {
  const [a, b] = memoryLinks();
  const oack = encodeOack(new Map([["blksize", "8"]]));
  const sending = sendBlocks(a, bytesSource(new Uint8Array(3)), {
    settings: settings({ blksize: 8 }),
    opening: oack,
    retransmit: FAST,
  });
  assert.equal(decodePacket((await b.receive(5000))!).type, "OACK");
  assert.equal(decodePacket((await b.receive(5000))!).type, "OACK", "repeated after no answer");
  await b.send(encodeAck(0));
  let packet = decodePacket((await b.receive(5000))!);
  while (packet.type === "OACK") packet = decodePacket((await b.receive(5000))!);
  assert.deepEqual(packet.type === "DATA" && [packet.block, packet.data.length], [1, 3]);
  await b.send(encodeAck(1));
  assert.equal((await sending).bytes, 3);
});

Deno.test("sender: a peer's ERROR ends the transfer with that error and no reply", async () => {
  const [a, b] = memoryLinks();
  const sending = sendBlocks(a, bytesSource(new Uint8Array(2000)), { settings: settings(), retransmit: FAST });
  await b.receive(5000);
  await b.send(encodeError(ErrorCode.diskFull, "Disk full"));
  await assert.rejects(sending, (error: Error) => {
    assert.equal(tftpInfo(error)?.tftpCode, ErrorCode.diskFull);
    assert.equal(tftpInfo(error)?.remote, true);
    assert.match(error.message, /the peer refused: Disk full or allocation exceeded \(code 3\)/);
    return true;
  });
  assert.ok(a.sent.every((packet) => decodePacket(packet).type === "DATA"), "no ERROR sent back");
});

Deno.test("sender: gives up after its retries with a timeout and tells the peer", async () => {
  const a = new MemoryLink();
  a.peer = new MemoryLink();
  a.peer.peer = a;
  const sending = sendBlocks(a, bytesSource(new Uint8Array(10)), {
    settings: settings(),
    retransmit: { initialMs: 5, minMs: 1, maxMs: 5, minGiveUpMs: 0, retries: 3 },
    peerName: "client",
  });
  await assert.rejects(sending, /TimedOut: no answer from the client to the final block: timed out after 3 retries/);
  const packets = a.sent.map((packet) => decodePacket(packet).type);
  assert.deepEqual(packets, ["DATA", "DATA", "DATA", "DATA", "ERROR"]);
});

Deno.test("sender: a peer that goes quiet before the final window is just not answering", async () => {
  const [a, b] = memoryLinks();
  const sending = sendBlocks(a, bytesSource(new Uint8Array(10)), {
    settings: settings({ blksize: 4 }),
    retransmit: { initialMs: 5, minMs: 1, maxMs: 5, minGiveUpMs: 0, retries: 2 },
    peerName: "client",
  });
  await b.receive(1000);
  await b.send(encodeAck(1)); // then silence: blocks 2 and 3 never acknowledged
  await assert.rejects(sending, /TimedOut: no answer from the client: timed out after 2 retries/);
});

Deno.test("sender: a failing source sends ERROR 0 with the reason", async () => {
  const [a, b] = memoryLinks();
  const source = { read: () => Promise.reject(new Error("disk read failed")) };
  await assert.rejects(sendBlocks(a, source, { settings: settings(), retransmit: FAST }), /disk read failed/);
  assert.deepEqual(decodePacket((await b.receive(100))!), { type: "ERROR", code: 0, message: "disk read failed" });
});

Deno.test("sender: abort stops the transfer and tells the peer why", async () => {
  const [a, b] = memoryLinks();
  const controller = new AbortController();
  const sending = sendBlocks(a, bytesSource(new Uint8Array(2000)), {
    settings: settings(),
    retransmit: { ...FAST, initialMs: 20 },
    signal: controller.signal,
  });
  await b.receive(5000);
  controller.abort(new Deno.errors.Interrupted("server shutting down"));
  await assert.rejects(sending, Deno.errors.Interrupted);
  const last = decodePacket(a.sent.at(-1)!);
  assert.deepEqual(last, { type: "ERROR", code: 0, message: "server shutting down" });
});

Deno.test("sender: packets that change nothing do not restart the retransmit wait", async () => {
  const [a, b] = memoryLinks();
  const sending = sendBlocks(a, bytesSource(new Uint8Array(10)), {
    settings: settings(),
    retransmit: { initialMs: 30, minMs: 30, maxMs: 30, minGiveUpMs: 0, retries: 2 },
  });
  // A duplicate ACK 0 every few milliseconds, forever: the sender must still time out on schedule.
  const noise = setInterval(() => b.send(encodeAck(0)), 3);
  try {
    await assert.rejects(sending, Deno.errors.TimedOut);
  } finally {
    clearInterval(noise);
  }
  assert.equal(a.sent.filter((packet) => decodePacket(packet).type === "DATA").length, 3);
});

Deno.test("sender: an ACK short of what was sent is no round-trip sample", async () => {
  // It follows a loss and leaves at the receiver's timeout (or on a gap): as a sample, it taught
  // the sender the receiver's timeout, and each side's timer pushed the other's up.
  const [a, b] = memoryLinks();
  const timer = new RetransmitTimer({ retries: 10 });
  const sending = sendBlocks(a, bytesSource(new Uint8Array(4 * 8 + 1)), {
    settings: settings({ blksize: 4, windowsize: 4 }),
    timer,
  });
  for (let i = 0; i < 4; i++) await b.receive(1000);
  // Blocks 3 and 4 were lost: the receiver acknowledges 2 at its timeout, 300 ms on.
  await new Promise((resolve) => setTimeout(resolve, 300));
  await b.send(encodeAck(2));
  // From then on each window is acknowledged as soon as it is whole.
  let expected = 3;
  let lastAck = 2;
  while (true) {
    const packet = await b.receive(2000);
    assert.ok(packet, "the sender went quiet");
    const decoded = decodePacket(packet.slice());
    if (decoded.type !== "DATA" || decoded.block !== expected) continue;
    expected++;
    const final = decoded.data.length < 4;
    if (final || decoded.block === lastAck + 4) {
      await b.send(encodeAck(decoded.block));
      lastAck = decoded.block;
    }
    if (final) break;
  }
  await sending;
  // The old sampling ended at about 230 ms.
  assert.ok((timer.srtt ?? 0) < 100, `srtt ${timer.srtt} ms on a link whose round trip is about a millisecond`);
});
