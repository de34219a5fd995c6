import assert from "node:assert/strict";
import { join } from "node:path";
import { bytesSource, memorySink } from "../../lib/tftp/block_io.ts";
import { downloadFile, tftpGet, tftpPut } from "../../lib/tftp/client.ts";
import { tftpInfo } from "../../lib/tftp/errors.ts";
import {
  encodeAck,
  encodeData,
  encodeError,
  encodeOack,
  ErrorCode,
  type Packet,
  type RequestPacket,
} from "../../lib/tftp/packet.ts";
import { listenUdp } from "../../lib/net/udp.ts";
import { seededBytes } from "../_helpers/random.ts";
import { backendTest, makeFile, RawPeer, startOurServer, tempDir } from "./_support.ts";

const QUICK = { initialMs: 30, minMs: 5, maxMs: 30, minGiveUpMs: 0 };

/** A scripted server: `listen` takes requests; each answer comes from a fresh transfer ID. */
async function request(
  listen: RawPeer,
): Promise<{ request: RequestPacket; client: { hostname: string; port: number } }> {
  const { packet, from } = await listen.receive();
  assert.ok(packet.type === "RRQ" || packet.type === "WRQ", `expected a request, got ${packet.type}`);
  return { request: packet as RequestPacket, client: from };
}

function expectType<T extends Packet["type"]>(packet: Packet | { type: "malformed" }, type: T) {
  assert.equal(packet.type, type);
  return packet as Extract<Packet, { type: T }>;
}

backendTest(
  "client: a server that ignores the options and answers with DATA gets RFC 1350 lock-step",
  async (backend) => {
    await using listen = new RawPeer();
    await using transfer = new RawPeer();
    const data = seededBytes(700, 1);
    const sink = memorySink();
    const getting = tftpGet(listen.address, "file", sink, { udpBackend: backend, retransmit: { initialMs: 2000 } });
    const { request: rrq, client } = await request(listen);
    assert.deepEqual([...rrq.options.keys()], ["blksize", "windowsize", "tsize"]);
    await transfer.send(encodeData(1, data.subarray(0, 512)), client);
    assert.deepEqual((await transfer.receive()).packet, { type: "ACK", block: 1 });
    await transfer.send(encodeData(2, data.subarray(512)), client);
    assert.deepEqual((await transfer.receive()).packet, { type: "ACK", block: 2 });
    const result = await getting;
    assert.deepEqual(sink.bytes(), data);
    assert.equal(result.settings.blksize, 512);
    assert.equal(result.settings.windowsize, 1);
  },
);

backendTest("client: an OACK with an option it did not ask for is refused with error 8", async (backend) => {
  await using listen = new RawPeer();
  await using transfer = new RawPeer();
  const refused = assert.rejects(
    tftpGet(listen.address, "file", memorySink(), { udpBackend: backend, windowsize: 1 }),
    (error: Error) => tftpInfo(error)?.tftpCode === ErrorCode.optionNegotiation,
  );
  const { client } = await request(listen);
  await transfer.send(encodeOack(new Map([["blksize", "1468"], ["timeout", "9"]])), client);
  const refusal = expectType((await transfer.receive()).packet, "ERROR");
  assert.equal(refusal.code, ErrorCode.optionNegotiation);
  assert.match(refusal.message, /timeout 9 was not requested/);
  await refused;
});

backendTest("client: a server refusing the options (error 8) is asked again without any", async (backend) => {
  await using listen = new RawPeer();
  await using transfer = new RawPeer();
  const sink = memorySink();
  const getting = tftpGet(listen.address, "file", sink, { udpBackend: backend });
  const first = await request(listen);
  assert.ok(first.request.options.size > 0);
  await transfer.send(encodeError(ErrorCode.optionNegotiation, "Unsupported option(s) requested"), first.client);
  const second = await request(listen);
  assert.equal(second.request.options.size, 0);
  await transfer.send(encodeData(1, new Uint8Array([7])), second.client);
  assert.deepEqual((await transfer.receive()).packet, { type: "ACK", block: 1 });
  await getting;
  assert.deepEqual(sink.bytes(), new Uint8Array([7]));
});

