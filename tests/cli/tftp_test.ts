import assert from "node:assert/strict";
import { join } from "node:path";
import { formatAddress } from "../../lib/net/address.ts";
import { listenUdp, udpAddress } from "../../lib/net/udp.ts";
import { missingPrograms, ROOT, runCli, startServer, wireboxArgs } from "../_helpers/cli.ts";
import { makeFile, RawPeer, sha256, tempDir } from "../tftp/_support.ts";
import { LIBC_MISSING } from "../_helpers/ffi.ts";

/** The backend `auto` comes to with the binary's permissions. */
const AUTO = LIBC_MISSING ? "deno" : "ffi";

/** A TFTP server on a free loopback port; the root follows. */
const SERVE = ["tftp", "serve", "--host", "127.0.0.1", "--port", "0", "--root"];

Deno.test("cli: tftp serve announces its address; get and put round-trip; stop on SIGTERM", async () => {
  await using dir = await tempDir();
  const root = join(dir.path, "root");
  await Deno.mkdir(root);
  const original = await makeFile(root, "boot.img", 300_000);
  const { server, endpoints } = await startServer([...SERVE, root, "--create"]);
  await using _ = server;
  assert.match(server.stdout[0], /^tftp listening on udp:\/\/127\.0\.0\.1:\d+$/);
  await server.waitFor(/serving .* \(uploads of new files accepted\)/);
  await server.waitFor(new RegExp(`transfers run on the ${AUTO} UDP backend`));
  const address = formatAddress(endpoints.udp);
  const local = join(dir.path, "boot.img");
  const got = await runCli(["tftp", "get", address, "boot.img"], { cwd: dir.path });
  assert.equal(got.code, 0, got.stderr);
  assert.match(
    got.stderr,
    new RegExp(
      String.raw`^received boot\.img: 293 KiB in .* \(.*\/s\), blksize 1468, windowsize 32, ${AUTO} backend\n$`,
    ),
  );
  assert.equal(await sha256(local), await sha256(original));
  const put = await runCli([
    ...["tftp", "put", address, local, "copy.img", "--blksize", "512", "--windowsize", "1", "--udp-backend", "deno"],
  ]);
  assert.equal(put.code, 0, put.stderr);
  assert.match(put.stderr, /^sent copy\.img: 293 KiB .* blksize 512(, \d+ blocks? sent again)?, deno backend\n$/);
  assert.equal(await sha256(join(root, "copy.img")), await sha256(original));
  await server.waitFor(/WRQ "copy\.img" octet: received 293 KiB/);
  const toStdout = await runCli(["tftp", "get", address, "boot.img", "-", "--quiet"]);
  assert.equal(toStdout.code, 0);
  assert.equal(toStdout.stderr, "");
  const stopped = await server.stop("SIGTERM");
  assert.equal(stopped.code, 0);
});

Deno.test("cli: tftp get/put failures are one line with the server's words, exit 1, no partial file", async () => {
  await using dir = await tempDir();
  await makeFile(dir.path, "exists.bin", 10);
  const { server, endpoints } = await startServer([...SERVE, dir.path, "--quiet"]);
  await using _ = server;
  const address = formatAddress(endpoints.udp);
  const missing = await runCli(["tftp", "get", address, "nope.bin"], { cwd: dir.path });
  assert.equal(missing.code, 1);
  assert.equal(
    missing.stderr,
    `wirebox: Cannot get "nope.bin" from ${address}: the server refused: File not found (code 1)\n`,
  );
  await assert.rejects(Deno.lstat(join(dir.path, "nope.bin")), Deno.errors.NotFound);
  const readOnly = await runCli(["tftp", "put", address, join(dir.path, "exists.bin"), "new.bin"]);
  assert.equal(readOnly.code, 1);
  assert.match(readOnly.stderr, /Access violation \(code 2\): This server is read-only/);
  const noLocal = await runCli(["tftp", "put", address, join(dir.path, "absent.bin")]);
  assert.equal(noLocal.code, 1);
  assert.match(noLocal.stderr, /absent\.bin does not exist/);
  const noFolder = await runCli(["tftp", "get", address, "exists.bin", join(dir.path, "no", "such", "x")]);
  assert.equal(noFolder.code, 1);
  assert.match(noFolder.stderr, /cannot write .*x: the folder .*no\/such does not exist/);
  await Deno.mkdir(join(dir.path, "sub"));
  const intoFolder = await runCli(["tftp", "get", address, "exists.bin", join(dir.path, "sub")]);
  assert.equal(intoFolder.code, 0, intoFolder.stderr);
  assert.equal((await Deno.stat(join(dir.path, "sub", "exists.bin"))).size, 10, "a folder as LOCAL gets REMOTE's name");
  const traversal = await runCli(["tftp", "get", address, "../../etc/passwd", join(dir.path, "x")]);
  assert.match(
    traversal.stderr,
    /Access violation \(code 2\): Refused name "..\/..\/etc\/passwd": ".." is not allowed/,
  );
});

