import assert from "node:assert/strict";
import { parseEvent } from "../../lib/chat/protocol.ts";
import { type ChatServerOptions, serveChat } from "../../lib/chat/server.ts";
import { LineClient } from "../_helpers/line_client.ts";

/** A chat server on a free loopback port, stopped by `await using`. */
function startChat(options: ChatServerOptions = {}) {
  const controller = new AbortController();
  const chat = serveChat({ hostname: "127.0.0.1", port: 0, signal: controller.signal, ...options });
  const address = { hostname: "127.0.0.1", port: chat.tcp.addr.port };
  return {
    chat,
    address,
    controller,
    async join(read = true): Promise<LineClient> {
      const client = await LineClient.connect(address, { read });
      if (read) await client.waitFor(/ -- welcome to wirebox chat/);
      return client;
    },
    async [Symbol.asyncDispose]() {
      controller.abort();
      await chat.finished;
    },
  };
}

/** The nick the server gave `client` ("you are guestN"). */
async function nickOf(client: LineClient): Promise<string> {
  const welcome = await client.waitFor(/you are \S+,/);
  return /you are (\S+),/.exec(welcome)![1];
}

Deno.test("chat server: 60 clients, every message reaches all, each sender's order kept", async () => {
  await using server = startChat({ rate: 0 });
  const clients = await Promise.all(Array.from({ length: 60 }, () => server.join()));
  const nicks = await Promise.all(clients.map(nickOf));
  const perClient = 5;
  // Everyone sends at once; one client sends all its lines in one write, one line per write for the others.
  await Promise.all(clients.map(async (client, index) => {
    if (index === 0) {
      await client.send(Array.from({ length: perClient }, (_, i) => `n${i} ${nicks[index]}\n`).join(""));
    } else {
      for (let i = 0; i < perClient; i++) await client.send(`n${i} ${nicks[index]}\n`);
    }
  }));
  const total = clients.length * perClient;
  await Promise.all(clients.map((client) => client.waitForCount(/ <guest\d+> n\d+ /, total, 20_000)));
  for (const client of clients) {
    const said = client.lines.filter((line) => / <guest\d+> n\d+ /.test(line));
    assert.equal(said.length, total);
    for (const nick of nicks) {
      const own = said.filter((line) => line.includes(`<${nick}> `)).map((line) => line.split(" ").at(-2));
      assert.deepEqual(own, ["n0", "n1", "n2", "n3", "n4"], `order of ${nick}`);
    }
  }
  await Promise.all(clients.map((client) => client.close()));
});

Deno.test("chat server: overlong line refused to its sender, the rest discarded, the connection carries on", async () => {
  await using server = startChat({ maxLineBytes: 100 });
  const a = await server.join();
  const b = await server.join();
  await a.send("x".repeat(150) + " tail of the long line\nafter\n");
  await a.waitFor(/ !! line too long: at most 100 bytes; it was not sent$/);
  await b.waitFor(/ <guest1> after$/);
  assert.ok(!b.lines.some((line) => line.includes("tail of the long line") || line.includes("xxx")));
  await a.send("y".repeat(100) + "\n"); // exactly at the cap: accepted
  await b.waitFor(new RegExp(` <guest1> y{100}$`));
  await Promise.all([a.close(), b.close()]);
});

Deno.test("chat server: invalid UTF-8 is replaced and escape sequences stripped before anyone sees them", async () => {
  await using server = startChat();
  const a = await server.join();
  const b = await server.join();
  await a.send(new Uint8Array([0x68, 0x69, 0xff, 0xfe, 0xc3, 0x20, 0x21, 0x0a]));
  const replaced = await b.waitFor(/ <guest1> hi/);
  assert.ok(replaced.endsWith("<guest1> hi\ufffd\ufffd\ufffd !"), JSON.stringify(replaced));
  await a.send("\x1b]0;pwned\x07\x1b[2J\x1b[1;1Hclean\x1b[31m text\x1b[0m\r\n");
  const cleaned = await b.waitFor(/ <guest1> clean/);
  assert.ok(cleaned.endsWith("<guest1> clean text"), JSON.stringify(cleaned));
  assert.ok(!b.lines.some((line) => line.includes("\x1b")));
  await Promise.all([a.close(), b.close()]);
});

