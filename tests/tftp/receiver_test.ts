import assert from "node:assert/strict";
import { bytesSource, memorySink } from "../../lib/tftp/block_io.ts";
import { tftpInfo } from "../../lib/tftp/errors.ts";
import { DEFAULT_SETTINGS, type TransferSettings } from "../../lib/tftp/options.ts";
import { decodePacket, encodeAck, encodeData, encodeOack, ErrorCode } from "../../lib/tftp/packet.ts";
import { dally, receiveBlocks } from "../../lib/tftp/receiver.ts";
import { sendBlocks } from "../../lib/tftp/sender.ts";
import { seededBytes } from "../_helpers/random.ts";
import { type MemoryLink, memoryLinks } from "./_memory_link.ts";

const SLOW = { initialMs: 5000, minMs: 5000, maxMs: 5000, minGiveUpMs: 0, retries: 3 };

function settings(overrides: Partial<TransferSettings> = {}): TransferSettings {
  return { ...DEFAULT_SETTINGS, ...overrides };
}

function describe(packets: Uint8Array[]): string[] {
  return packets.map((packet) => {
    const decoded = decodePacket(packet);
    return decoded.type === "ACK" ? `ACK ${decoded.block}` : decoded.type;
  });
}

/** Waits until `link` has sent `count` packets. */
async function sentCount(link: MemoryLink, count: number): Promise<void> {
  for (let i = 0; i < 1000 && link.sent.length < count; i++) await new Promise((resolve) => setTimeout(resolve, 1));
  assert.ok(link.sent.length >= count, `expected ${count} packets, got ${describe(link.sent)}`);
}

Deno.test("receiver: acknowledges each block in lock-step and the final short one", async () => {
  const [a, b] = memoryLinks();
  const sink = memorySink();
  const receiving = receiveBlocks(b, sink, { settings: settings({ blksize: 4 }), retransmit: SLOW });
  await a.send(encodeData(1, new Uint8Array([1, 2, 3, 4])));
  await a.send(encodeData(2, new Uint8Array([5])));
  const result = await receiving;
  await sink.flush();
  assert.deepEqual(sink.bytes(), new Uint8Array([1, 2, 3, 4, 5]));
  assert.deepEqual(describe(b.sent), ["ACK 1", "ACK 2"]);
  assert.deepEqual(result.finalAck, encodeAck(2));
  assert.equal(result.blocks, 2);
});

Deno.test("receiver: with a window, acknowledges every windowsize blocks; a gap is answered once", async () => {
  const [a, b] = memoryLinks();
  const sink = memorySink();
  const receiving = receiveBlocks(b, sink, { settings: settings({ blksize: 1, windowsize: 3 }), retransmit: SLOW });
  for (const block of [1, 2, 3]) await a.send(encodeData(block, new Uint8Array([block])));
  await sentCount(b, 1);
  // Block 4 is lost: 5 and 6 are a gap, answered with one ACK of 3.
  for (const block of [5, 6]) await a.send(encodeData(block, new Uint8Array([block])));
  await sentCount(b, 2);
  for (const block of [4, 5, 6]) await a.send(encodeData(block, new Uint8Array([block])));
  await a.send(encodeData(7, new Uint8Array()));
  await receiving;
  await sink.flush();
  assert.deepEqual(sink.bytes(), new Uint8Array([1, 2, 3, 4, 5, 6]));
  assert.deepEqual(describe(b.sent), ["ACK 3", "ACK 3", "ACK 6", "ACK 7"]);
});

Deno.test("receiver: the last block again is acknowledged again, but not as an immediate echo", async () => {
  const [a, b] = memoryLinks();
  const receiving = receiveBlocks(b, memorySink(), { settings: settings({ blksize: 2 }), retransmit: SLOW });
  await a.send(encodeData(1, new Uint8Array([1, 2])));
  // Right behind it, as a Sorcerer's Apprentice sender answering a duplicate ACK would send it: ignored.
  await a.send(encodeData(1, new Uint8Array([1, 2])));
  await sentCount(b, 1);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(describe(b.sent), ["ACK 1"]);
  // Later: the sender's retransmission after its timeout. Acknowledged again.
  await a.send(encodeData(1, new Uint8Array([1, 2])));
  await sentCount(b, 2);
  await a.send(encodeData(2, new Uint8Array()));
  await receiving;
  assert.deepEqual(describe(b.sent), ["ACK 1", "ACK 1", "ACK 2"]);
});

