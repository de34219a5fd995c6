import assert from "node:assert/strict";
import config from "../../deno.json" with { type: "json" };
import { runCli } from "../_helpers/cli.ts";
import { peerTest } from "../_helpers/peers.ts";

Deno.test("wirebox --help lists every tool; --version prints the version", async () => {
  const help = await runCli(["--help"]);
  assert.equal(help.code, 0);
  for (const tool of ["serve", "echo", "send", "listen"]) assert.match(help.stdout, new RegExp(`^  ${tool} `, "m"));
  const version = await runCli(["--version"]);
  assert.equal(version.code, 0);
  assert.equal(version.stdout, `wirebox ${config.version}\n`);
});

Deno.test("wirebox <tool> --help prints that tool's help", async () => {
  for (const tool of ["serve", "echo", "send", "listen"]) {
    const result = await runCli([tool, "--help"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^Usage: wirebox ${tool}`), tool);
  }
});

Deno.test("usage errors: one line and a hint on stderr, exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["frobnicate"], /^wirebox: unknown tool "frobnicate" \(tools: .*\)\nTry 'wirebox --help' for usage\.\n$/],
    [["echo", "serve", "--port", "70000"], /^wirebox: invalid --port "70000": expected a number from 0 to 65535\n/],
    [["echo", "serve", "--port"], /^wirebox: option --port needs a value\n/],
    [["echo", "serve", "--colour"], /^wirebox: unknown option --colour\nTry 'wirebox echo --help'/],
    [["echo", "start"], /^wirebox: unknown echo command "start" \(expected "serve"\)/],
    [["send"], /^wirebox: missing argument\nTry 'wirebox send --help'/],
    [["send", "localhost"], /^wirebox: invalid address "localhost": a port is required \(HOST:PORT\)/],
    [["send", "127.0.0.1:1", "extra"], /^wirebox: unexpected argument "extra"/],
    [["send", "--bind", "9000", "127.0.0.1:1"], /^wirebox: --bind needs --udp/],
    [["send", "--encoding", "klingon", "127.0.0.1:1"], /^wirebox: invalid --encoding: Unknown encoding "klingon"/],
    [["listen", "--wait", "1", "9000"], /^wirebox: unknown option --wait/],
    [["serve", "--only", "nothing"], /^wirebox: unknown server "nothing" in --only/],
  ];
  for (const [args, expected] of cases) {
    const result = await runCli(args);
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, expected, args.join(" "));
    assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace");
  }
});

Deno.test("no tool, or a tool without a verb: one line saying what is missing, a hint, exit 2", async () => {
  const bare = await runCli([]);
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /^wirebox: missing tool \(tools: .*chat.*\)\nTry 'wirebox --help' for usage\.\n$/);
  const result = await runCli(["echo"]);
  assert.equal(result.code, 2);
  assert.equal(
    result.stderr,
    "wirebox: missing echo command (expected \"serve\")\nTry 'wirebox echo --help' for usage.\n",
  );
});

Deno.test("runtime failures: port in use, refused, unresolvable: one line and a hint, exit 1", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  try {
    const inUse = await runCli(["echo", "serve", "--host", "127.0.0.1", "--port", String(port)]);
    assert.equal(inUse.code, 1);
    assert.equal(
      inUse.stderr,
      `wirebox: Cannot bind to tcp 127.0.0.1:${port}: address already in use\n` +
        "hint: another program is using that port: choose another one (port 0 picks a free one)\n",
    );
  } finally {
    taken.close();
  }
  // Nothing listens on the port now.
  const refused = await runCli(["send", `127.0.0.1:${port}`]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, new RegExp(`^wirebox: Cannot connect to 127.0.0.1:${port}: connection refused\nhint: `));
  const unknown = await runCli(["send", "no-such-host.invalid:80"]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^wirebox: Cannot connect to no-such-host.invalid:80: host not found/);
});

peerTest(
  "runtime failures: a host that never answers times out after --connect-timeout, with a hint",
  ["python3"],
  async () => {
    // A listener with a backlog of 0 whose one queue place is taken: the kernel drops further SYNs,
    // as a firewall that swallows packets would, so the connect neither succeeds nor is refused.
    const holder = new Deno.Command("python3", {
      args: [
        "-c",
        `import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)
c = socket.create_connection(s.getsockname())
print(s.getsockname()[1], flush=True)
sys.stdin.read()`,
      ],
      stdin: "piped",
      stdout: "piped",
    }).spawn();
    const reader = holder.stdout.pipeThrough(new TextDecoderStream()).getReader();
    try {
      const port = Number((await reader.read()).value);
      const started = performance.now();
      const silent = await runCli(["send", `127.0.0.1:${port}`, "--connect-timeout", "300ms"]);
      assert.equal(silent.code, 1, silent.stderr);
      assert.match(
        silent.stderr,
        new RegExp(`^wirebox: Cannot connect to 127\\.0\\.0\\.1:${port}: timed out.*\\nhint: the host did not answer`),
      );
      assert.ok(performance.now() - started < 10_000, "not the default 10 s");
    } finally {
      // Read stdout to its end, so its pipe is closed before the test's leak check runs.
      await holder.stdin.close();
      while (!(await reader.read()).done);
      await holder.status;
    }
  },
);