Deno.test("chat server: text without a newline is taken as a line after a short pause", async () => {
  await using server = startChat({ partialLineMs: 100 });
  const a = await server.join();
  const b = await server.join();
  await a.send("I'm ready.\n");
  await a.send("sent without a newline");
  await b.waitFor(/ <guest1> sent without a newline$/);
  await a.send("two parts");
  await a.send(" of one line\n"); // the pause is measured from the last bytes: no split here
  await b.waitFor(/ <guest1> two parts of one line$/);
  assert.ok(b.lines.some((line) => line.endsWith("<guest1> I'm ready.")));
  const c = await server.join();
  await c.send("last words"); // no newline, then the client closes: still said
  await c.close();
  await b.waitFor(/ <guest3> last words$/);
  await b.waitFor(/<- guest3 left \(connection lost: closed by the client\)/);
  await Promise.all([a.close(), b.close()]);
});

Deno.test("chat server: a client that never reads is dropped; the others keep chatting", async () => {
  await using server = startChat({ rate: 0, maxQueueBytes: 64 * 1024 });
  const slow = await server.join(false);
  const a = await server.join();
  const b = await server.join();
  const line = "z".repeat(4000) + "\n";
  let sent = 0;
  // Enough to fill the slow client's socket buffers and then its queue; bounded in count.
  while (!a.lines.some((text) => text.includes("left (too slow)")) && sent < 8000) {
    await a.send(line.repeat(20));
    sent += 20;
    await a.waitForCount(/ <guest2> z+$/, sent, 10_000);
  }
  await a.waitFor(/<- guest1 left \(too slow\), 2 online/);
  await b.waitFor(/<- guest1 left \(too slow\), 2 online/);
  await b.waitForCount(/ <guest2> z+$/, sent, 10_000);
  await a.send("still flowing\n");
  await b.waitFor(/ <guest2> still flowing$/);
  assert.equal(server.chat.room.size, 2);
  await Promise.all([slow.close(), a.close(), b.close()]);
});

Deno.test("chat server: a room that outpaces its readers slows its senders instead of dropping readers", async () => {
  // A tiny queue: without backpressure every reader would overflow and be dropped.
  await using server = startChat({ rate: 0, maxQueueBytes: 4096 });
  const clients = await Promise.all(Array.from({ length: 5 }, () => server.join()));
  const perClient = 400;
  await Promise.all(
    clients.map((client, index) =>
      client.send(Array.from({ length: perClient }, (_, i) => `flood ${index} ${i} ${"x".repeat(40)}\n`).join(""))
    ),
  );
  const total = clients.length * perClient;
  await Promise.all(clients.map((client) => client.waitForCount(/ <guest\d+> flood /, total, 20_000)));
  for (const client of clients) assert.ok(!client.lines.some((line) => line.includes("too slow")), client.tail());
  assert.equal(server.chat.room.size, 5);
  await Promise.all(clients.map((client) => client.close()));
});

Deno.test("chat server: a flooder is warned, then disconnected", async () => {
  await using server = startChat({ rate: 2, burst: 5 });
  const flooder = await server.join();
  const other = await server.join();
  await flooder.send(Array.from({ length: 30 }, (_, i) => `flood ${i}\n`).join(""));
  await flooder.waitFor(/ !! slow down: at most 2 lines a second \(5 at once\)/);
  await other.waitFor(/<- guest1 left \(flooding\), 1 online/);
  await flooder.waitClosed();
  assert.equal(other.lines.filter((line) => line.includes("<guest1> flood")).length, 5);
  await Promise.all([flooder.close(), other.close()]);
});

