import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli, startCli, startServer } from "../_helpers/cli.ts";
import { listTree, randomBytes, sha256, waitFor } from "../upload/_setup.ts";
import { rssOf } from "../_helpers/memory.ts";

/** Runs `fn` with a fresh upload folder and a folder of local files, removing both after. */
async function withFolders(fn: (uploads: string, local: string) => Promise<void>): Promise<void> {
  const uploads = await Deno.makeTempDir({ prefix: "wirebox-cli-up-" });
  const local = await Deno.makeTempDir({ prefix: "wirebox-cli-local-" });
  try {
    await fn(uploads, local);
  } finally {
    await Deno.remove(uploads, { recursive: true });
    await Deno.remove(local, { recursive: true });
  }
}

/** Starts `wirebox upload serve` on a free loopback port storing into `uploads`; returns it and its HOST:PORT. */
async function startUploadServer(uploads: string, ...options: string[]) {
  const { server, endpoints } = await startServer([
    ...["upload", "serve", "--host", "127.0.0.1", "--port", "0", "--dir", uploads],
    ...options,
  ]);
  return { server, to: `127.0.0.1:${endpoints.tcp.port}` };
}

/** Writes `size` random bytes to `path` in 1 MiB pieces; returns their SHA-256. */
async function writeRandomFile(path: string, size: number): Promise<string> {
  const { createHash } = await import("node:crypto");
  const hash = createHash("sha256");
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  for (let done = 0; done < size; done += 1 << 20) {
    const chunk = randomBytes(Math.min(1 << 20, size - done));
    hash.update(chunk);
    let offset = 0;
    while (offset < chunk.length) offset += await file.write(chunk.subarray(offset));
  }
  return hash.digest("hex");
}

Deno.test("cli upload: serve and send files and a folder; one line per file and a summary", async () => {
  await withFolders(async (uploads, local) => {
    await Deno.mkdir(join(local, "notes/deep"), { recursive: true });
    await Deno.writeTextFile(join(local, "notes/a.txt"), "alpha\n");
    await Deno.writeTextFile(join(local, "notes/deep/b.txt"), "beta\n");
    await Deno.writeFile(join(local, "photo.jpg"), randomBytes(300_000));
    const { server, to } = await startUploadServer(uploads);
    await using _ = server;
    assert.match(server.stdout[0], /^upload listening on tcp:\/\/127\.0\.0\.1:\d+$/);
    const result = await runCli(["upload", "send", join(local, "notes"), join(local, "photo.jpg"), "--to", to]);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split("\n");
    assert.equal(lines.length, 4);
    assert.match(lines[0], /^stored "notes\/a\.txt": 6 B in \S+ m?s \(.+\), sha256 [0-9a-f]{64} verified$/);
    assert.match(
      lines[2],
      new RegExp(
        `^stored "photo\\.jpg": 293 KiB .*sha256 ${sha256(await Deno.readFile(join(local, "photo.jpg")))} verified$`,
      ),
    );
    assert.match(lines[3], /^done: 3 files stored and verified, 293 KiB sent to 127\.0\.0\.1:\d+ in .+$/);
    assert.equal(result.stderr, "", "no progress bar without a terminal");
    assert.deepEqual(await listTree(uploads), ["notes/a.txt", "notes/deep/b.txt", "photo.jpg"]);
    await server.waitFor(/stored "photo\.jpg" 293 KiB/);
    // The same file again: stored beside it, as the default --on-conflict rename says.
    const again = await runCli(["upload", "send", join(local, "photo.jpg"), "--to", to, "--name", "photo.jpg"]);
    assert.match(again.stdout, /^stored "photo\.jpg" as "photo \(1\)\.jpg"/);
  });
});

Deno.test("cli upload: a refusal, an unreachable server and usage mistakes exit non-zero with one clear line", async () => {
  await withFolders(async (uploads, local) => {
    await Deno.writeTextFile(join(local, "a.txt"), "a");
    await Deno.writeTextFile(join(local, "token"), "s3cret\n");
    const { server, to } = await startUploadServer(uploads, "--token-file", join(local, "token"));
    await using _ = server;
    const refused = await runCli(["upload", "send", join(local, "a.txt"), "--to", to, "--token", "nope"]);
    assert.equal(refused.code, 1);
    assert.equal(refused.stdout, "");
    assert.match(
      refused.stderr,
      /^failed "a\.txt": the server refused: wrong token \(unauthorized\)\nincomplete: 0 of 1 file stored and verified/,
    );
    const allowed = await runCli([
      "upload",
      "send",
      join(local, "a.txt"),
      "--to",
      to,
      "--token-file",
      join(local, "token"),
    ]);
    assert.equal(allowed.code, 0, allowed.stderr);

    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = closed.addr.port;
    closed.close();
    const unreachable = await runCli(["upload", "send", join(local, "a.txt"), "--to", `127.0.0.1:${port}`]);
    assert.equal(unreachable.code, 1);
    assert.match(
      unreachable.stderr,
      new RegExp(`^wirebox: Cannot connect to 127\\.0\\.0\\.1:${port}: connection refused\\nhint: `),
    );

    const missing = await runCli(["upload", "send", join(local, "nope.txt"), "--to", to]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Cannot send .*nope\.txt: no such file or folder/);

    // An empty folder: nothing was sent, so nothing was stored and verified.
    await Deno.mkdir(join(local, "empty"));
    const empty = await runCli(["upload", "send", join(local, "empty"), "--to", to]);
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /^wirebox: Nothing to send: no files in .*empty\n$/);

    const badDir = await runCli(["upload", "serve", "--port", "0", "--dir", join(local, "a.txt", "x")]);
    assert.equal(badDir.code, 1);
    assert.match(badDir.stderr, /^wirebox: Cannot create the upload folder .*a\.txt\/x: not a directory\n$/);

    for (
      const args of [
        ["upload", "send", join(local, "a.txt")],
        ["upload", "send", join(local, "a.txt"), join(local, "token"), "--to", to, "--name", "x"],
        ["upload", "serve", "--on-conflict", "clobber"],
        ["upload", "serve", "--max-size", "lots"],
        ["upload", "send", "--to", to],
        ["upload", "serve", "--port", "0", "--udp-port", "0", "--token", "s3cret"],
      ]
    ) {
      const usage = await runCli(args);
      assert.equal(usage.code, 2, `${args.join(" ")}: ${usage.stderr}`);
      assert.match(usage.stderr, /^wirebox: .+\nTry 'wirebox upload --help' for usage\.\n$/);
    }
  });
});

