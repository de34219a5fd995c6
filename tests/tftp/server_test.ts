import assert from "node:assert/strict";
import { join } from "node:path";
import { downloadFile, uploadFile } from "../../lib/tftp/client.ts";
import {
  encodeAck,
  encodeData,
  encodeError,
  encodeOack,
  encodeRequest,
  ErrorCode,
  type Packet,
} from "../../lib/tftp/packet.ts";
import { seededBytes } from "../_helpers/random.ts";
import { backendTest, makeFile, RawPeer, sha256, startOurServer, tempDir } from "./_support.ts";

const QUICK = { retries: 2, initialMs: 50, minMs: 5, maxMs: 50, minGiveUpMs: 0 };

function expectError(packet: Packet | { type: "malformed" }, code: number, message?: RegExp): void {
  assert.equal(packet.type, "ERROR", `expected ERROR ${code}, got ${JSON.stringify(packet)}`);
  if (packet.type !== "ERROR") return;
  assert.equal(packet.code, code, packet.message);
  if (message) assert.match(packet.message, message);
}

async function rrq(peer: RawPeer, server: { hostname: string; port: number }, name: string, options = new Map()) {
  await peer.send(encodeRequest("RRQ", name, "octet", options), server);
  return await peer.receive();
}

backendTest(
  "server: only the root is served; traversal, absolute names and symlinks out are access violations",
  async (backend) => {
    await using dir = await tempDir();
    const root = join(dir.path, "root");
    await Deno.mkdir(join(root, "boot"), { recursive: true });
    await Deno.writeTextFile(join(dir.path, "outside.txt"), "secret");
    await Deno.mkdir(join(dir.path, "outdir"));
    await Deno.writeTextFile(join(dir.path, "outdir", "secret"), "secret");
    const boot = await makeFile(join(root, "boot"), "pxelinux.0", 3000);
    await Deno.symlink(join(dir.path, "outside.txt"), join(root, "escape"));
    await Deno.symlink(join(dir.path, "outdir"), join(root, "dirlink"));
    await Deno.symlink(boot, join(root, "inside-link"));
    await using ours = startOurServer(root, { udpBackend: backend });
    await using peer = new RawPeer();
    for (
      const name of [
        "../outside.txt",
        "/etc/passwd",
        "escape",
        "dirlink/secret",
        "boot/../../outside.txt",
        "..\\outside.txt",
        "boot\\..\\..\\outside.txt",
        "C:\\Windows\\win.ini",
      ]
    ) {
      const { packet } = await rrq(peer, ours.address, name);
      expectError(packet, ErrorCode.accessViolation);
    }
    for (const name of ["boot/pxelinux.0", "boot\\pxelinux.0", "inside-link"]) {
      const local = join(dir.path, "got");
      await downloadFile(ours.address, name, local, { udpBackend: backend });
      assert.equal(await sha256(local), await sha256(boot), name);
    }
    const missing = await rrq(peer, ours.address, "boot/missing");
    expectError(missing.packet, ErrorCode.fileNotFound, /^File not found$/);
    const directory = await rrq(peer, ours.address, "boot");
    expectError(directory.packet, ErrorCode.accessViolation, /Not a regular file/);
    assert.ok(ours.log.some((line) => line.includes('RRQ "../outside.txt" octet: failed') && line.includes('".."')));
  },
);

backendTest(
  "server: with allowLeadingSlash, /name is the root's name and /etc/passwd stays inside",
  async (backend) => {
    await using dir = await tempDir();
    const original = await makeFile(dir.path, "inside.bin", 700);
    await using ours = startOurServer(dir.path, { udpBackend: backend, allowLeadingSlash: true });
    const local = join(dir.path, "got");
    await downloadFile(ours.address, "/inside.bin", local, { udpBackend: backend });
    assert.equal(await sha256(local), await sha256(original));
    await using peer = new RawPeer();
    expectError((await rrq(peer, ours.address, "/etc/passwd")).packet, ErrorCode.fileNotFound);
  },
);