Deno.test("chat server: abrupt disconnects are cleaned up at once", async () => {
  await using server = startChat();
  const watcher = await server.join();
  const gone = await server.join(false);
  await watcher.waitFor(/-> guest2 joined/);
  // Its welcome is unread, so closing makes the kernel reset the connection
  // (Deno reports a reset on read as the end of the stream).
  await gone.close();
  await watcher.waitFor(/<- guest2 left \(connection lost: (closed|reset) by the client\), 1 online/);
  assert.equal(server.chat.room.size, 1);
  await watcher.close();
});

Deno.test("chat server: a silent client is dropped after the idle timeout; one that talks stays", async () => {
  await using server = startChat({ idleTimeoutMs: 300 });
  const silent = await server.join();
  const talker = await server.join();
  const talking = setInterval(() => talker.send("/echo still here\n").catch(() => {}), 50);
  try {
    await talker.waitFor(/<- guest1 left \(idle timeout: nothing sent for \d+ ms\), 1 online$/);
    await silent.waitFor(/<- guest1 left \(idle timeout/);
    await silent.waitClosed();
    assert.equal(server.chat.room.size, 1);
  } finally {
    clearInterval(talking);
  }
  await Promise.all([silent.close(), talker.close()]);
});

Deno.test("chat server: --max-clients refuses the next client with a line", async () => {
  await using server = startChat({ maxClients: 2 });
  const a = await server.join();
  const b = await server.join();
  const c = await LineClient.connect(server.address);
  await c.waitFor(/ !! the server is full \(2 clients\): try again later$/);
  await c.waitClosed();
  assert.equal(server.chat.room.size, 2);
  await Promise.all([a.close(), b.close(), c.close()]);
});

Deno.test("chat server: /format json over TCP", async () => {
  await using server = startChat();
  const a = await server.join();
  const b = await server.join();
  await b.send("/format json\n/nick bot\n");
  await b.waitFor((line) => parseEvent(line)?.type === "welcome");
  await a.waitFor(/ -- guest2 is now known as bot$/);
  await a.send("hello bot\n");
  const line = await b.waitFor((text) => parseEvent(text)?.type === "message");
  assert.deepEqual({ ...parseEvent(line), time: 0 }, {
    type: "message",
    time: 0,
    seq: 4,
    from: "guest1",
    text: "hello bot",
  });
  await Promise.all([a.close(), b.close()]);
});

Deno.test("chat server: a graceful stop tells every client and closes; the transcript keeps what was said", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/transcript.jsonl`;
  await Deno.writeTextFile(path, '{"type":"info","text":"from before"}\n');
  const server = startChat({ transcriptPath: path });
  const a = await server.join();
  const b = await server.join();
  await a.send("/nick alice\nremember this\n/msg guest2 secret\n");
  await b.waitFor(/\[alice -> guest2\] secret/);
  server.controller.abort();
  await a.waitFor(/<- alice left \(server stopping\)/);
  await b.waitFor(/<- guest2 left \(server stopping\)/);
  await Promise.all([a.waitClosed(), b.waitClosed()]);
  await server.chat.finished;
  const lines = (await Deno.readTextFile(path)).trim().split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(lines.map((event) => event.type), ["info", "join", "join", "nick", "message", "leave", "leave"]);
  assert.equal(lines[4].text, "remember this");
  assert.ok(!lines.some((event) => event.text === "secret"), "private messages stay out of the transcript");
  await Promise.all([a.close(), b.close()]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("chat server: an unwritable transcript is a clear error at start", () => {
  assert.throws(
    () => serveChat({ hostname: "127.0.0.1", port: 0, transcriptPath: "/nonexistent/dir/t.jsonl" }),
    (error: Error) =>
      error instanceof Deno.errors.NotFound && /^Cannot open the transcript \/nonexistent/.test(error.message),
  );
});