backendTest("client: a silent server times out after the retries, and nothing is left behind", async (backend) => {
  await using dir = await tempDir();
  await using silent = new RawPeer();
  const local = join(dir.path, "never");
  await assert.rejects(
    downloadFile(silent.address, "file", local, { udpBackend: backend, retries: 2, retransmit: QUICK }),
    Deno.errors.TimedOut,
    "no answer from the server: timed out after 2 retries",
  );
  assert.deepEqual([...Deno.readDirSync(dir.path)], []);
  let requests = 0;
  while (await silent.maybeReceive(50)) requests++;
  assert.equal(requests, 3, "the request and two repetitions");
});

backendTest("client: an ERROR mid-download fails it with the server's words; no partial file", async (backend) => {
  await using dir = await tempDir();
  await using listen = new RawPeer();
  await using transfer = new RawPeer();
  const local = join(dir.path, "partial");
  const getting = downloadFile(listen.address, "file", local, {
    udpBackend: backend,
    blksize: 512,
    windowsize: 1,
    tsize: false,
  });
  const { client } = await request(listen);
  await transfer.send(encodeData(1, new Uint8Array(512)), client);
  await transfer.receive();
  await transfer.send(encodeError(ErrorCode.accessViolation, "Go away"), client);
  await assert.rejects(getting, (error: Error) => {
    assert.ok(error instanceof Deno.errors.PermissionDenied);
    assert.equal(error.message, "the server refused: Access violation (code 2): Go away");
    return true;
  });
  assert.deepEqual([...Deno.readDirSync(dir.path)], [], "neither the file nor a temporary one");
});

backendTest("client: answers from another host are ignored; a stranger gets error 5 mid-transfer", async (backend) => {
  await using listen = new RawPeer();
  await using transfer = new RawPeer();
  await using stranger = new RawPeer();
  const otherHost = listenUdp({ hostname: "127.0.0.2", port: 0 });
  try {
    const sink = memorySink();
    const getting = tftpGet(listen.address, "file", sink, {
      udpBackend: backend,
      blksize: 512,
      windowsize: 1,
      tsize: false,
    });
    const { client } = await request(listen);
    // Not the server's address: must not capture the transfer.
    await otherHost.send(encodeData(1, new Uint8Array([6, 6, 6])), { transport: "udp", ...client });
    await transfer.send(encodeData(1, new Uint8Array(512).fill(1)), client);
    assert.deepEqual((await transfer.receive()).packet, { type: "ACK", block: 1 });
    await stranger.send(encodeData(2, new Uint8Array([9])), client);
    assert.equal(expectType((await stranger.receive()).packet, "ERROR").code, ErrorCode.unknownTransferId);
    await transfer.send(encodeData(2, new Uint8Array([2])), client);
    assert.deepEqual((await transfer.receive()).packet, { type: "ACK", block: 2 });
    await getting;
    assert.deepEqual(sink.bytes(), new Uint8Array([...new Uint8Array(512).fill(1), 2]));
  } finally {
    otherHost.close();
  }
});

backendTest("client: a stale transfer's DATA from the server's host does not capture the request", async (backend) => {
  // A transfer whose client left early goes on sending its last block to that client's port,
  // which the system may hand to a new request: only an OACK or DATA 1 can answer a read.
  await using listen = new RawPeer();
  await using stale = new RawPeer();
  await using transfer = new RawPeer();
  const sink = memorySink();
  const getting = tftpGet(listen.address, "file", sink, { udpBackend: backend, noOptions: true, retransmit: QUICK });
  const { client } = await request(listen);
  await stale.send(encodeData(33, new Uint8Array()), client);
  await stale.send(encodeAck(0), client);
  await transfer.send(encodeData(1, new TextEncoder().encode("hello")), client);
  assert.deepEqual((await transfer.receive()).packet, { type: "ACK", block: 1 });
  await getting;
  assert.equal(new TextDecoder().decode(sink.bytes()), "hello");
  assert.equal(await stale.maybeReceive(50), null, "the stale transfer was not answered as if it were this one");
});