Deno.test("receiver: the opening is repeated on silence, and again when the server repeats its OACK", async () => {
  const [a, b] = memoryLinks();
  const ack0 = encodeAck(0);
  const receiving = receiveBlocks(b, memorySink(), {
    settings: settings(),
    opening: ack0,
    retransmit: { initialMs: 10, minMs: 10, maxMs: 10, minGiveUpMs: 0, retries: 5 },
  });
  await sentCount(b, 2); // sent, then repeated after 10 ms
  await a.send(encodeOack(new Map([["tsize", "0"]])));
  await sentCount(b, 3);
  await a.send(encodeData(1, new Uint8Array()));
  await receiving;
  assert.deepEqual(describe(b.sent).slice(0, 3), ["ACK 0", "ACK 0", "ACK 0"]);
  assert.equal(describe(b.sent).at(-1), "ACK 1");
});

Deno.test("receiver: a silence acknowledges every block in order, even short of a window", async () => {
  // Repeating the window's old ACK instead made the sender resend blocks 5 and 6, and the last of
  // them came right after that ACK, so it was taken for an echo: the transfer went round forever.
  const [a, b] = memoryLinks();
  const sink = memorySink();
  const receiving = receiveBlocks(b, sink, {
    settings: settings({ blksize: 1, windowsize: 4 }),
    retransmit: { initialMs: 10, minMs: 10, maxMs: 10, minGiveUpMs: 0, retries: 5 },
  });
  for (const block of [1, 2, 3, 4]) await a.send(encodeData(block, new Uint8Array([block])));
  await sentCount(b, 1);
  // Blocks 5 and 6 arrive, 7 and 8 are lost: the silence is answered with ACK 6.
  for (const block of [5, 6]) await a.send(encodeData(block, new Uint8Array([block])));
  await sentCount(b, 2);
  for (const block of [7, 8, 9, 10]) await a.send(encodeData(block, new Uint8Array([block])));
  await a.send(encodeData(11, new Uint8Array()));
  await receiving;
  await sink.flush();
  assert.deepEqual(sink.bytes(), new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
  assert.deepEqual(describe(b.sent), ["ACK 4", "ACK 6", "ACK 10", "ACK 11"]);
});

Deno.test("receiver: the wait after a gap reply is no round trip, so a retransmission soon after is answered", async () => {
  // The sender ignores an ACK of what it already had acknowledged and resends at its own timeout:
  // taken as the round trip, that delay made the echo guard dismiss real retransmissions for as long.
  const [a, b] = memoryLinks();
  const receiving = receiveBlocks(b, memorySink(), {
    settings: settings({ blksize: 1, windowsize: 4 }),
    opening: encodeAck(0),
    // A timeout of 3 s at least, so that no ACK here is the receiver's own repeat.
    retransmit: { minMs: 3000, maxMs: 5000, retries: 10 },
  });
  await a.send(encodeData(2, new Uint8Array([2]))); // block 1 lost: answered with ACK 0
  await sentCount(b, 2);
  await new Promise((resolve) => setTimeout(resolve, 300)); // the sender's timeout
  for (const block of [1, 2, 3, 4]) await a.send(encodeData(block, new Uint8Array([block])));
  await sentCount(b, 3);
  for (const block of [5, 6, 7, 8]) await a.send(encodeData(block, new Uint8Array([block])));
  await sentCount(b, 4);
  // ACK 8 is lost; the sender, whose timer knows the real round trip, resends the window 250 ms later
  // (the old echo guard, 1.5 × a round trip taken as about 260 ms, dismissed it).
  await new Promise((resolve) => setTimeout(resolve, 250));
  for (const block of [5, 6, 7, 8]) await a.send(encodeData(block, new Uint8Array([block])));
  await sentCount(b, 5);
  await a.send(encodeData(9, new Uint8Array()));
  await receiving;
  assert.deepEqual(describe(b.sent), ["ACK 0", "ACK 0", "ACK 4", "ACK 8", "ACK 8", "ACK 9"]);
});

Deno.test("receiver: ignores DATA larger than the block size", async () => {
  const [a, b] = memoryLinks();
  const sink = memorySink();
  const receiving = receiveBlocks(b, sink, { settings: settings({ blksize: 4 }), retransmit: SLOW });
  await a.send(encodeData(1, new Uint8Array(5)));
  await a.send(encodeData(1, new Uint8Array([9])));
  await receiving;
  await sink.flush();
  assert.deepEqual(sink.bytes(), new Uint8Array([9]));
});

Deno.test("receiver: refuses to grow past maxBytes with error 3", async () => {
  const [a, b] = memoryLinks();
  const receiving = receiveBlocks(b, memorySink(), {
    settings: settings({ blksize: 4 }),
    retransmit: SLOW,
    maxBytes: 6,
  });
  await a.send(encodeData(1, new Uint8Array(4)));
  await a.send(encodeData(2, new Uint8Array(4)));
  await assert.rejects(receiving, (error: Error) => tftpInfo(error)?.tftpCode === ErrorCode.diskFull);
  const last = decodePacket(b.sent.at(-1)!);
  assert.equal(last.type === "ERROR" && last.code, ErrorCode.diskFull);
});

Deno.test("receiver: times out after its retries, repeating the last ACK, and tells the sender", async () => {
  const [a, b] = memoryLinks();
  const receiving = receiveBlocks(b, memorySink(), {
    settings: settings({ blksize: 4 }),
    retransmit: { initialMs: 5, minMs: 5, maxMs: 5, minGiveUpMs: 0, retries: 2 },
    peerName: "server",
  });
  await a.send(encodeData(1, new Uint8Array(4)));
  await assert.rejects(receiving, Deno.errors.TimedOut, "no answer from the server: timed out after 2 retries");
  assert.deepEqual(describe(b.sent), ["ACK 1", "ACK 1", "ACK 1", "ERROR"]);
});

Deno.test("receiver: in lock-step, a sender that rolls over to 1 is followed", async () => {
  const data = seededBytes(65_540, 4);
  const [a, b] = memoryLinks();
  const sink = memorySink();
  const fast = { initialMs: 50, minMs: 5, maxMs: 50, minGiveUpMs: 0, retries: 10 };
  await Promise.all([
    sendBlocks(a, bytesSource(data), { settings: settings({ blksize: 1, rollover: 1 }), retransmit: fast }),
    receiveBlocks(b, sink, { settings: settings({ blksize: 1, rollover: 0 }), retransmit: fast }),
  ]);
  await sink.flush();
  assert.deepEqual(sink.bytes(), data);
});

Deno.test("dally: acknowledges the final block again while it stays, also for the rest of the final window", async () => {
  const [a, b] = memoryLinks();
  const staying = dally(b, encodeAck(3), 200);
  await a.send(encodeData(3, new Uint8Array(1)));
  // The sender resent its final window and the final block was lost again: its other blocks say as much.
  await a.send(encodeData(2, new Uint8Array(1)));
  await a.send(encodeAck(9)); // not DATA: nothing to answer
  await staying;
  assert.deepEqual(describe(b.sent), ["ACK 3", "ACK 3"]);
});

Deno.test("receiver: a window's ACK leaves before its last block is written; the final ACK waits for the flush", async () => {
  const [a, b] = memoryLinks();
  // A sink whose writes finish only when the test says so; it records how many ACKs had left at its flush.
  const written: number[] = [];
  const pending: (() => void)[] = [];
  let acksAtFlush = -1;
  const sink = {
    write(payload: Uint8Array) {
      return new Promise<void>((resolve) =>
        pending.push(() => {
          written.push(...payload);
          resolve();
        })
      );
    },
    flush() {
      acksAtFlush = b.sent.length;
      return Promise.resolve();
    },
  };
  /** Finishes the next pending write once there is one. */
  async function finishWrite(): Promise<void> {
    for (let i = 0; i < 1000 && pending.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 1));
    pending.shift()!();
  }
  const receiving = receiveBlocks(b, sink, { settings: settings({ blksize: 2 }), retransmit: SLOW });
  await a.send(encodeData(1, new Uint8Array([1, 2])));
  await sentCount(b, 1);
  assert.deepEqual([describe(b.sent), written], [["ACK 1"], []], "acknowledged while its write is pending");
  await finishWrite();
  await a.send(encodeData(2, new Uint8Array([3])));
  await finishWrite();
  await receiving;
  assert.deepEqual(written, [1, 2, 3]);
  assert.equal(acksAtFlush, 1, "the final block reached the sink's flush before its ACK");
  assert.deepEqual(describe(b.sent), ["ACK 1", "ACK 2"]);
});
