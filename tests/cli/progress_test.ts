import assert from "node:assert/strict";
import { join } from "node:path";
import { ProgressBar } from "../../lib/cli/progress.ts";
import { ROOT, startServer, wireboxArgs } from "../_helpers/cli.ts";
import { peerTest } from "../_helpers/peers.ts";

/** A stream that records what is drawn on it. */
function screen(terminal: boolean) {
  const decoder = new TextDecoder();
  let text = "";
  return {
    get text() {
      return text;
    },
    writeSync(bytes: Uint8Array) {
      text += decoder.decode(bytes);
      return bytes.length;
    },
    isTerminal: () => terminal,
  };
}

Deno.test("progress bar: bytes, share, rate and time left; bytes and rate alone without a total", () => {
  const start = performance.now();
  const bar = new ProgressBar("big.iso", { total: 4 * 1024 * 1024, stream: screen(false) });
  bar.update(1024 * 1024);
  assert.match(bar.render(start + 1000), /^big\.iso [█░]{24} {2}25% 1\.00 MiB\/4\.00 MiB 1\.00 MiB\/s ETA \d\.\d s$/);
  assert.equal([...bar.render(start + 1000)].filter((c) => c === "█").length, 6);
  const open = new ProgressBar("stdin", { stream: screen(false) });
  open.update(2048);
  assert.match(open.render(start + 2000), /^stdin 2\.00 KiB 1\.00 KiB\/s$/);
});

Deno.test("progress bar: drawn in place on a terminal, at most ten times a second, and cleared; silent elsewhere", () => {
  const terminal = screen(true);
  const bar = new ProgressBar("a.bin", { total: 100, stream: terminal });
  bar.update(10);
  bar.update(20); // within 100 ms of the first: not drawn
  bar.done();
  const ESC = "\x1b";
  assert.ok(terminal.text.endsWith(`${ESC}[K\r${ESC}[K`), "redrawn in place, then cleared");
  const plain = terminal.text.replace(new RegExp(`${ESC}\\[[\\d;]*m`, "g"), ""); // colours, when on
  assert.match(plain, /^\ra\.bin [█░]{24} {2}10% 10 B\/100 B .+ ETA /);
  assert.doesNotMatch(terminal.text, /20%/);
  const pipe = screen(false);
  const silent = new ProgressBar("a.bin", { total: 100, stream: pipe });
  silent.update(50);
  silent.done();
  assert.equal(pipe.text, "");
  assert.equal(silent.enabled, false);
});

peerTest(
  "cli upload: on a terminal, each file gets a bar with its share, bytes, rate and time left",
  ["script"],
  async () => {
    const uploads = await Deno.makeTempDir({ prefix: "wirebox-bar-up-" });
    const local = await Deno.makeTempDir({ prefix: "wirebox-bar-local-" });
    try {
      await Deno.writeFile(join(local, "a.bin"), new Uint8Array(3 * 1024 * 1024).fill(7));
      const { server, endpoints } = await startServer(["upload", "serve", "--port", "0", "--dir", uploads]);
      await using _ = server;
      const to = `127.0.0.1:${endpoints.tcp.port}`;
      // script(1) runs the client on a pseudo-terminal and copies what it drew.
      const line = ["deno", ...wireboxArgs(), "upload", "send", join(local, "a.bin"), "--to", to]
        .map((arg) => `'${arg}'`).join(" ");
      const { code, stdout } = await new Deno.Command("script", {
        args: ["-qec", line, "/dev/null"],
        cwd: ROOT,
        env: { NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const drawn = new TextDecoder().decode(stdout);
      assert.equal(code, 0, drawn);
      assert.match(drawn, /\ra\.bin [█░]{24} +\d+% [\d.]+ (B|KiB|MiB)\/3\.00 MiB [\d.]+ (B|KiB|MiB|GiB)\/s ETA /);
      assert.ok(drawn.includes("\x1b[K"), "redrawn in place");
      assert.match(drawn, /done: 1 file stored and verified/);
    } finally {
      await Deno.remove(uploads, { recursive: true });
      await Deno.remove(local, { recursive: true });
    }
  },
);