backendTest(
  "server: uploads out of the root (.., a symlinked folder, an absolute name) are refused with code 2, nothing written",
  async (backend) => {
    await using dir = await tempDir();
    const root = join(dir.path, "root");
    const outside = join(dir.path, "outdir");
    await Deno.mkdir(root);
    await Deno.mkdir(outside);
    await Deno.symlink(outside, join(root, "outlink"));
    await using ours = startOurServer(root, { udpBackend: backend, create: true, overwrite: true });
    await using peer = new RawPeer();
    const names = ["../evil", "outlink/evil", join(dir.path, "evil"), "outlink/../../evil", "..\\evil"];
    for (const name of names) {
      await peer.send(encodeRequest("WRQ", name, "octet", new Map([["tsize", "5"]])), ours.address);
      const { packet, from } = await peer.receive();
      expectError(packet, ErrorCode.accessViolation);
      // Were it accepted, this would be its data: it must not land anywhere.
      await peer.send(encodeData(1, new TextEncoder().encode("evil\n")), from);
    }
    // The same with the client, which would have sent the file if the server had acknowledged.
    const local = await makeFile(dir.path, "local.bin", 100);
    for (const name of names) {
      await assert.rejects(
        uploadFile(ours.address, local, name, { udpBackend: backend }),
        (error: Error) => error instanceof Deno.errors.PermissionDenied && /code 2/.test(error.message),
        name,
      );
    }
    await ours.waitForRecords(2 * names.length);
    assert.ok(ours.records.every((record) => record.error !== undefined && record.bytes === 0));
    const everything: string[] = [];
    for await (const entry of walk(dir.path)) everything.push(entry);
    assert.deepEqual(everything.sort(), ["local.bin", "outdir", "root", "root/outlink"], "nothing written anywhere");
  },
);

/** Every path under `folder`, relative to it (symlinks not followed). */
async function* walk(folder: string, prefix = ""): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(join(folder, prefix))) {
    const path = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    yield path;
    if (entry.isDirectory) yield* walk(folder, path);
  }
}

backendTest("server: uploads need create (new files) or overwrite (existing ones)", async (backend) => {
  await using dir = await tempDir();
  const data = await makeFile(dir.path, "data.bin", 2000);
  const cases = [
    { create: false, overwrite: false, fresh: ErrorCode.accessViolation, existing: ErrorCode.accessViolation },
    { create: true, overwrite: false, fresh: 0, existing: ErrorCode.fileExists },
    { create: false, overwrite: true, fresh: ErrorCode.accessViolation, existing: 0 },
    { create: true, overwrite: true, fresh: 0, existing: 0 },
  ];
  for (const { create, overwrite, fresh, existing } of cases) {
    const root = join(dir.path, `root-${create}-${overwrite}`);
    await Deno.mkdir(root);
    await Deno.writeTextFile(join(root, "existing.bin"), "old");
    await using ours = startOurServer(root, { udpBackend: backend, create, overwrite });
    for (const [name, expected] of [["new.bin", fresh], ["existing.bin", existing]] as const) {
      const upload = uploadFile(ours.address, data, name, { udpBackend: backend });
      if (expected === 0) {
        await upload;
        assert.equal(await sha256(join(root, name)), await sha256(data), `${name} create=${create}`);
      } else {
        await assert.rejects(upload, (error: Error) => new RegExp(`code ${expected}`).test(error.message));
        const content = await Deno.readTextFile(join(root, name)).catch(() => "absent");
        assert.equal(content, name === "new.bin" ? "absent" : "old", `${name} create=${create} overwrite=${overwrite}`);
      }
    }
    const listing = [...Deno.readDirSync(root)].map((entry) => entry.name).sort();
    assert.ok(listing.every((name) => !name.endsWith(".part")), `no temporary files left: ${listing}`);
  }
});

