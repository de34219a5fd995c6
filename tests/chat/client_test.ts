import assert from "node:assert/strict";
import { ChatClient } from "../../lib/chat/client.ts";
import { type ChatEvent, formatText } from "../../lib/chat/protocol.ts";
import { type ChatServerOptions, serveChat } from "../../lib/chat/server.ts";
import { chatScripted } from "../../lib/chat/terminal.ts";
import { serveTcp } from "../../lib/net/tcp_server.ts";
import { LineClient } from "../_helpers/line_client.ts";

function startChat(options: ChatServerOptions = {}) {
  const controller = new AbortController();
  const chat = serveChat({ hostname: "127.0.0.1", port: 0, signal: controller.signal, ...options });
  return {
    chat,
    address: { hostname: "127.0.0.1", port: chat.tcp.addr.port },
    async [Symbol.asyncDispose]() {
      controller.abort();
      await chat.finished;
    },
  };
}

function collector() {
  const events: ChatEvent[] = [];
  return { events, onEvent: (event: ChatEvent) => void events.push(event) };
}

Deno.test("ChatClient: JSON events, its nick, sync and quit", async () => {
  await using server = startChat();
  const watcher = await LineClient.connect(server.address);
  await watcher.send("history line\n");
  await watcher.waitFor(/<guest1> history line/);
  const seen = collector();
  const client = await ChatClient.connect(server.address, { nick: "alice", onEvent: seen.onEvent });
  await client.welcomed;
  await client.send("hello\nsecond half"); // a newline inside becomes a space: one line stays one line
  await client.sync();
  assert.equal(client.nick, "alice");
  assert.deepEqual(client.limits, { maxLineBytes: 4096, rate: 10, burst: 30, maxNickLength: 32 });
  const said = seen.events.filter((event) => event.type === "message").map((event) =>
    formatText(event, { time: false })
  );
  assert.deepEqual(said, ["<guest1> history line", "<alice> hello second half"]);
  assert.ok(!seen.events.some((event) => event.type === "echo"), "sync echoes are not shown");
  await watcher.waitFor(/<alice> hello second half/);
  const end = await client.quit("done");
  assert.deepEqual(end, { byClient: true, reason: "quit", detail: "done", message: "you left" });
  await watcher.waitFor(/<- alice left \(quit: done\)/);
  await watcher.close();
});

Deno.test("ChatClient: a nick that is taken leaves the guest nick and shows the error", async () => {
  await using server = startChat();
  const first = await ChatClient.connect(server.address, { nick: "bob", onEvent: () => {} });
  await first.sync();
  const seen = collector();
  const second = await ChatClient.connect(server.address, { nick: "BOB", onEvent: seen.onEvent });
  await second.sync();
  assert.equal(second.nick, "guest2");
  assert.ok(seen.events.some((event) => event.type === "error" && /the nick "BOB" is taken/.test(event.text)));
  await Promise.all([first.quit(), second.quit()]);
});

Deno.test("ChatClient: kicked, or the server stopping, ends with a reason", async () => {
  const controller = new AbortController();
  const chat = serveChat({ hostname: "127.0.0.1", port: 0, signal: controller.signal });
  const address = { hostname: "127.0.0.1", port: chat.tcp.addr.port };
  const kicked = await ChatClient.connect(address, { nick: "noisy", onEvent: () => {} });
  const stays = await ChatClient.connect(address, { nick: "calm", onEvent: () => {} });
  await Promise.all([kicked.sync(), stays.sync()]);
  chat.room.kick("noisy", "too loud");
  assert.deepEqual(await kicked.ended, {
    byClient: false,
    reason: "kicked",
    detail: "too loud",
    message: "you were kicked by the operator (too loud)",
  });
  controller.abort();
  const end = await stays.ended;
  assert.equal(end.byClient, false);
  assert.equal(end.message, "the chat server stopped");
  await chat.finished;
});

Deno.test("ChatClient: paces itself to the server's rate limit instead of being dropped", async () => {
  await using server = startChat({ rate: 50, burst: 4 });
  const seen = collector();
  const client = await ChatClient.connect(server.address, { onEvent: seen.onEvent });
  await client.welcomed;
  for (let i = 0; i < 12; i++) client.send(`paced ${i}`);
  await client.sync();
  const said = seen.events.filter((event) => event.type === "message");
  assert.equal(said.length, 12);
  assert.ok(!seen.events.some((event) => event.type === "error"), "no line was dropped");
  await client.quit();
});

Deno.test("ChatClient: a server that speaks only text lines is shown as text", async () => {
  const controller = new AbortController();
  const plain = serveTcp(async (conn) => {
    await conn.write(new TextEncoder().encode("Welcome to a plain chat\n<user5> hi \x1b[31mthere\n"));
    await conn.read(new Uint8Array(1024)); // our /format json; then the server hangs up
  }, { hostname: "127.0.0.1", port: 0, signal: controller.signal });
  const lines: string[] = [];
  const client = await ChatClient.connect(plain.addr, {
    negotiateMs: 100,
    onEvent: () => {},
    onText: (line) => lines.push(line),
  });
  await client.welcomed;
  const end = await client.ended;
  assert.deepEqual(lines, ["Welcome to a plain chat", "<user5> hi there"]);
  assert.equal(end.byClient, false);
  assert.match(end.message, /^the connection to 127\.0\.0\.1:\d+ was closed by the server$/);
  controller.abort();
  await plain.finished;
});

Deno.test("ChatClient: connection refused is a clear error", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await assert.rejects(
    ChatClient.connect({ hostname: "127.0.0.1", port }, { onEvent: () => {} }),
    (error: Error) =>
      error instanceof Deno.errors.ConnectionRefused &&
      error.message === `Cannot connect to 127.0.0.1:${port}: connection refused`,
  );
});

Deno.test("chatScripted: sends the lines, waits for their echo, leaves at a quit word", async () => {
  await using server = startChat();
  const watcher = await LineClient.connect(server.address);
  const printed: string[] = [];
  const input = ReadableStream.from([new TextEncoder().encode("one\r\ntwo\n/me three\nbye\nnever sent\n")]);
  const end = await chatScripted(server.address, { nick: "bot", input, print: (line) => printed.push(line) });
  assert.equal(end.byClient, true);
  const plain = printed.map((line) => line.replace(/^\d\d:\d\d:\d\d /, ""));
  assert.deepEqual(plain.filter((line) => /^(<bot>|\* bot)/.test(line)), ["<bot> one", "<bot> two", "* bot three"]);
  assert.equal(plain.at(-1), "<- bot left (quit), 1 online");
  await watcher.waitFor(/<- bot left \(quit\)/);
  assert.ok(!watcher.lines.some((line) => line.includes("never sent")));
  await watcher.close();
});
