/**
 * Our client against the servers people run: tftpd-hpa and atftpd (and
 * busybox tftpd where the busybox build has it), both directions, octet and
 * netascii, block sizes 512 to 65464, windows where the server has them, a
 * file past block-number rollover both ways, and the RFC 1350 fallback.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { downloadFile, uploadFile } from "../../../lib/tftp/client.ts";
import { backendTest, makeFile, settledSha256, sha256, startPeerServer, tempDir } from "../_support.ts";

/** Past block-number rollover at blksize 8 (65536 blocks and a bit): quick even in lock-step. */
const ROLLOVER_SIZE = 65536 * 8 + 100;

const TEXT = "first line\nsecond line\r\na bare\rcarriage return\n" + "a longer line of text, repeated\n".repeat(60);

for (const kind of ["tftpd-hpa", "atftpd"] as const) {
  const program = kind === "tftpd-hpa" ? "in.tftpd" : "atftpd";
  // tftpd-hpa has no windowsize (our client then falls back to lock-step); atftpd has.
  const combinations = kind === "tftpd-hpa"
    ? [[512, 1], [1428, 16], [8192, 16], [65464, 16]]
    : [[512, 1], [1428, 8], [8192, 8], [65464, 8]];
  backendTest(`interop: our client gets from and puts to ${kind}`, async (backend, t) => {
    await using dir = await tempDir();
    const root = join(dir.path, "root");
    await Deno.mkdir(root);
    await Deno.chmod(root, 0o777);
    await using peer = await startPeerServer(kind, root);
    for (const [blksize, windowsize] of combinations) {
      const options = { blksize, windowsize, retransmit: { initialMs: 500 } };
      for (const size of [0, blksize - 1, blksize, blksize + 1, blksize * 3]) {
        await t.step(`get ${size} bytes at blksize ${blksize} windowsize ${windowsize}`, async () => {
          const name = `get-${blksize}-${size}`;
          const original = await makeFile(root, name, size);
          const local = join(dir.path, name);
          const result = await downloadFile(peer.address, peer.remote(name), local, {
            ...options,
            udpBackend: backend,
          });
          assert.equal(await sha256(local), await sha256(original));
          assert.equal(result.bytes, size);
          assert.equal(result.settings.blksize, blksize);
        });
      }
      for (const size of [0, blksize - 1, blksize, blksize + 1, blksize * 3]) {
        await t.step(`put ${size} bytes at blksize ${blksize} windowsize ${windowsize}`, async () => {
          const name = `put-${blksize}-${size}`;
          const local = await makeFile(dir.path, name, size, size + 5);
          await uploadFile(peer.address, local, peer.remote(name), { ...options, udpBackend: backend });
          const expected = await sha256(local);
          assert.equal(await settledSha256(join(root, name), expected), expected);
        });
      }
    }
    await t.step(`get and put past block-number rollover (${ROLLOVER_SIZE} bytes at blksize 8)`, async () => {
      // atftpd refuses (error 8) options whose OACK would not fit in blksize + 4 bytes: blksize 8 must come alone.
      const alone = kind === "atftpd" ? { windowsize: 1, tsize: false } : { windowsize: 8 };
      const options = { blksize: 8, ...alone, retransmit: { initialMs: 500 }, udpBackend: backend };
      const original = await makeFile(root, "rollover.bin", ROLLOVER_SIZE);
      const local = join(dir.path, "rollover.bin");
      const got = await downloadFile(peer.address, peer.remote("rollover.bin"), local, options);
      assert.equal(got.settings.blksize, 8);
      assert.ok(got.blocks > 65536, `${got.blocks} blocks`);
      assert.equal(await sha256(local), await sha256(original));
      const put = await uploadFile(peer.address, local, peer.remote("rollover-up.bin"), options);
      assert.equal(put.settings.blksize, 8);
      assert.ok(put.blocks > 65536, `${put.blocks} blocks`);
      const expected = await sha256(local);
      assert.equal(await settledSha256(join(root, "rollover-up.bin"), expected), expected);
    });
    await t.step("netascii both ways: line ends converted and restored", async () => {
      await Deno.writeTextFile(join(root, "text.txt"), TEXT);
      const local = join(dir.path, "text.txt");
      await downloadFile(peer.address, peer.remote("text.txt"), local, { udpBackend: backend, mode: "netascii" });
      assert.equal(await Deno.readTextFile(local), TEXT);
      await uploadFile(peer.address, local, peer.remote("text-up.txt"), { udpBackend: backend, mode: "netascii" });
      const expected = await sha256(new TextEncoder().encode(TEXT));
      assert.equal(await settledSha256(join(root, "text-up.txt"), expected), expected);
    });
    await t.step("a missing file is reported with the server's error", async () => {
      const local = join(dir.path, "missing");
      await assert.rejects(
        downloadFile(peer.address, peer.remote("no-such-file"), local, { udpBackend: backend }),
        (error: Error) => error instanceof Deno.errors.NotFound && /code 1/.test(error.message),
      );
      await assert.rejects(Deno.lstat(local), Deno.errors.NotFound, "no partial file left behind");
    });
  }, [program]);
}