Deno.test("cli: tftp get from a port where nothing answers sends exactly 1 + --retries requests and says so", async () => {
  // Each case: arguments, requests the silent port must receive, and the time the message must state.
  const cases: [string[], number, string, string][] = [
    // The round-trip timer starts at 1 s and doubles: requests at 0 and 1 s, given up at 3 s.
    [["--retries", "1"], 2, "1 retry", "3"],
    [["--retries", "0"], 1, "0 retries", "1"],
    // A fixed timeout does not double: requests at 0 and 1 s, given up at 2 s.
    [["--timeout", "1", "--retries", "1"], 2, "1 retry", "2"],
  ];
  await Promise.all(cases.map(async ([args, requests, retries, seconds]) => {
    await using silent = new RawPeer();
    const address = formatAddress(silent.address);
    const result = await runCli(["tftp", "get", address, "f", "-", ...args]);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      new RegExp(
        `^wirebox: Cannot get "f" from ${address}: no answer from the server: timed out after ${retries} \\(${seconds}\\.\\d s\\)\n$`,
      ),
      args.join(" "),
    );
    let received = 0;
    // The client has exited: whatever it sent is already queued here.
    while (await silent.maybeReceive(50)) received++;
    assert.equal(received, requests, `${args.join(" ")}: requests received`);
  }));
});

Deno.test("cli: tftp usage mistakes exit 2 with a hint", async () => {
  const cases: [string[], RegExp][] = [
    [["tftp", "get", "127.0.0.1"], /missing argument/],
    [
      ["tftp", "get", "127.0.0.1", "f", "--blksize", "4"],
      /invalid --blksize "4": expected a whole number from 8 to 65464/,
    ],
    [["tftp", "get", "127.0.0.1", "f", "--mode", "binary"], /invalid --mode "binary": choose one of octet, netascii/],
    [["tftp", "put", "127.0.0.1", "-"], /reading stdin \(-\) needs a REMOTE name/],
    [["tftp", "get", "127.0.0.1", ".."], /give LOCAL/],
    [["tftp", "serve", "--root", "/nonexistent/wirebox"], /--root \/nonexistent\/wirebox is not a folder/],
    [["tftp", "fetch"], /unknown tftp command "fetch"/],
    [["tftp", "get", "127.0.0.1", "f", "--tsize", "--no-tsize"], /contradict/],
    [["tftp", "serve", "--udp-backend", "fast"], /invalid --udp-backend "fast": choose one of auto, ffi, deno/],
  ];
  for (const [args, message] of cases) {
    const result = await runCli(args);
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, message);
    assert.match(result.stderr, /Try 'wirebox tftp --help'/);
  }
  const help = await runCli(["tftp", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /wirebox tftp serve/);
});

Deno.test("cli: without --allow-ffi, auto serves on the deno backend and a forced ffi backend says what it needs", async () => {
  await using dir = await tempDir();
  const original = await makeFile(dir.path, "f.bin", 5000);
  const permissions = ["--allow-net", "--allow-read", "--allow-write"];
  const { server, endpoints } = await startServer([...SERVE, dir.path, "--udp-backend", "auto"], { permissions });
  await using _ = server;
  await server.waitFor(/transfers run on the deno UDP backend \(Deno\.listenDatagram\)/);
  const local = join(dir.path, "got.bin");
  const got = await runCli(["tftp", "get", formatAddress(endpoints.udp), "f.bin", local], { permissions });
  assert.equal(got.code, 0, got.stderr);
  assert.match(got.stderr, /, deno backend\n$/);
  assert.equal(await sha256(local), await sha256(original));
  for (const verb of [["serve", "--port", "0"], ["get", "127.0.0.1", "f.bin", local]]) {
    const forced = await runCli(["tftp", ...verb, "--udp-backend", "ffi"], { permissions });
    assert.equal(forced.code, 1, forced.stderr);
    assert.match(forced.stderr, /The ffi UDP backend needs 64-bit Linux with glibc and --allow-ffi/);
  }
});

