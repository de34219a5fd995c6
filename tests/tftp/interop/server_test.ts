/**
 * Our server against the clients people use: tftp-hpa, curl, atftp and
 * busybox, both directions where the client can, octet and netascii, block
 * sizes 512 to 65464, windows where the client has them, the sizes around a
 * block boundary, and one file past block-number rollover.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { backendTest, makeFile, runPeer, sha256, startOurServer, tempDir } from "../_support.ts";

const TEXT = "first line\nsecond line\r\na bare\rcarriage return\n" + "a longer line of text, repeated\n".repeat(60);

/** Past block-number rollover at blksize 8 (65536 blocks and a bit): quick even in lock-step. */
const ROLLOVER_SIZE = 65536 * 8 + 100;

/** Sizes around the block boundary, a multiple, and a few blocks. */
function sizesFor(blksize: number): number[] {
  return [0, blksize - 1, blksize, blksize + 1, blksize * 3];
}

backendTest("interop: tftp-hpa client gets and puts, octet and netascii", async (backend, t) => {
  await using dir = await tempDir();
  const root = join(dir.path, "root");
  await Deno.mkdir(root);
  await using ours = startOurServer(root, { udpBackend: backend, create: true });
  const port = String(ours.address.port);
  for (const size of sizesFor(512)) {
    await t.step(`get ${size} bytes`, async () => {
      const original = await makeFile(root, `hpa-get-${size}`, size);
      const local = join(dir.path, `hpa-got-${size}`);
      await runPeer("tftp", ["-m", "octet", "127.0.0.1", port, "-c", "get", `hpa-get-${size}`, local]);
      assert.equal(await sha256(local), await sha256(original));
    });
    await t.step(`put ${size} bytes`, async () => {
      const local = await makeFile(dir.path, `hpa-put-${size}`, size, size + 1);
      const record = await ours.recordOf(
        () => runPeer("tftp", ["-m", "octet", "127.0.0.1", port, "-c", "put", local, `hpa-put-${size}`]),
        `hpa-put-${size}`,
      );
      assert.equal(record.error, undefined);
      assert.equal(await sha256(join(root, `hpa-put-${size}`)), await sha256(local));
    });
  }
  await t.step("put past block-number rollover (32 MiB + 1000 bytes: tftp-hpa has only 512-byte blocks)", async () => {
    const size = 32 * 1024 * 1024 + 1000;
    const local = await makeFile(dir.path, "hpa-rollover.bin", size);
    const record = await ours.recordOf(
      () =>
        runPeer("tftp", ["-m", "octet", "127.0.0.1", port, "-c", "put", local, "hpa-rollover.bin"], {
          timeoutMs: 60_000,
        }),
      "hpa-rollover.bin",
    );
    assert.equal(record.error, undefined);
    assert.equal(record.bytes, size);
    assert.equal(await sha256(join(root, "hpa-rollover.bin")), await sha256(local));
  });
  await t.step("netascii both ways: line ends converted and restored", async () => {
    await Deno.writeTextFile(join(root, "text-get.txt"), TEXT);
    const local = join(dir.path, "text-got.txt");
    await runPeer("tftp", ["-m", "netascii", "127.0.0.1", port, "-c", "get", "text-get.txt", local]);
    assert.equal(await Deno.readTextFile(local), TEXT);
    const upload = join(dir.path, "text-put.txt");
    await Deno.writeTextFile(upload, TEXT);
    const record = await ours.recordOf(
      () => runPeer("tftp", ["-m", "netascii", "127.0.0.1", port, "-c", "put", upload, "text-put.txt"]),
      "text-put.txt",
    );
    assert.equal(record.error, undefined);
    assert.ok(record.bytes > TEXT.length, "the wire carried CR LF for each LF");
    assert.equal(await Deno.readTextFile(join(root, "text-put.txt")), TEXT);
  });
}, ["tftp"]);

backendTest("interop: curl gets and puts at blksize 512 to 65464", async (backend, t) => {
  await using dir = await tempDir();
  const root = join(dir.path, "root");
  await Deno.mkdir(root);
  await using ours = startOurServer(root, { udpBackend: backend, create: true });
  const url = (name: string) => `tftp://127.0.0.1:${ours.address.port}/${name}`;
  for (const blksize of [512, 1428, 8192, 65464]) {
    for (const size of sizesFor(blksize)) {
      await t.step(`get ${size} bytes at blksize ${blksize}`, async () => {
        const name = `curl-get-${blksize}-${size}`;
        const original = await makeFile(root, name, size);
        const local = join(dir.path, name);
        await runPeer("curl", ["-sS", "--tftp-blksize", String(blksize), "-o", local, url(name)]);
        assert.equal(await sha256(local), await sha256(original));
      });
    }
    for (const size of sizesFor(blksize)) {
      await t.step(`put ${size} bytes at blksize ${blksize}`, async () => {
        const name = `curl-put-${blksize}-${size}`;
        const local = await makeFile(dir.path, name, size, size + 7);
        const record = await ours.recordOf(
          () => runPeer("curl", ["-sS", "--tftp-blksize", String(blksize), "-T", local, url(name)]),
          name,
        );
        assert.equal(record.error, undefined);
        assert.equal(await sha256(join(root, name)), await sha256(local));
      });
    }
  }
  await t.step("get past block-number rollover (32 MiB + 1000 bytes at blksize 512)", async () => {
    const size = 32 * 1024 * 1024 + 1000;
    const original = await makeFile(root, "rollover.bin", size);
    const local = join(dir.path, "rollover.bin");
    await runPeer("curl", ["-sS", "--tftp-blksize", "512", "-o", local, url("rollover.bin")], { timeoutMs: 60_000 });
    assert.equal(await sha256(local), await sha256(original));
    assert.ok(ours.records.at(-1)!.bytes === size);
  });
  await t.step(`put past block-number rollover (${ROLLOVER_SIZE} bytes at blksize 8)`, async () => {
    const local = await makeFile(dir.path, "curl-rollover.bin", ROLLOVER_SIZE);
    const record = await ours.recordOf(
      () =>
        runPeer("curl", ["-sS", "--tftp-blksize", "8", "-T", local, url("curl-rollover.bin")], { timeoutMs: 60_000 }),
      "curl-rollover.bin",
    );
    assert.equal(record.error, undefined);
    assert.equal(record.bytes, ROLLOVER_SIZE);
    assert.equal(await sha256(join(root, "curl-rollover.bin")), await sha256(local));
  });
}, ["curl"]);

