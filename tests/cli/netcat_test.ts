import assert from "node:assert/strict";
import { formatAddress } from "../../lib/net/address.ts";
import { writeAll } from "../../lib/net/io.ts";
import { connectTcp } from "../../lib/net/tcp_connect.ts";
import { DatagramReader, listenUdp, udpAddress } from "../../lib/net/udp.ts";
import { textCodec } from "../../lib/text/encoding.ts";
import { endpointsOf, runCli, startCli, startServer } from "../_helpers/cli.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const out: number[] = [];
  const buffer = new Uint8Array(4096);
  for (let n; (n = await conn.read(buffer).catch(() => null)) !== null;) out.push(...buffer.subarray(0, n));
  return Uint8Array.from(out);
}

Deno.test("send: stdin to an echo server and back, exit 0 when the peer closes", async () => {
  const { server, endpoints } = await startServer(["echo", "serve", "--host", "127.0.0.1", "--port", "0", "-q"]);
  try {
    const result = await runCli(["send", formatAddress(endpoints.tcp)], { stdin: "hello\nworld\n" });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "hello\nworld\n");
    // Binary bytes pass untouched when stdout is not a terminal.
    const binary = Uint8Array.from({ length: 256 }, (_, i) => i);
    const raw = await runCli(["send", formatAddress(endpoints.tcp)], { stdin: binary });
    assert.deepEqual(raw.stdoutBytes, binary);
  } finally {
    await server.stop();
  }
});

Deno.test("send: reads and writes at the same time, not in lock step", async () => {
  const controller = new AbortController();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    const conn = await listener.accept();
    // Speak first, before the client has sent anything.
    await writeAll(conn, encoder.encode("greeting from the server\n"));
    const got = decoder.decode(await readAll(conn));
    await writeAll(conn, encoder.encode(`you said: ${got}`));
    conn.close();
  })();
  const client = await startCli(["send", formatAddress(listener.addr as Deno.NetAddr)], {
    stdinPiped: true,
    waitForFirstLine: false,
  });
  try {
    // The greeting arrives while stdin is still open and empty.
    await client.waitFor(/^greeting from the server$/);
    await client.write("typed after the greeting\n");
    await client.closeStdin();
    const result = await client.exit();
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "greeting from the server\nyou said: typed after the greeting");
  } finally {
    await serving;
    listener.close();
    controller.abort();
  }
});

Deno.test("send --wait: after stdin ends, gives up on a peer that never closes", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let held: Deno.Conn | undefined;
  const accepted = listener.accept().then((conn) => held = conn);
  try {
    const result = await runCli(["send", "--wait", "200ms", formatAddress(listener.addr as Deno.NetAddr)], {
      stdin: "x\n",
    });
    assert.equal(result.code, 0, result.stderr);
  } finally {
    await accepted;
    held?.close();
    listener.close();
  }
});

Deno.test("send --encoding gbk: text is converted both ways for a GBK peer", async () => {
  const gbk = textCodec("gbk");
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    const conn = await listener.accept();
    const got = await readAll(conn);
    await writeAll(conn, gbk.encode("收到: ")).then(() => writeAll(conn, got));
    conn.close();
    return got;
  })();
  const result = await runCli(["send", "--encoding", "gbk", formatAddress(listener.addr as Deno.NetAddr)], {
    stdin: "你好，网络调试助手\n",
  });
  listener.close();
  assert.deepEqual(await serving, gbk.encode("你好，网络调试助手\n"), "the peer received GBK bytes");
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "收到: 你好，网络调试助手\n", "stdout got UTF-8");
});

Deno.test("send --udp: each line is a datagram, replies are printed", async () => {
  const { server, endpoints } = await startServer(["echo", "serve", "--host", "127.0.0.1", "--port", "0", "-q"]);
  try {
    const result = await runCli(["send", "--udp", "--wait", "300ms", formatAddress(endpoints.udp)], {
      stdin: "one\ntwo\n",
    });
    assert.equal(result.code, 0, result.stderr);
    // UDP may reorder in principle; on loopback the echo returns both.
    assert.deepEqual(result.stdout.split("\n").filter(Boolean).sort(), ["one", "two"]);
    assert.match(result.stderr, /^sending to udp:\/\/127\.0\.0\.1:\d+ from 0\.0\.0\.0:\d+$/m);
  } finally {
    await server.stop();
  }
});