backendTest("client: after its final ACK it stays to repeat it for a server a few timeouts late", async (backend) => {
  await using listen = new RawPeer();
  await using transfer = new RawPeer();
  // A 50 ms timer: the server's repeat 200 ms after the final ACK is late for one retransmission, not for three.
  const getting = tftpGet(listen.address, "file", memorySink(), {
    udpBackend: backend,
    noOptions: true,
    retransmit: { initialMs: 50, minMs: 50, maxMs: 400, minGiveUpMs: 0 },
  });
  const { client } = await request(listen);
  await transfer.send(encodeData(1, new Uint8Array([1])), client);
  assert.deepEqual((await transfer.receive()).packet, { type: "ACK", block: 1 });
  await new Promise((resolve) => setTimeout(resolve, 200));
  await transfer.send(encodeData(1, new Uint8Array([1])), client);
  assert.deepEqual((await transfer.receive(1000)).packet, { type: "ACK", block: 1 });
  await getting;
});

backendTest("client: progress reports the size from tsize; abort tells the server", async (backend) => {
  await using dir = await tempDir();
  await makeFile(dir.path, "file.bin", 200_000);
  await using ours = startOurServer(dir.path, { udpBackend: backend });
  const seen: [number, number | undefined][] = [];
  await downloadFile(ours.address, "file.bin", join(dir.path, "got"), {
    udpBackend: backend,
    onProgress: (bytes, total) => seen.push([bytes, total]),
  });
  assert.deepEqual(seen.at(-1), [200_000, 200_000]);
  // Reported as it goes (the ffi backend's thread reports at most every 64 KiB or 100 ms), never backwards.
  assert.ok(seen.length >= 2, `${seen.length} reports`);
  assert.ok(seen.every(([bytes], i) => i === 0 || bytes >= seen[i - 1][0]));
  const controller = new AbortController();
  const aborted = downloadFile(ours.address, "file.bin", join(dir.path, "aborted"), {
    udpBackend: backend,
    blksize: 512,
    windowsize: 1,
    signal: controller.signal,
    onProgress: (bytes) => bytes > 50_000 && controller.abort(new Deno.errors.Interrupted("stopped by SIGINT")),
  });
  await assert.rejects(aborted, Deno.errors.Interrupted);
  await ours.waitForRecords(2);
  assert.match(ours.records[1].error!.message, /the client refused: Error \(code 0\): stopped by SIGINT/);
  await assert.rejects(Deno.lstat(join(dir.path, "aborted")), Deno.errors.NotFound);
});

/** Milliseconds between the next packet from the client and its repetition (the packet is not answered). */
async function repeatGap(transfer: RawPeer): Promise<{ gap: number; packet: Packet | { type: "malformed" } }> {
  const first = await transfer.receive();
  const sent = performance.now();
  const again = await transfer.receive();
  assert.deepEqual(again.packet, first.packet, "the same packet, repeated");
  return { gap: performance.now() - sent, packet: first.packet };
}

// The client asks for a 10 s timeout; a server that does not grant it leaves the round-trip timer in charge,
// which on loopback repeats within milliseconds (the test allows 2 s for a loaded machine).
const ASKED = { timeoutSeconds: 10, blksize: 512, windowsize: 1, tsize: false } as const;