backendTest("interop: atftp gets and puts with windows, octet and netascii", async (backend, t) => {
  await using dir = await tempDir();
  const root = join(dir.path, "root");
  await Deno.mkdir(root);
  await using ours = startOurServer(root, { udpBackend: backend, create: true });
  const port = String(ours.address.port);
  for (const [blksize, windowsize] of [[512, 1], [1428, 8], [8192, 8], [65464, 8]]) {
    const options = [
      "--option",
      `blksize ${blksize}`,
      ...(windowsize > 1 ? ["--option", `windowsize ${windowsize}`] : []),
    ];
    for (const size of [0, blksize + 1, blksize * 20]) {
      await t.step(`get ${size} bytes at blksize ${blksize} windowsize ${windowsize}`, async () => {
        const name = `atftp-get-${blksize}-${size}`;
        const original = await makeFile(root, name, size);
        const local = join(dir.path, name);
        await runPeer("atftp", [...options, "-g", "-r", name, "-l", local, "127.0.0.1", port]);
        assert.equal(await sha256(local), await sha256(original));
      });
      await t.step(`put ${size} bytes at blksize ${blksize} windowsize ${windowsize}`, async () => {
        const name = `atftp-put-${blksize}-${size}`;
        const local = await makeFile(dir.path, name, size, size + 3);
        const record = await ours.recordOf(
          () => runPeer("atftp", [...options, "-p", "-r", name, "-l", local, "127.0.0.1", port]),
          name,
        );
        assert.equal(record.error, undefined);
        assert.equal(await sha256(join(root, name)), await sha256(local));
      });
    }
  }
  await t.step(`put past block-number rollover (${ROLLOVER_SIZE} bytes at blksize 8)`, async () => {
    const local = await makeFile(dir.path, "atftp-rollover.bin", ROLLOVER_SIZE);
    const record = await ours.recordOf(
      () =>
        runPeer("atftp", ["--option", "blksize 8", "-p", "-r", "atftp-rollover.bin", "-l", local, "127.0.0.1", port], {
          timeoutMs: 60_000,
        }),
      "atftp-rollover.bin",
    );
    assert.equal(record.error, undefined);
    assert.equal(record.bytes, ROLLOVER_SIZE);
    assert.equal(await sha256(join(root, "atftp-rollover.bin")), await sha256(local));
  });
  await t.step("netascii both ways", async () => {
    await Deno.writeTextFile(join(root, "atftp-text.txt"), TEXT);
    const local = join(dir.path, "atftp-text-got.txt");
    const upload = join(dir.path, "atftp-text-put.txt");
    await Deno.writeTextFile(upload, TEXT);
    const before = ours.records.length;
    await runPeer("atftp", ["127.0.0.1", port], {
      stdin: `mode netascii\nget atftp-text.txt ${local}\nput ${upload} atftp-text-put.txt\nquit\n`,
    });
    assert.equal(await Deno.readTextFile(local), TEXT);
    await ours.waitForRecords(before + 2);
    assert.equal(await Deno.readTextFile(join(root, "atftp-text-put.txt")), TEXT);
  });
}, ["atftp"]);

backendTest("interop: busybox tftp gets and puts at blksize 512 to 65464", async (backend, t) => {
  await using dir = await tempDir();
  const root = join(dir.path, "root");
  await Deno.mkdir(root);
  await using ours = startOurServer(root, { udpBackend: backend, create: true });
  const port = String(ours.address.port);
  for (const blksize of [512, 1428, 8192, 65464]) {
    for (const size of sizesFor(blksize)) {
      await t.step(`get and put ${size} bytes at blksize ${blksize}`, async () => {
        const name = `bb-${blksize}-${size}`;
        const original = await makeFile(root, name, size);
        const local = join(dir.path, name);
        await runPeer("busybox", ["tftp", "-b", String(blksize), "-g", "-r", name, "-l", local, "127.0.0.1", port]);
        assert.equal(await sha256(local), await sha256(original));
        const record = await ours.recordOf(() =>
          runPeer("busybox", [
            "tftp",
            "-b",
            String(blksize),
            "-p",
            "-l",
            local,
            "-r",
            `${name}.up`,
            "127.0.0.1",
            port,
          ]), `${name}.up`);
        assert.equal(record.error, undefined);
        assert.equal(await sha256(join(root, `${name}.up`)), await sha256(original));
      });
    }
  }
}, ["busybox"]);