backendTest(
  "server: an abandoned upload leaves nothing, and the transfer is given up after its retries",
  async (backend) => {
    await using dir = await tempDir();
    await using ours = startOurServer(dir.path, { udpBackend: backend, create: true, retransmit: QUICK });
    await using peer = new RawPeer();
    const record = ours.recordOf(async () => {
      await peer.send(encodeRequest("WRQ", "partial.bin", "octet"), ours.address);
      const { packet, from } = await peer.receive();
      assert.deepEqual(packet, { type: "ACK", block: 0 });
      await peer.send(encodeData(1, seededBytes(512, 1)), from);
      assert.deepEqual((await peer.receive()).packet, { type: "ACK", block: 1 });
      // ... and the client is gone.
    });
    const { error } = await record;
    assert.ok(error instanceof Deno.errors.TimedOut, String(error));
    assert.match(error.message, /no answer from the client: timed out after 2 retries/);
    assert.deepEqual([...Deno.readDirSync(dir.path)], [], "neither the file nor its temporary name remains");
    assert.equal(ours.server.activeTransfers, 0);
  },
);

backendTest(
  "server: a client that vanishes mid-download is given up after the retries; nothing is held",
  async (backend) => {
    await using dir = await tempDir();
    await makeFile(dir.path, "big.bin", 5000);
    await using ours = startOurServer(dir.path, { udpBackend: backend, retransmit: QUICK });
    await using peer = new RawPeer();
    const { error, bytes } = await ours.recordOf(async () => {
      const { packet } = await rrq(peer, ours.address, "big.bin");
      assert.equal(packet.type === "DATA" && packet.block, 1);
    });
    assert.ok(error instanceof Deno.errors.TimedOut);
    assert.equal(bytes, 0);
    assert.equal(ours.server.activeTransfers, 0);
    const sent: string[] = [];
    for (let packet = await peer.maybeReceive(100); packet; packet = await peer.maybeReceive(100)) {
      sent.push(packet.type === "DATA" ? `DATA ${packet.block}` : packet.type);
    }
    assert.deepEqual(sent, ["DATA 1", "DATA 1", "ERROR"], "two retransmissions, then an ERROR telling why");
  },
);

backendTest("server: malformed packets are answered or ignored, and it keeps serving", async (backend) => {
  await using dir = await tempDir();
  const original = await makeFile(dir.path, "file.bin", 1500);
  await using ours = startOurServer(dir.path, { udpBackend: backend });
  await using peer = new RawPeer();
  const text = (s: string) => new TextEncoder().encode(s);
  const answered: [Uint8Array, number, RegExp][] = [
    [new Uint8Array([0, 1, ...text("no-nul")]), ErrorCode.illegalOperation, /filename is not terminated/],
    [new Uint8Array([0, 1, ...text("f\0binary\0")]), ErrorCode.illegalOperation, /mode "binary"/],
    [new Uint8Array([0, 2, ...text("f\0octet\0blksize\0big\0")]), ErrorCode.illegalOperation, /blksize/],
    [new Uint8Array([0, 1, ...text("f\0octet\0blksize")]), ErrorCode.illegalOperation, /not terminated/],
    [encodeData(1, new Uint8Array(10)), ErrorCode.unknownTransferId, /Unknown transfer ID/],
    [encodeAck(3), ErrorCode.unknownTransferId, /Unknown transfer ID/],
    [encodeOack(new Map()), ErrorCode.unknownTransferId, /Unknown transfer ID/],
  ];
  for (const [bytes, code, message] of answered) {
    await peer.send(bytes, ours.address);
    expectError((await peer.receive()).packet, code, message);
  }
  const ignored = [
    new Uint8Array(),
    new Uint8Array([0]),
    new Uint8Array([0, 9, 1, 2, 3]),
    new Uint8Array([0xff, 0xff]),
    seededBytes(700, 3),
    encodeError(0, "not for you"),
  ];
  for (const bytes of ignored) await peer.send(bytes, ours.address);
  assert.equal(await peer.maybeReceive(200), null, "noise is not answered");
  const mail = await peer.send(encodeRequest("RRQ", "file.bin", "mail"), ours.address).then(() => peer.receive());
  expectError(mail.packet, ErrorCode.illegalOperation, /mail is not supported/);
  const local = join(dir.path, "got");
  await downloadFile(ours.address, "file.bin", local, { udpBackend: backend });
  assert.equal(await sha256(local), await sha256(original));
});

