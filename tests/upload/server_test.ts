import assert from "node:assert/strict";
import { join } from "node:path";
import { uploadFiles } from "../../lib/upload/client.ts";
import { partialKey, partialPath } from "../../lib/upload/partial.ts";
import { encodeHeader, formatTrailer } from "../../lib/upload/protocol.ts";
import { listTree, localFile, randomBytes, RawClient, sha256, waitFor, withServer } from "./_setup.ts";

Deno.test("upload: round trips of 0 B, 1 B and sizes around every buffer boundary, over one connection", async () => {
  await withServer({}, async ({ dir, local, address, logs }) => {
    const sizes = [0, 1, 16383, 16384, 16385, 524287, 524288, 524289, 1048575, 1048576, 1048577, 3_000_001];
    const contents = sizes.map((size) => randomBytes(size));
    const files = await Promise.all(contents.map((bytes, i) => localFile(local, `f${i}-${sizes[i]}.bin`, bytes)));
    const results = await uploadFiles(address, files);
    for (const [i, result] of results.entries()) {
      assert.ok(result.ok, `${sizes[i]} B: ${result.error?.message}`);
      assert.equal(result.sha256, sha256(contents[i]));
      assert.equal(result.storedName, files[i].name);
      assert.deepEqual(await Deno.readFile(join(dir, files[i].name)), contents[i]);
    }
    assert.deepEqual(await listTree(dir), files.map((file) => file.name).sort());
    // One log line per upload, with the peer, name, size, duration, rate and SHA-256.
    const stored = logs.filter((line) => line.includes(" stored "));
    assert.equal(stored.length, sizes.length);
    assert.match(
      stored.at(-1)!,
      new RegExp(
        `^upload: 127\\.0\\.0\\.1:\\d+ stored "f11-3000001\\.bin" 2\\.86 MiB in \\S+ m?s \\(.+/s\\), sha256 ${
          sha256(contents.at(-1)!)
        }$`,
      ),
    );
  });
});

Deno.test("upload: a folder keeps its structure; a client may pipeline header, data and trailer", async () => {
  await withServer({}, async ({ dir, address }) => {
    const client = await RawClient.connect(address);
    try {
      // Two uploads in one write, without waiting for READY: what a shell script would do.
      const a = new TextEncoder().encode("alpha");
      const b = randomBytes(70_000);
      await client.send(
        new Uint8Array([
          ...encodeHeader({ name: "docs/2024/a.txt", size: a.length }),
          ...a,
          ...new TextEncoder().encode(formatTrailer(sha256(a))),
          ...encodeHeader({ name: "docs/b.bin", size: b.length }),
          ...b,
          ...new TextEncoder().encode(formatTrailer(sha256(b))),
        ]),
      );
      const lines = await client.lines(4);
      assert.deepEqual(lines, [
        "READY 0",
        `OK 5 ${sha256(a)} docs/2024/a.txt`,
        "READY 0",
        `OK 70000 ${sha256(b)} docs/b.bin`,
      ]);
      await client.closeWrite();
      await client.ended();
      assert.deepEqual(await listTree(dir), ["docs/2024/a.txt", "docs/b.bin"]);
      assert.deepEqual(await Deno.readFile(join(dir, "docs/b.bin")), b);
    } finally {
      await client.close();
    }
  });
});