backendTest(
  "client: a timeout the OACK leaves out is not kept: the download runs on the RTT timer",
  async (backend) => {
    await using listen = new RawPeer();
    await using transfer = new RawPeer();
    const sink = memorySink();
    const getting = tftpGet(listen.address, "file", sink, { ...ASKED, blksize: 1024, udpBackend: backend });
    const { request: rrq, client } = await request(listen);
    assert.equal(rrq.options.get("timeout"), "10");
    await transfer.send(encodeOack(new Map([["blksize", "1024"]])), client);
    const { gap, packet } = await repeatGap(transfer);
    assert.deepEqual(packet, { type: "ACK", block: 0 });
    assert.ok(gap < 2000, `ACK 0 repeated after ${gap.toFixed(0)} ms, not the 10 s asked for`);
    await transfer.send(encodeData(1, new Uint8Array([1, 2])), client);
    assert.deepEqual(await transfer.receiveFrom(1), { type: "ACK", block: 1 });
    const result = await getting;
    assert.equal(result.settings.timeoutMs, undefined);
    assert.deepEqual(sink.bytes(), new Uint8Array([1, 2]));
  },
);

backendTest("client: a server that answers a request with a timeout by DATA runs on the RTT timer", async (backend) => {
  await using listen = new RawPeer();
  await using transfer = new RawPeer();
  const sink = memorySink();
  const getting = tftpGet(listen.address, "file", sink, { ...ASKED, udpBackend: backend });
  const { client } = await request(listen);
  await transfer.send(encodeData(1, new Uint8Array(512).fill(3)), client);
  const { gap, packet } = await repeatGap(transfer);
  assert.deepEqual(packet, { type: "ACK", block: 1 });
  assert.ok(gap < 2000, `ACK 1 repeated after ${gap.toFixed(0)} ms, not the 10 s asked for`);
  await transfer.send(encodeData(2, new Uint8Array([4])), client);
  assert.deepEqual(await transfer.receiveFrom(2), { type: "ACK", block: 2 });
  await getting;
  assert.equal(sink.bytes().length, 513);
});

backendTest(
  "client: a server that answers a WRQ with options by ACK 0 gets a lock-step upload on the RTT timer",
  async (backend) => {
    await using listen = new RawPeer();
    await using transfer = new RawPeer();
    const data = seededBytes(700, 2);
    const putting = tftpPut(listen.address, "file", bytesSource(data), {
      timeoutSeconds: 10,
      blksize: 1024,
      windowsize: 4,
      size: data.length,
      udpBackend: backend,
    });
    const { request: wrq, client } = await request(listen);
    assert.equal(wrq.type, "WRQ");
    assert.deepEqual([...wrq.options.keys()], ["blksize", "windowsize", "timeout", "tsize"]);
    await transfer.send(encodeAck(0), client);
    const { gap, packet } = await repeatGap(transfer);
    const first = expectType(packet, "DATA");
    assert.equal(first.block, 1);
    assert.deepEqual(first.data, data.subarray(0, 512), "RFC 1350's 512-byte blocks, one at a time");
    assert.ok(gap < 2000, `DATA 1 repeated after ${gap.toFixed(0)} ms, not the 10 s asked for`);
    await transfer.send(encodeAck(1), client);
    const second = expectType(await transfer.receiveFrom(2), "DATA");
    assert.equal(second.block, 2);
    assert.deepEqual(second.data, data.subarray(512));
    await transfer.send(encodeAck(2), client);
    const result = await putting;
    assert.equal(result.bytes, 700);
    assert.equal(result.settings.blksize, 512);
  },
);

backendTest("client: a timeout the server grants is honoured exactly", async (backend) => {
  await using listen = new RawPeer();
  await using transfer = new RawPeer();
  const getting = tftpGet(listen.address, "file", memorySink(), { ...ASKED, timeoutSeconds: 1, udpBackend: backend });
  const { client } = await request(listen);
  await transfer.send(encodeOack(new Map([["timeout", "1"]])), client);
  const { gap } = await repeatGap(transfer);
  // Never early, and not doubled: the ffi thread may add a little on a loaded machine.
  assert.ok(gap >= 990 && gap < 1800, `ACK 0 repeated after ${gap.toFixed(0)} ms`);
  await transfer.send(encodeData(1, new Uint8Array(0)), client);
  assert.deepEqual(await transfer.receiveFrom(1), { type: "ACK", block: 1 });
  assert.equal((await getting).settings.timeoutMs, 1000);
});
