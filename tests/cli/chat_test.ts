import assert from "node:assert/strict";
import { endpointsOf, runCli, startCli, startServer } from "../_helpers/cli.ts";
import { LineClient } from "../_helpers/line_client.ts";
import { peerTest } from "../_helpers/peers.ts";
import { rssOf } from "../_helpers/memory.ts";

const SERVE = ["chat", "serve", "--host", "127.0.0.1", "--port", "0"];

Deno.test("cli chat: serve announces itself; join sends piped lines, waits for their echo, exits 0", async () => {
  await using started = await startServer(SERVE).then(({ server, endpoints }) => Object.assign(server, { endpoints }));
  assert.match(started.stdout[0], /^chat listening on tcp:\/\/127\.0\.0\.1:\d+$/);
  const address = started.endpoints.tcp;
  const raw = await LineClient.connect(address);
  await raw.waitFor(/you are guest1/);
  const run = await runCli(["chat", "join", `${address.hostname}:${address.port}`, "--nick", "ci"], {
    stdin: "build finished\n/me deploys\n",
  });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr, "");
  const shown = run.stdout.trim().split("\n").map((line) => line.replace(/^\d\d:\d\d:\d\d /, ""));
  assert.match(shown[0], /^-- welcome to wirebox chat .*: you are guest2, 2 online/);
  assert.deepEqual(shown.slice(1), [
    "-- guest2 is now known as ci",
    "<ci> build finished",
    "* ci deploys",
    "<- ci left (quit), 1 online",
  ]);
  await raw.waitFor(/<ci> build finished$/);
  await raw.waitFor(/<- ci left \(quit\), 1 online$/);
  await started.waitFor(/ chat: <ci> build finished$/);
  await raw.close();
  const stopped = await started.stop("SIGTERM");
  assert.equal(stopped.code, 0);
});

Deno.test("cli chat: the operator console says, lists, kicks and stops the server", async () => {
  await using server = await startCli([...SERVE, "--log", "/dev/null"], { stdinPiped: true });
  const address = endpointsOf(server.stdout[0]).tcp;
  const alice = await LineClient.connect(address);
  const bob = await LineClient.connect(address);
  await alice.send("/nick alice\n");
  await bob.waitFor(/guest1 is now known as alice/);
  await server.write("lunch is here\n");
  await alice.waitFor(/ <server> lunch is here$/);
  await bob.waitFor(/ <server> lunch is here$/);
  await server.write("/who\n");
  await server.waitFor(/^-- {3}alice +127\.0\.0\.1:\d+ {2}idle \d+s$/);
  await server.write("/kick alice stop that\n");
  await alice.waitFor(/<- alice left \(kicked: stop that\), 1 online$/);
  await alice.waitClosed();
  await bob.waitFor(/<- alice left \(kicked: stop that\), 1 online$/);
  await server.write("/quit\n");
  await bob.waitFor(/<- guest2 left \(server stopping\)/);
  await bob.waitClosed();
  const result = await server.exit();
  assert.equal(result.code, 0, result.stderr);
  await Promise.all([alice.close(), bob.close()]);
});

Deno.test("cli chat: SIGINT stops gracefully; a joined client reports the server's going in one line, exit 1", async () => {
  await using server = await startCli(SERVE);
  const address = endpointsOf(server.stdout[0]).tcp;
  await using client = await startCli(
    ["chat", "join", `:${address.port}`, "--nick", "watcher", "--stay"],
    { waitForFirstLine: false },
  );
  await server.waitFor(/ chat: -- guest1 is now known as watcher$/);
  const stopped = await server.stop("SIGINT");
  assert.equal(stopped.code, 0, stopped.stderr);
  const result = await client.exit();
  assert.equal(result.code, 1);
  assert.match(result.stdout, /<- watcher left \(server stopping\), 0 online$/);
  assert.equal(result.stderr, `wirebox: Chat at 127.0.0.1:${address.port} ended: the chat server stopped`);
});

