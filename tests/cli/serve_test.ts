import assert from "node:assert/strict";
import { join } from "node:path";
import { connectTcp } from "../../lib/net/tcp_connect.ts";
import { formatAddress } from "../../lib/net/address.ts";
import { ROOT, runCli, startServer } from "../_helpers/cli.ts";
import { LIBC_MISSING } from "../_helpers/ffi.ts";

Deno.test("serve: starts every server, prints where each listens, stops on SIGINT with exit 0", async () => {
  const data = await Deno.makeTempDir({ prefix: "wirebox-serve-" });
  try {
    const dataDir = join(data, "wirebox-data");
    const { server, endpoints } = await startServer(
      ["serve", "--any-port", "--host", "127.0.0.1", "--data", dataDir],
    );
    assert.match(server.stdout[0], /^wirebox listening on (\w+:\/\/127\.0\.0\.1:\d+ ?)+$/);
    await server.waitFor(/^Press Ctrl-C to stop\.$/);
    assert.ok(server.stdout.some((line) => /^ {2}echo {5}tcp:\/\/127\.0\.0\.1:\d+ udp:/.test(line)));
    assert.ok(server.stdout.includes(`  data     ${dataDir}`));
    assert.ok((await Deno.stat(dataDir)).isDirectory, "the data folder was created");
    // What it announced really listens.
    const conn = await connectTcp(endpoints.tcp);
    conn.close();
    const result = await server.stop("SIGINT");
    assert.equal(result.code, 0);
    assert.equal(result.stderr, "");
  } finally {
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("serve: if one server cannot bind, the others are stopped and the failure is named", async () => {
  const data = await Deno.makeTempDir({ prefix: "wirebox-serve-" });
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  try {
    // Every other server on a free port; echo on the taken one (an explicit port wins over --any-port).
    const busy = await runCli([
      "serve",
      "--host",
      "127.0.0.1",
      "--data",
      data,
      "--any-port",
      "--echo-port",
      String(port),
    ]);
    assert.equal(busy.code, 1);
    assert.match(
      busy.stderr,
      new RegExp(`^wirebox: Cannot bind to tcp 127\\.0\\.0\\.1:${port}: address already in use`),
    );
  } finally {
    taken.close();
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("cli serve: the help lists every server's port option, aligned with the other options", async () => {
  const { code, stdout } = await runCli(["serve", "--help"]);
  assert.equal(code, 0);
  const options = stdout.split("\n").filter((line) => /^ {2}-/.test(line));
  assert.ok(options.some((line) => line.startsWith("  --upload-port PORT")));
  const columns = new Set(options.map((line) => /^ {2}\S.*?\s{2,}(?=\S)/.exec(line)?.[0].length));
  assert.deepEqual([...columns], [27]);
});

Deno.test("serve: with the start task's own permissions, a TFTP transfer works (its thread can load its modules)", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const data = await Deno.makeTempDir({ prefix: "wirebox-serve-" });
  try {
    // The task's flags, with its data folder moved into a temporary one.
    const permissions = (config.tasks.start as string).split(" ").filter((word) => word.startsWith("--allow-"))
      .map((flag) => flag.replaceAll("./wirebox-data", data));
    const { server, endpoints } = await startServer(
      ["serve", "--only", "tftp", "--any-port", "--host", "127.0.0.1", "--data", data],
      { permissions, cwd: ROOT },
    );
    // Where it can run, the faster backend; not a silent fall back to the other.
    await server.waitFor(new RegExp(`^ {2}tftp .* ${LIBC_MISSING ? "deno" : "ffi"} UDP backend\\)$`));
    await Deno.writeTextFile(join(data, "tftp", "hello.txt"), "hello\n");
    const got = await runCli(["tftp", "get", formatAddress(endpoints.udp), "hello.txt", "-"]);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, "hello\n");
    const result = await server.stop("SIGINT");
    assert.equal(result.code, 0);
    assert.equal(result.stderr, "");
  } finally {
    await Deno.remove(data, { recursive: true });
  }
});