Deno.test("listen --udp and send --udp --bind: the tutorials' two-way UDP chat", async () => {
  const listener = await startCli(["listen", "--udp", "127.0.0.1:0"], { stdinPiped: true, waitForFirstLine: false });
  const port = endpointsOf(await listener.waitFor(/^listening on udp:/, { stream: "stderr" })).udp.port;
  // Reserve a free UDP port for the sender's fixed local port.
  const probe = listenUdp({ hostname: "127.0.0.1" });
  const bindPort = udpAddress(probe).port;
  probe.close();
  const sender = await startCli(
    ["send", "--udp", "--bind", `127.0.0.1:${bindPort}`, `127.0.0.1:${port}`],
    { stdinPiped: true, waitForFirstLine: false },
  );
  try {
    await sender.write("hi from the sender\n");
    await listener.waitFor(new RegExp(`^\\[127\\.0\\.0\\.1:${bindPort}\\] hi from the sender$`));
    await listener.write("hi back\n");
    await sender.waitFor(/^hi back$/);
  } finally {
    assert.equal((await listener.stop("SIGTERM")).code, 0);
    await sender.stop("SIGTERM");
  }
});

Deno.test("listen: one TCP connection, both ways; exits 0 when it closes", async () => {
  const listener = await startCli(["listen", "127.0.0.1:0"], { stdinPiped: true, waitForFirstLine: false });
  const address = endpointsOf(await listener.waitFor(/^listening on tcp:/, { stream: "stderr" })).tcp;
  const conn = await connectTcp(address);
  await listener.waitFor(/^connection from 127\.0\.0\.1:\d+$/, { stream: "stderr" });
  await listener.write("from the listener\n");
  const buffer = new Uint8Array(100);
  const n = await conn.read(buffer);
  assert.equal(decoder.decode(buffer.subarray(0, n!)), "from the listener\n");
  await writeAll(conn, encoder.encode("from the client\n"));
  await listener.waitFor(/^from the client$/);
  conn.close();
  const result = await listener.exit();
  assert.equal(result.code, 0);
});

Deno.test("listen --keep-open: several clients at once, stdin goes to all", async () => {
  const listener = await startCli(["listen", "--keep-open", "127.0.0.1:0"], {
    stdinPiped: true,
    waitForFirstLine: false,
  });
  const address = endpointsOf(await listener.waitFor(/^listening on tcp:/, { stream: "stderr" })).tcp;
  const a = await connectTcp(address);
  const b = await connectTcp(address);
  try {
    await writeAll(a, encoder.encode("line from a\n"));
    await writeAll(b, encoder.encode("line from b\n"));
    await listener.waitFor(/^line from a$/);
    await listener.waitFor(/^line from b$/);
    await listener.write("to everyone\n");
    for (const conn of [a, b]) {
      const buffer = new Uint8Array(100);
      const n = await conn.read(buffer);
      assert.equal(decoder.decode(buffer.subarray(0, n!)), "to everyone\n");
    }
  } finally {
    a.close();
    b.close();
  }
  // Both closed, yet a keep-open listener keeps listening: a third client is accepted.
  const c = await connectTcp(address);
  await writeAll(c, encoder.encode("third\n"));
  await listener.waitFor(/^third$/);
  c.close();
  assert.equal((await listener.stop("SIGTERM")).code, 0);
});

Deno.test("listen --udp: only the first sender without --keep-open; every sender with it", async () => {
  for (const keepOpen of [false, true]) {
    const args = ["listen", "--udp", "127.0.0.1:0", ...(keepOpen ? ["--keep-open"] : [])];
    const listener = await startCli(args, { waitForFirstLine: false });
    const target = endpointsOf(await listener.waitFor(/^listening on udp:/, { stream: "stderr" })).udp;
    const first = listenUdp({ hostname: "127.0.0.1" });
    const second = listenUdp({ hostname: "127.0.0.1" });
    try {
      await first.send(encoder.encode("from first\nsecond line"), { transport: "udp", ...target });
      await listener.waitFor(/\] second line$/);
      await second.send(encoder.encode("from second"), { transport: "udp", ...target });
      if (keepOpen) {
        await listener.waitFor(new RegExp(`^\\[${formatAddress(udpAddress(second))}\\] from second$`));
      } else {
        await listener.waitFor(/^ignoring 127\.0\.0\.1:\d+ \(use --keep-open/, { stream: "stderr" });
      }
      const firstPrefix = `[${formatAddress(udpAddress(first))}] `;
      assert.ok(listener.stdout.includes(`${firstPrefix}from first`));
      assert.ok(listener.stdout.includes(`${firstPrefix}second line`));
      assert.equal(listener.stdout.some((line) => line.endsWith("from second")), keepOpen);
    } finally {
      first.close();
      second.close();
      assert.equal((await listener.stop("SIGTERM")).code, 0);
    }
  }
});

Deno.test("send --udp to a port nobody answers: exits after --wait without output", async () => {
  const socket = listenUdp({ hostname: "127.0.0.1" });
  const reader = new DatagramReader(socket);
  try {
    const result = await runCli(["send", "--udp", "--wait", "100ms", formatAddress(udpAddress(socket))], {
      stdin: "anyone?\n",
    });
    assert.equal(result.code, 0);
    assert.equal(result.stdout, "");
    assert.equal(decoder.decode((await reader.receive(5000))?.data), "anyone?");
  } finally {
    socket.close();
    await reader.closed;
  }
});