backendTest(
  "server: a stranger writing to a transfer's port gets error 5 and the transfer goes on",
  async (backend) => {
    await using dir = await tempDir();
    const original = seededBytes(1200, 4);
    await Deno.writeFile(join(dir.path, "file.bin"), original);
    await using ours = startOurServer(dir.path, { udpBackend: backend });
    await using client = new RawPeer();
    await using stranger = new RawPeer();
    const first = await rrq(client, ours.address, "file.bin");
    assert.equal(first.packet.type === "DATA" && first.packet.block, 1);
    await stranger.send(encodeAck(1), first.from);
    expectError((await stranger.receive()).packet, ErrorCode.unknownTransferId);
    const received = [first.packet.type === "DATA" ? first.packet.data : new Uint8Array()];
    for (let block = 1; block <= 3; block++) {
      await client.send(encodeAck(block), first.from);
      if (block === 3) break;
      const { packet, from } = await client.receive();
      assert.equal(from.port, first.from.port);
      assert.equal(packet.type === "DATA" && packet.block, block + 1);
      if (packet.type === "DATA") received.push(packet.data);
    }
    assert.deepEqual(new Uint8Array(received.flatMap((part) => [...part])), original);
    assert.equal((await ours.waitForRecords(1), ours.records[0].error), undefined);
  },
);

backendTest("server: a repeated request does not start a second transfer", async (backend) => {
  await using dir = await tempDir();
  await makeFile(dir.path, "file.bin", 5000);
  await using ours = startOurServer(dir.path, { udpBackend: backend });
  await using peer = new RawPeer();
  const request = encodeRequest("RRQ", "file.bin", "octet");
  await peer.send(request, ours.address);
  await peer.send(request, ours.address);
  const first = await peer.receive();
  assert.equal(await peer.maybeReceive(300), null, "no DATA from a second transfer");
  assert.equal(ours.server.activeTransfers, 1);
  await peer.send(encodeError(0, "enough"), first.from);
  await ours.waitForRecords(1);
  assert.match(ours.records[0].error!.message, /the client refused: Error \(code 0\): enough/);
});

backendTest("server: past maxTransfers a request is told the server is busy", async (backend) => {
  await using dir = await tempDir();
  await makeFile(dir.path, "file.bin", 5000);
  await using ours = startOurServer(dir.path, { udpBackend: backend, maxTransfers: 1 });
  await using first = new RawPeer();
  await using second = new RawPeer();
  const running = await rrq(first, ours.address, "file.bin");
  expectError((await rrq(second, ours.address, "file.bin")).packet, ErrorCode.undefined, /Server busy/);
  await first.send(encodeError(0, "bye"), running.from);
  await ours.waitForRecords(1);
  assert.equal((await rrq(second, ours.address, "file.bin")).packet.type, "DATA", "served once the first ended");
});

backendTest(
  "server: an upload beyond maxUploadBytes is refused up front (tsize) or stopped (without)",
  async (backend) => {
    await using dir = await tempDir();
    const root = join(dir.path, "root");
    await Deno.mkdir(root);
    const big = await makeFile(dir.path, "big.bin", 5000);
    await using ours = startOurServer(root, { udpBackend: backend, create: true, maxUploadBytes: 1000 });
    await using peer = new RawPeer();
    await peer.send(encodeRequest("WRQ", "big.bin", "octet", new Map([["tsize", "5000"]])), ours.address);
    expectError((await peer.receive()).packet, ErrorCode.diskFull, /at most 1000/);
    await assert.rejects(uploadFile(ours.address, big, "big.bin", { udpBackend: backend, tsize: false }), /code 3/);
    await ours.waitForRecords(2);
    assert.deepEqual([...Deno.readDirSync(root)], [], "the partial upload is gone once the server is done with it");
  },
);