// tftpd-hpa with every option it knows refused (-r) answers a request with options as RFC 1350 does:
// DATA 1 for a read, ACK 0 for a write.
backendTest("interop: our client falls back to RFC 1350 with tftpd-hpa refusing every option", async (backend, t) => {
  await using dir = await tempDir();
  const root = join(dir.path, "root");
  await Deno.mkdir(root);
  await Deno.chmod(root, 0o777);
  const refuse = ["blksize", "tsize", "timeout", "utimeout", "rollover"].flatMap((option) => ["-r", option]);
  await using peer = await startPeerServer("tftpd-hpa", root, refuse);
  const options = { blksize: 1428, windowsize: 8, timeoutSeconds: 9, udpBackend: backend };
  for (const size of [0, 511, 512, 3000]) {
    await t.step(`put and get ${size} bytes, asked with options, run in 512-byte lock-step`, async () => {
      const name = `plain-${size}`;
      const local = await makeFile(dir.path, name, size);
      const put = await uploadFile(peer.address, local, peer.remote(name), options);
      assert.deepEqual([put.settings.blksize, put.settings.windowsize, put.settings.timeoutMs], [512, 1, undefined]);
      const expected = await sha256(local);
      assert.equal(await settledSha256(join(root, name), expected), expected);
      const back = join(dir.path, `${name}.back`);
      const got = await downloadFile(peer.address, peer.remote(name), back, options);
      assert.deepEqual([got.settings.blksize, got.settings.windowsize, got.settings.timeoutMs], [512, 1, undefined]);
      assert.equal(await sha256(back), expected);
    });
  }
}, ["in.tftpd"]);

// Debian's busybox has no tftpd applet; scripts/install_peers.sh builds one as busybox-tftpd.
// It has blksize but no windowsize (our client falls back to lock-step) and only octet mode.
backendTest("interop: our client gets from and puts to busybox tftpd", async (backend, t) => {
  await using dir = await tempDir();
  const root = join(dir.path, "root");
  await Deno.mkdir(root);
  await Deno.chmod(root, 0o777);
  await using peer = await startPeerServer("busybox", root);
  for (const blksize of [512, 1428, 8192, 65464]) {
    const options = { blksize, windowsize: 8, retransmit: { initialMs: 500 } };
    for (const size of [0, blksize - 1, blksize, blksize + 1, blksize * 3]) {
      await t.step(`get and put ${size} bytes at blksize ${blksize}`, async () => {
        const name = `bb-${blksize}-${size}`;
        const original = await makeFile(root, name, size);
        const local = join(dir.path, name);
        const result = await downloadFile(peer.address, name, local, { ...options, udpBackend: backend });
        assert.equal(await sha256(local), await sha256(original));
        assert.equal(result.bytes, size);
        await uploadFile(peer.address, local, `${name}.up`, { ...options, udpBackend: backend });
        const expected = await sha256(local);
        assert.equal(await settledSha256(join(root, `${name}.up`), expected), expected);
      });
    }
  }
  await t.step("netascii is refused by busybox, and the refusal is reported", async () => {
    await Deno.writeTextFile(join(root, "text.txt"), TEXT);
    await assert.rejects(
      downloadFile(peer.address, "text.txt", join(dir.path, "text.txt"), { udpBackend: backend, mode: "netascii" }),
      /octet/,
    );
    await assert.rejects(Deno.lstat(join(dir.path, "text.txt")), Deno.errors.NotFound);
  });
}, ["busybox-tftpd"]);