Deno.test("cli chat: join to a closed port is a clear error; bad options are usage errors", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const refused = await runCli(["chat", "join", `127.0.0.1:${port}`], { stdin: "hi\n" });
  assert.equal(refused.code, 1);
  assert.equal(
    refused.stderr.trim(),
    `wirebox: Cannot connect to 127.0.0.1:${port}: connection refused\n` +
      "hint: nothing is listening there: check the host, the port and that the server runs",
  );
  const badNick = await runCli(["chat", "join", "--nick", "two words"]);
  assert.equal(badNick.code, 2);
  assert.match(badNick.stderr, /^wirebox: invalid --nick "two words": a nick has only letters/);
  const badRate = await runCli(["chat", "serve", "--rate", "fast"]);
  assert.equal(badRate.code, 2);
  assert.match(badRate.stderr, /^wirebox: invalid --rate "fast": expected a whole number/);
  const help = await runCli(["chat", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /wirebox chat join \[HOST\]\[:PORT\]/);
});

peerTest("cli chat: 10 MB without a newline does not grow the server's memory", ["ps"], async () => {
  await using server = await startCli([...SERVE, "--quiet", "--rate", "0"]);
  const address = endpointsOf(server.stdout[0]).tcp;
  const sender = await LineClient.connect(address);
  const other = await LineClient.connect(address);
  await other.waitFor(/you are guest2/);
  const chunk = new Uint8Array(64 * 1024).fill(0x61);
  await sender.send(chunk); // warm up the same paths before measuring
  await sender.send("\nwarm\n");
  await other.waitFor(/<guest1> warm$/);
  const before = await rssOf(server.pid);
  for (let sent = 0; sent < 10 * 1024 * 1024; sent += chunk.length) await sender.send(chunk);
  await sender.send("\nafter\n");
  await other.waitFor(/<guest1> after$/);
  const after = await rssOf(server.pid);
  const refusals = sender.lines.filter((line) => / !! line too long: at most 4096 bytes/.test(line));
  assert.equal(refusals.length, 2);
  assert.ok(after - before < 8 * 1024 * 1024, `RSS grew by ${((after - before) / 1048576).toFixed(1)} MiB`);
  await Promise.all([sender.close(), other.close()]);
});

const TUTORIAL_CLIENT = `
import socket, sys
client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.connect(("127.0.0.1", int(sys.argv[1])))
client.send("I'm ready.\\n".encode())
client.send("hello from python".encode())  # the tutorials send without a newline
seen = b""
while b"<guest1> hello from python" not in seen:
    data = client.recv(1024)
    if not data:
        sys.exit("closed early: " + seen.decode())
    seen += data
client.send("quit".encode())
while True:
    data = client.recv(1024)
    if not data:
        break
    seen += data
print(seen.decode("utf-8"))
`;