Deno.test("upload: hostile names are refused and nothing is written inside or outside the folder", async () => {
  const outside = await Deno.makeTempDir({ prefix: "wirebox-outside-" });
  try {
    await withServer({}, async ({ dir, local, address, logs }) => {
      await Deno.symlink(outside, join(dir, "escape"));
      const hostile = [
        "../x",
        "/etc/passwd",
        "a/../../b",
        "a\0b",
        "a//b",
        "./a",
        "a/./b",
        "C:/windows/x",
        "a\\..\\b",
        "escape/x",
        "\x1b]0;pwned\x07",
        "\u202eevil",
        `.report.pdf.${"0".repeat(32)}.part`,
        "",
      ];
      for (const name of hostile) {
        const client = await RawClient.connect(address);
        try {
          const header = `WIREBOX-UPLOAD 1\nname: ${name}\nsize: 1\n\n`;
          await client.send(header + "x" + formatTrailer("0".repeat(64)));
          const [reply] = await client.ended();
          assert.match(reply ?? "", /^ERROR bad-name /, `${JSON.stringify(name)} got ${reply}`);
        } finally {
          await client.close();
        }
      }
      assert.deepEqual(await listTree(outside), []);
      assert.deepEqual((await listTree(dir)).filter((name) => name !== "escape"), []);
      // deno-lint-ignore no-control-regex
      assert.ok(logs.every((line) => !/[\x00-\x08\x1b\u202e]/.test(line)), "log lines carry no control characters");
      // The client refuses to even send such a name.
      await assert.rejects(localFile(local, "ok.txt", new Uint8Array(1), "../x"), Deno.errors.PermissionDenied);
    });
  } finally {
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("upload: --max-size refuses a larger file before its data is sent; one at the limit is stored", async () => {
  await withServer({ maxSize: 1000 }, async ({ dir, local, address }) => {
    const files = [
      await localFile(local, "big.bin", randomBytes(1001)),
      await localFile(local, "fits.bin", randomBytes(1000)),
    ];
    const [big, fits] = await uploadFiles(address, files);
    assert.equal(big.ok, false);
    assert.ok(big.error instanceof RangeError);
    assert.match(big.error.message, /larger than the 1000 B allowed \(too-large\)/);
    assert.equal(big.sent, 0);
    assert.ok(fits.ok);
    assert.deepEqual(await listTree(dir), ["fits.bin"]);
  });
});

Deno.test("upload: with a token, uploads without it or with a wrong one are refused", async () => {
  await withServer({ token: "s3cret" }, async ({ dir, local, address }) => {
    const file = await localFile(local, "a.txt", randomBytes(10));
    const [none] = await uploadFiles(address, [file]);
    assert.ok(none.error instanceof Deno.errors.PermissionDenied);
    assert.match(none.error.message, /needs a token \(unauthorized\)/);
    const [wrong] = await uploadFiles(address, [file], { token: "guess" });
    assert.match(wrong.error?.message ?? "", /wrong token \(unauthorized\)/);
    assert.deepEqual(await listTree(dir), []);
    const [right] = await uploadFiles(address, [file], { token: "s3cret" });
    assert.ok(right.ok);
    // A raw upload cannot carry a token, so it is refused too.
    const client = await RawClient.connect(address);
    try {
      await client.send("just some bytes");
      await client.closeWrite();
      assert.match((await client.ended())[0], /^ERROR unauthorized /);
    } finally {
      await client.close();
    }
    assert.deepEqual(await listTree(dir), ["a.txt"]);
  });
});

Deno.test("upload: name conflicts under each policy", async () => {
  for (const onConflict of ["rename", "overwrite", "reject"] as const) {
    await withServer({ onConflict }, async ({ dir, local, address }) => {
      const first = randomBytes(100);
      const second = randomBytes(200);
      const [a] = await uploadFiles(address, [await localFile(local, "one/report.pdf", first, "report.pdf")]);
      const [b] = await uploadFiles(address, [await localFile(local, "two/report.pdf", second, "report.pdf")]);
      assert.ok(a.ok);
      if (onConflict === "rename") {
        assert.equal(b.storedName, "report (1).pdf");
        assert.deepEqual(await listTree(dir), ["report (1).pdf", "report.pdf"]);
        assert.deepEqual(await Deno.readFile(join(dir, "report (1).pdf")), second);
      } else if (onConflict === "overwrite") {
        assert.equal(b.storedName, "report.pdf");
        assert.deepEqual(await listTree(dir), ["report.pdf"]);
        assert.deepEqual(await Deno.readFile(join(dir, "report.pdf")), second);
      } else {
        assert.ok(b.error instanceof Deno.errors.AlreadyExists, b.error?.message);
        assert.equal(b.sent, 0, "refused before the data was sent");
        assert.deepEqual(await listTree(dir), ["report.pdf"]);
        assert.deepEqual(await Deno.readFile(join(dir, "report.pdf")), first);
      }
    });
  }
});

Deno.test("upload: concurrent uploads of one name never clobber each other", async () => {
  for (const onConflict of ["rename", "overwrite", "reject"] as const) {
    await withServer({ onConflict }, async ({ dir, local, address }) => {
      const contents = Array.from({ length: 5 }, () => randomBytes(300_000));
      const files = await Promise.all(
        contents.map((bytes, i) => localFile(local, `${i}/same.bin`, bytes, "same.bin")),
      );
      const results = await Promise.all(files.map((file) => uploadFiles(address, [file]).then(([r]) => r)));
      const stored = await listTree(dir);
      const hashes = new Set(contents.map(sha256));
      for (const name of stored) assert.ok(hashes.has(sha256(await Deno.readFile(join(dir, name)))), name);
      if (onConflict === "rename") {
        assert.ok(results.every((result) => result.ok));
        assert.equal(stored.length, 5);
        assert.deepEqual(
          new Set(await Promise.all(stored.map(async (n) => sha256(await Deno.readFile(join(dir, n)))))),
          hashes,
        );
      } else if (onConflict === "overwrite") {
        assert.ok(results.every((result) => result.ok));
        assert.deepEqual(stored, ["same.bin"]);
      } else {
        assert.equal(results.filter((result) => result.ok).length, 1);
        assert.ok(results.filter((r) => !r.ok).every((result) => result.error instanceof Deno.errors.AlreadyExists));
        assert.deepEqual(stored, ["same.bin"]);
      }
    });
  }
});

Deno.test("upload: data that does not match its SHA-256 is not stored, and its partial data is removed", async () => {
  await withServer({}, async ({ dir, address, logs }) => {
    const client = await RawClient.connect(address);
    try {
      const data = randomBytes(5000);
      await client.send(encodeHeader({ name: "x.bin", size: data.length, id: "abc" }));
      await client.send(data);
      await client.send(formatTrailer(sha256(new Uint8Array(5000))));
      const lines = await client.ended();
      assert.equal(lines[0], "READY 0");
      assert.match(lines[1], /^ERROR mismatch the data received has SHA-256 [0-9a-f]{64}, not [0-9a-f]{64}/);
    } finally {
      await client.close();
    }
    assert.deepEqual(await listTree(dir), []);
    assert.ok(logs.some((line) => /failed "x\.bin" after 4\.88 KiB of 4\.88 KiB .*SHA-256 mismatch/.test(line)));
  });
});

Deno.test("upload: malformed headers and trailers get an error line, then the connection closes", async () => {
  await withServer({}, async ({ dir, address }) => {
    const exchanges: [string, RegExp][] = [
      ["WIREBOX-UPLOAD 7\nname: a\nsize: 1\n\n", /^ERROR version protocol version 7 is not supported/],
      ["WIREBOX-UPLOAD 1\nname: a\nsize: lots\n\n", /^ERROR bad-request invalid size/],
      ["WIREBOX-UPLOAD 1\nname: a\nsize: 1\n\nxsha1: 00\n", /^ERROR bad-request expected "sha256: <64 hex digits>"/],
    ];
    for (const [text, expected] of exchanges) {
      const client = await RawClient.connect(address);
      try {
        await client.send(text);
        const lines = await client.ended();
        assert.match(lines.at(-1) ?? "", expected);
      } finally {
        await client.close();
      }
    }
    assert.deepEqual(await listTree(dir), []);
  });
});

Deno.test("upload: a header that does not arrive in time, or data that stops, times out", async () => {
  await withServer({ headerTimeoutMs: 300, idleTimeoutMs: 300 }, async ({ dir, address, logs }) => {
    const silent = await RawClient.connect(address);
    const slow = await RawClient.connect(address);
    const stalled = await RawClient.connect(address);
    try {
      await slow.send("WIREBOX-UPLOAD 1\nname: a");
      await stalled.send(encodeHeader({ name: "stalled.bin", size: 1000, id: "s1" }));
      await stalled.send(randomBytes(400));
      assert.deepEqual(await silent.ended(), ["ERROR timeout nothing arrived within 300 ms"]);
      assert.deepEqual(await slow.ended(), ["ERROR timeout no complete header arrived within 300 ms"]);
      assert.deepEqual(await stalled.ended(), ["READY 0", "ERROR timeout no data for 300 ms"]);
    } finally {
      await Promise.all([silent.close(), slow.close(), stalled.close()]);
    }
    // The stalled upload's data is kept, hidden, for a resume; no final file appears.
    const tree = await listTree(dir);
    assert.deepEqual(tree, [".stalled.bin." + partialKey("stalled.bin", 1000, "s1") + ".part"]);
    assert.equal((await Deno.stat(join(dir, tree[0]))).size, 400);
    assert.ok(logs.some((line) => /closed: no complete header arrived within 300 ms$/.test(line)));
    assert.ok(
      logs.some((line) =>
        /failed "stalled\.bin" after 400 B of 1000 B .*no data for 300 ms \(partial data kept/.test(line)
      ),
    );
  });
});

Deno.test("upload: an interrupted upload leaves no file; --resume completes it from where it stopped", async () => {
  await withServer({}, async ({ dir, local, address, logs }) => {
    const content = randomBytes(6 * 1024 * 1024 + 123);
    const file = await localFile(local, "big.bin", content);
    // Three interruptions at random points, each resumed by the next attempt.
    let previous = 0;
    for (let attempt = 0; attempt < 3; attempt++) {
      const cut = previous + 1 + Math.floor(Math.random() * (content.length - previous) / 2);
      const controller = new AbortController();
      const [result] = await uploadFiles(address, [file], {
        resume: true,
        signal: controller.signal,
        onProgress: (_file, position) => {
          if (position >= cut) controller.abort();
        },
      });
      assert.equal(result.ok, false);
      assert.ok(result.error instanceof Deno.errors.Interrupted, result.error?.message);
      assert.equal(result.offset, previous, "each attempt resumes where the last one stopped");
      // Once the server has noticed, it holds what arrived (at most what was sent), under a hidden name.
      await waitFor(() => Promise.resolve(logs.filter((line) => line.includes("failed")).length === attempt + 1));
      const tree = await listTree(dir);
      assert.equal(tree.length, 1);
      assert.match(tree[0], /^\.big\.bin\.[0-9a-f]{32}\.part$/);
      const size = (await Deno.stat(join(dir, tree[0]))).size;
      assert.ok(size >= previous && size <= result.offset + result.sent, `${size} within [${previous}, sent]`);
      previous = size;
    }
    const [done] = await uploadFiles(address, [file], { resume: true });
    assert.ok(done.ok, done.error?.message);
    assert.equal(done.offset, previous);
    assert.equal(done.sent, content.length - previous);
    assert.equal(done.sha256, sha256(content));
    assert.deepEqual(await listTree(dir), ["big.bin"]);
    assert.deepEqual(await Deno.readFile(join(dir, "big.bin")), content);
  });
});

Deno.test("upload: a different file of the same name is never appended to partial data", async () => {
  await withServer({}, async ({ dir, local, address }) => {
    const first = randomBytes(2 * 1024 * 1024);
    const file = await localFile(local, "data.bin", first);
    const controller = new AbortController();
    await uploadFiles(address, [file], {
      signal: controller.signal,
      onProgress: (_file, position) => position > 1024 * 1024 && controller.abort(),
    });
    // Another file of the same name and size: a different key, so a fresh start.
    const other = randomBytes(first.length);
    const otherFile = await localFile(local, "elsewhere/data.bin", other, "data.bin");
    const [fresh] = await uploadFiles(address, [otherFile], { resume: true });
    assert.ok(fresh.ok);
    assert.equal(fresh.offset, 0);
    assert.deepEqual(await Deno.readFile(join(dir, "data.bin")), other);
    // The same path rewritten in place with its old size and time: the key matches but the
    // data the server has does not, so the client starts over instead of appending.
    await Deno.remove(join(dir, "data.bin"));
    const changed = randomBytes(first.length);
    await Deno.writeFile(file.path, changed);
    await Deno.utime(file.path, new Date(file.mtimeMs), new Date(file.mtimeMs));
    const [restarted] = await uploadFiles(address, [file], { resume: true });
    assert.ok(restarted.ok, restarted.error?.message);
    assert.equal(restarted.offset, 0);
    assert.equal(restarted.sha256, sha256(changed));
    assert.deepEqual(await Deno.readFile(join(dir, "data.bin")), changed);
    assert.deepEqual(await listTree(dir), ["data.bin"]);
  });
});

Deno.test("upload: a resumed upload takes over from a stalled connection of the same file", async () => {
  await withServer({}, async ({ dir, address }) => {
    const data = randomBytes(100_000);
    const stalled = await RawClient.connect(address);
    const fresh = await RawClient.connect(address);
    try {
      await stalled.send(encodeHeader({ name: "t.bin", size: data.length, id: "same" }));
      await stalled.send(data.subarray(0, 30_000));
      assert.deepEqual(await stalled.lines(1), ["READY 0"]);
      await waitFor(async () =>
        (await Deno.stat(partialPath(join(dir, "t.bin"), partialKey("t.bin", data.length, "same")))).size === 30_000
      );
      await fresh.send(encodeHeader({ name: "t.bin", size: data.length, id: "same", resume: true }));
      assert.deepEqual(await stalled.ended(), ["READY 0", "ERROR taken-over a resumed upload of this file took over"]);
      const [ready] = await fresh.lines(1);
      assert.equal(ready, `READY 30000 ${sha256(data.subarray(0, 30_000))}`);
      await fresh.send(data.subarray(30_000));
      await fresh.send(formatTrailer(sha256(data)));
      assert.equal((await fresh.lines(2))[1], `OK 100000 ${sha256(data)} t.bin`);
    } finally {
      await Promise.all([stalled.close(), fresh.close()]);
    }
    assert.deepEqual(await Deno.readFile(join(dir, "t.bin")), data);
  });
});

Deno.test("upload: a server that stops mid-upload tells the client and keeps the partial data", async () => {
  const root = await Deno.makeTempDir();
  try {
    const { serveUpload } = await import("../../lib/upload/server.ts");
    const server = await serveUpload({ hostname: "127.0.0.1", port: 0, dir: root });
    const client = await RawClient.connect(server.tcp.addr);
    try {
      await client.send(encodeHeader({ name: "s.bin", size: 10_000, id: "x" }));
      await client.send(randomBytes(2000));
      await client.lines(1);
      await waitFor(async () => (await listTree(root)).length === 1);
      await server.close();
      assert.deepEqual(await client.ended(), ["READY 0", "ERROR stopping the server is shutting down"]);
    } finally {
      await client.close();
    }
    const tree = await listTree(root);
    assert.equal(tree.length, 1);
    assert.match(tree[0], /^\.s\.bin\.[0-9a-f]{32}\.part$/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("upload: a full server says it is busy", async () => {
  await withServer({ maxConnections: 1 }, async ({ address }) => {
    const first = await RawClient.connect(address);
    const second = await RawClient.connect(address);
    try {
      await first.send("WIREBOX-UPLOAD 1\n");
      assert.match((await second.ended())[0], /^ERROR busy the server is serving 1 connections/);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });
});

// A small tmpfs stands in for a full disk; mounting one needs root (CAP_SYS_ADMIN).
const smallDisk = await Deno.makeTempDir({ prefix: "wirebox-small-disk-" });
const canMount = (await new Deno.Command("mount", {
  args: ["-t", "tmpfs", "-o", "size=2m", "tmpfs", smallDisk],
  stdout: "null",
  stderr: "null",
}).output().catch(() => ({ success: false }))).success;
if (canMount) await new Deno.Command("umount", { args: [smallDisk] }).output();
await Deno.remove(smallDisk);

Deno.test({
  name: `upload: a full disk fails the upload with disk-full, leaves nothing, and the server carries on${
    canMount ? "" : " (SKIPPED: cannot mount a small tmpfs here: needs root)"
  }`,
  ignore: !canMount,
  async fn() {
    const disk = await Deno.makeTempDir({ prefix: "wirebox-small-disk-" });
    await new Deno.Command("mount", { args: ["-t", "tmpfs", "-o", "size=2m", "tmpfs", disk] }).output();
    try {
      await withServer({ dir: disk }, async ({ dir, local, address, logs }) => {
        const [full] = await uploadFiles(address, [await localFile(local, "huge.bin", randomBytes(3 * 1024 * 1024))]);
        assert.equal(full.ok, false);
        assert.match(full.error?.message ?? "", /: no space left on device \(disk-full\)$/);
        assert.deepEqual(await listTree(dir), [], "neither a final nor a partial file is left");
        assert.ok(logs.some((line) => /failed "huge\.bin" .*cannot write: no space left on device$/.test(line)));
        const [small] = await uploadFiles(address, [await localFile(local, "small.bin", randomBytes(100_000))]);
        assert.ok(small.ok, small.error?.message);
        assert.deepEqual(await listTree(dir), ["small.bin"]);
      });
    } finally {
      await new Deno.Command("umount", { args: [disk] }).output();
      await Deno.remove(disk, { recursive: true });
    }
  },
});