backendTest("server: grants options within its limits and logs one line per transfer", async (backend) => {
  await using dir = await tempDir();
  await makeFile(dir.path, "file.bin", 4096);
  await using ours = startOurServer(dir.path, { udpBackend: backend, maxBlksize: 1024, maxWindowsize: 4 });
  await using peer = new RawPeer();
  const options = new Map([["blksize", "65464"], ["windowsize", "64"], ["tsize", "0"], ["timeout", "2"], ["x", "1"]]);
  const { packet, from } = await rrq(peer, ours.address, "file.bin", options);
  assert.deepEqual(packet, {
    type: "OACK",
    options: new Map([["blksize", "1024"], ["tsize", "4096"], ["timeout", "2"], ["windowsize", "4"]]),
  });
  await peer.send(encodeAck(0), from);
  for (let block = 1; block <= 4; block++) {
    const data = await peer.receive();
    assert.equal(data.packet.type === "DATA" && data.packet.block, block, "a window of 4 without waiting");
  }
  await peer.send(encodeAck(4), from);
  assert.deepEqual((await peer.receive()).packet, { type: "DATA", block: 5, data: new Uint8Array() });
  await peer.send(encodeAck(5), from);
  await ours.waitForRecords(1);
  const line = ours.log.find((entry) => entry.includes("file.bin"))!;
  assert.match(line, /^tftp: 127\.0\.0\.1:\d+ RRQ "file\.bin" octet: sent 4\.00 KiB in \d+ ms \([\d.]+ [KM]iB\/s\)$/);
});

backendTest("server: shutting down tells the transfers in progress", async (backend) => {
  await using dir = await tempDir();
  await makeFile(dir.path, "file.bin", 5000);
  const ours = startOurServer(dir.path, { udpBackend: backend });
  await using peer = new RawPeer();
  const first = await rrq(peer, ours.address, "file.bin");
  assert.equal(first.packet.type, "DATA");
  await ours[Symbol.asyncDispose]();
  let packet = await peer.receive();
  while (packet.packet.type === "DATA") packet = await peer.receive();
  expectError(packet.packet, ErrorCode.undefined, /Server shutting down/);
  assert.match(ours.records[0].error!.message, /Server shutting down/);
});

backendTest("server: many transfers at once, each on its own port", async (backend) => {
  await using dir = await tempDir();
  const root = join(dir.path, "root");
  await Deno.mkdir(root);
  await using ours = startOurServer(root, { udpBackend: backend, create: true });
  const files = await Promise.all(Array.from({ length: 12 }, (_, i) => makeFile(root, `f${i}`, 20_000 + i * 999, i)));
  const results = await Promise.all(files.map(async (path, i) => {
    const local = join(dir.path, `got${i}`);
    const result = await downloadFile(ours.address, `f${i}`, local, {
      udpBackend: backend,
      blksize: 512 + i * 100,
      windowsize: 1 + (i % 4),
    });
    return { result, same: await sha256(local) === await sha256(path) };
  }));
  assert.ok(results.every(({ same }) => same));
  assert.equal(new Set(results.map(({ result }) => result.server.port)).size, 12);
  await Promise.all(files.map((path, i) => uploadFile(ours.address, path, `up${i}`, { udpBackend: backend })));
  for (const [i, path] of files.entries()) assert.equal(await sha256(join(root, `up${i}`)), await sha256(path));
});

backendTest("server: serves over IPv6 (::1) as over IPv4", async (backend) => {
  await using dir = await tempDir();
  const original = await makeFile(dir.path, "six.bin", 10_000);
  await using ours = startOurServer(dir.path, { udpBackend: backend, hostname: "::1", create: true });
  assert.equal(ours.address.hostname, "::1");
  const local = join(dir.path, "got");
  await downloadFile(ours.address, "six.bin", local, { udpBackend: backend });
  assert.equal(await sha256(local), await sha256(original));
  await uploadFile(ours.address, local, "back.bin", { udpBackend: backend });
  assert.equal(await sha256(join(dir.path, "back.bin")), await sha256(original));
});