Deno.test({
  name: "cli: without read access to wirebox's modules, auto serves on the deno backend and a forced ffi says why" +
    (LIBC_MISSING ? ` (SKIPPED: ${LIBC_MISSING})` : ""),
  ignore: LIBC_MISSING !== undefined,
  async fn() {
    await using dir = await tempDir();
    const permissions = ["--allow-net", `--allow-read=${dir.path}`, `--allow-write=${dir.path}`, "--allow-ffi"];
    const { server } = await startServer([...SERVE, dir.path], { permissions });
    await using _ = server;
    await server.waitFor(/transfers run on the deno UDP backend/);
    const forced = await runCli([...SERVE, dir.path, "--udp-backend", "ffi"], { permissions });
    assert.equal(forced.code, 1, forced.stderr);
    assert.match(forced.stderr, /thread loads wirebox's modules from .*lib\/: grant --allow-read to it/);
  },
});

Deno.test("cli: tftp serve on a port in use says so", async () => {
  const taken = listenUdp({ hostname: "127.0.0.1", port: 0 });
  try {
    const { port } = udpAddress(taken);
    const result = await runCli(["tftp", "serve", "--host", "127.0.0.1", "--port", String(port)]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`Cannot bind to udp 127\\.0\\.0\\.1:${port}: address already in use`));
  } finally {
    taken.close();
  }
});

Deno.test("cli: wirebox serve runs the TFTP server over <data>/tftp", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(join(dir.path, "tftp"));
  const original = await makeFile(join(dir.path, "tftp"), "served.bin", 5000);
  const { server, endpoints } = await startServer([
    "serve",
    "--only",
    "tftp",
    "--any-port",
    "--data",
    dir.path,
    "--host",
    "127.0.0.1",
  ]);
  await using _ = server;
  assert.match(server.stdout[0], /^wirebox listening on udp:\/\/127\.0\.0\.1:\d+$/);
  const address = formatAddress(endpoints.udp);
  const local = join(dir.path, "got.bin");
  assert.equal((await runCli(["tftp", "get", address, "served.bin", local])).code, 0);
  assert.equal(await sha256(local), await sha256(original));
  assert.equal((await runCli(["tftp", "put", address, local, "uploaded.bin"])).code, 0);
  assert.equal(await sha256(join(dir.path, "tftp", "uploaded.bin")), await sha256(original));
  const again = await runCli(["tftp", "put", address, local, "uploaded.bin"]);
  assert.match(again.stderr, /File already exists \(code 6\)/);
});

/** Why the unprivileged check cannot run here, if it cannot: it runs wirebox as nobody, from this checkout. */
async function unprivilegedSkip(): Promise<string | undefined> {
  if (Deno.uid() !== 0) return "needs root to run the check as nobody";
  if (missingPrograms("runuser").length > 0) return "runuser is not installed";
  const probe = await new Deno.Command("runuser", {
    args: ["-u", "nobody", "--", "test", "-r", `${ROOT}main.ts`],
    stdout: "null",
    stderr: "null",
  }).output().catch(() => undefined);
  return probe?.code === 0 ? undefined : "nobody cannot read this checkout";
}

const skip = await unprivilegedSkip();
Deno.test({
  name: "cli: tftp serve on port 69 without privileges says so and suggests --port 6969" +
    (skip ? ` (SKIPPED: ${skip})` : ""),
  ignore: skip !== undefined,
  async fn() {
    await using denoDir = await tempDir();
    await Deno.chmod(denoDir.path, 0o777);
    const child = new Deno.Command("runuser", {
      args: [
        "-u",
        "nobody",
        "--",
        "env",
        `DENO_DIR=${denoDir.path}`,
        "NO_COLOR=1",
        Deno.execPath(),
        ...wireboxArgs(),
        "tftp",
        "serve",
        "--root",
        "/tmp",
        "--host",
        "127.0.0.1",
        "--port",
        "69",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    });
    const { code, stderr } = await child.output();
    const text = new TextDecoder().decode(stderr);
    assert.equal(code, 1, text);
    assert.match(text, /^wirebox: Cannot bind to udp 127\.0\.0\.1:69: permission denied \(try --port 6969\)\n/);
  },
});