Deno.test("cli upload: a large file streams through with the server's memory flat", async () => {
  await withFolders(async (uploads, local) => {
    const size = 256 * 1024 * 1024;
    const digest = await writeRandomFile(join(local, "big.bin"), size);
    const { server, to } = await startUploadServer(uploads);
    await using _ = server;
    const before = await rssOf(server.pid);
    const samples: number[] = [];
    let sending = true;
    const sampler = (async () => {
      while (sending) {
        samples.push(await rssOf(server.pid));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const result = await runCli(["upload", "send", join(local, "big.bin"), "--to", to], {
      timeoutMs: 120_000,
    });
    sending = false;
    await sampler;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`sha256 ${digest} verified`));
    const { createHash } = await import("node:crypto");
    const stored = createHash("sha256");
    for await (const chunk of (await Deno.open(join(uploads, "big.bin"))).readable) stored.update(chunk);
    assert.equal(stored.digest("hex"), digest);
    const peak = Math.max(...samples);
    console.log(`server RSS: ${before >> 20} MiB before, ${peak >> 20} MiB at most (${samples.length} samples)`);
    assert.ok(samples.length > 3, `${samples.length} samples`);
    assert.ok(peak < 100 * 1024 * 1024, `server RSS reached ${peak >> 20} MiB`);
    assert.ok(
      peak - before < 48 * 1024 * 1024,
      `server memory grew by ${(peak - before) >> 20} MiB (${before >> 20} to ${peak >> 20})`,
    );
  });
});

Deno.test("cli upload: a client killed or interrupted mid-transfer leaves no file; --resume completes it", async () => {
  await withFolders(async (uploads, local) => {
    const size = 128 * 1024 * 1024;
    const digest = await writeRandomFile(join(local, "iso.bin"), size);
    const { server, to } = await startUploadServer(uploads);
    await using _ = server;
    const send = (...extra: string[]) =>
      startCli(["upload", "send", join(local, "iso.bin"), "--to", to, ...extra], { waitForFirstLine: false });
    const partialSize = async () => {
      const [name] = await listTree(uploads);
      return name?.endsWith(".part") ? (await Deno.stat(join(uploads, name))).size : 0;
    };
    const noFinalFile = async () => (await listTree(uploads)).every((name) => name.startsWith("."));

    // Killed at a random point: the server notices and keeps what arrived.
    const killed = await send();
    const cut = (4 + Math.floor(Math.random() * 16)) * 1024 * 1024;
    await waitFor(async () => (await partialSize()) >= cut, 30_000);
    await killed.stop("SIGKILL");
    await server.waitFor(/failed "iso\.bin" after .*partial data kept for --resume/);
    const kept = await partialSize();
    assert.ok(kept > 0 && kept < size, `kept ${kept}`);
    assert.ok(await noFinalFile(), "no final file");

    // Resumed, then interrupted (Ctrl-C): exit 130 and a hint; the data is kept again.
    const interrupted = await send("--resume");
    await waitFor(async () => (await partialSize()) >= kept + 4 * 1024 * 1024, 30_000);
    const stopped = await interrupted.stop("SIGINT");
    assert.equal(stopped.code, 130);
    assert.match(stopped.stderr, /^failed "iso\.bin": interrupted \(run again with --resume to continue\)$/m);
    assert.ok(await noFinalFile(), "no final file");

    const resumed = await runCli(["upload", "send", join(local, "iso.bin"), "--to", to, "--resume"], {
      timeoutMs: 60_000,
    });
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(
      resumed.stdout,
      new RegExp(`^stored "iso\\.bin": 128 MiB .*, resumed at .+, sha256 ${digest} verified$`, "m"),
    );
    assert.deepEqual(await listTree(uploads), ["iso.bin"]);
  });
});

Deno.test("cli upload: wirebox serve starts the upload server, storing under <data>/uploads", async () => {
  const data = await Deno.makeTempDir({ prefix: "wirebox-serve-" });
  try {
    const server = await startCli(["serve", "--any-port", "--host", "127.0.0.1", "--data", data]);
    await using _ = server;
    const row = await server.waitFor(/^ {2}upload /);
    assert.match(row, new RegExp(`file uploads into ${data}/uploads`));
    const port = Number(/tcp:\/\/127\.0\.0\.1:(\d+)/.exec(row)?.[1]);
    await Deno.writeTextFile(join(data, "hello.txt"), "hello");
    const sent = await runCli(["upload", "send", join(data, "hello.txt"), "--to", `127.0.0.1:${port}`]);
    assert.equal(sent.code, 0, sent.stderr);
    assert.equal(await Deno.readTextFile(join(data, "uploads/hello.txt")), "hello");
  } finally {
    await Deno.remove(data, { recursive: true });
  }
});