peerTest("cli chat: the classic Python tutorial client (no newlines, quit word)", ["python3"], async () => {
  await using server = await startCli(SERVE);
  const address = endpointsOf(server.stdout[0]).tcp;
  const python = new Deno.Command("python3", {
    args: ["-c", TUTORIAL_CLIENT, String(address.port)],
    stdout: "piped",
    stderr: "piped",
  });
  const { code, stdout, stderr } = await python.output();
  const text = new TextDecoder().decode(stdout);
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  assert.match(text, /<guest1> I'm ready\.\n/);
  assert.match(text, /<guest1> hello from python\n/);
  assert.match(text, /<- guest1 left \(quit\), 0 online\n/);
});

Deno.test("cli serve: starts the chat server with its transcript in the data folder", async () => {
  const data = await Deno.makeTempDir();
  await using server = await startCli(["serve", "--any-port", "--host", "127.0.0.1", "--data", data, "--only", "chat"]);
  const address = endpointsOf(server.stdout[0]).tcp;
  await server.waitFor(/^ {2}chat {5}tcp:\/\/127\.0\.0\.1:\d+ .*group chat/);
  const client = await LineClient.connect(address);
  await client.send("kept\n");
  await client.waitFor(/<guest1> kept$/);
  await client.close();
  assert.equal((await server.stop("SIGTERM")).code, 0);
  const transcript = await Deno.readTextFile(`${data}/chat/transcript.jsonl`);
  assert.ok(transcript.split("\n").some((line) => line.includes('"text":"kept"')), transcript);
  await Deno.remove(data, { recursive: true });
});

// Drives `wirebox chat join` on a pseudo-terminal: raw mode, editing keys,
// a line arriving while another is half typed, /quit.
const PTY_DRIVER = `
import os, pty, sys, time, select
main, port = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.environ.pop("NO_COLOR", None)
    os.execvp(sys.argv[3], [sys.argv[3], "run", "-q", "-A", main, "chat", "join", "127.0.0.1:" + port, "--nick", "tty"])
out = b""
def expect(text, timeout=15):
    global out
    end = time.time() + timeout
    while text.encode() not in out:
        if time.time() > end:
            sys.exit("timed out waiting for %r in %r" % (text, out.decode("utf-8", "replace")))
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            out += os.read(fd, 65536)
expect("tty\\x1b[0m> ")
os.write(fd, b"hello")
expect("> hello")
os.write(fd, b"\\x1b[D\\x1b[DX\\r")  # left, left, X, Enter
expect("helXlo")
os.write(fd, b"half typed")
expect("> half typed")
print("READY", flush=True)
sys.stdin.readline()  # the test makes another client speak now
expect("> interruption")
os.write(fd, b"\\x15/quit\\r")  # Ctrl-U clears the line, then /quit
expect("left (quit)")
while True:
    try:
        data = os.read(fd, 65536)
    except OSError:
        break
    if not data:
        break
    out += data
_, status = os.waitpid(pid, 0)
print("EXIT", os.waitstatus_to_exitcode(status))
print(repr(out.decode("utf-8", "replace")))
`;

peerTest("cli chat: join on a terminal keeps the line being typed while messages arrive", ["python3"], async () => {
  await using server = await startCli(SERVE);
  const address = endpointsOf(server.stdout[0]).tcp;
  const driver = new Deno.Command("python3", {
    args: ["-c", PTY_DRIVER, new URL("../../main.ts", import.meta.url).pathname, String(address.port), Deno.execPath()],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = driver.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("READY")) {
    const { value, done } = await output.read();
    if (done) break;
    text += value;
  }
  const other = await LineClient.connect(address);
  await other.send("/nick other\ninterruption\n");
  const stdin = driver.stdin.getWriter();
  await stdin.write(new TextEncoder().encode("go\n"));
  await stdin.close();
  while (true) {
    const { value, done } = await output.read();
    if (done) break;
    text += value;
  }
  const status = await driver.status;
  const stderr = new TextDecoder().decode(await new Response(driver.stderr).arrayBuffer());
  assert.equal(status.code, 0, `${stderr}\n${text}`);
  assert.match(text, /EXIT 0/);
  const screen = text.slice(text.indexOf("EXIT"));
  assert.match(screen, /<\\x1b\[38;5;\d+mtty\\x1b\[0m> helXlo/, "the edited line was sent, with the nick in colour");
  // The other client's line is printed on a cleared line, then the prompt and the half-typed text are redrawn.
  assert.match(
    screen,
    /\\r\\x1b\[2K[^\\]*\\x1b\[2m\d\d:\d\d:\d\d\\x1b\[0m <\\x1b\[38;5;\d+mother\\x1b\[0m> interruption\\r\\r?\\n\\r\\x1b\[2K\\x1b\[38;5;\d+mtty\\x1b\[0m> half typed/,
  );
  await other.close();
});

Deno.test("cli serve: --help lists the chat server's port, aligned with the other options", async () => {
  const { code, stdout } = await runCli(["serve", "--help"]);
  assert.equal(code, 0);
  const lines = stdout.split("\n");
  const chat = lines.find((line) => line.startsWith("  --chat-port PORT"));
  const data = lines.find((line) => line.startsWith("  --data DIR"));
  assert.ok(chat && data, stdout);
  assert.equal(chat.indexOf("port of the chat server (default 9999)"), data.indexOf("data folder"));
});
