import assert from "node:assert/strict";
import { type ChatServerOptions, serveChat } from "../../lib/chat/server.ts";
import { CONTENT_SECURITY_POLICY } from "../../lib/chat/web_assets.ts";
import { writeAll } from "../../lib/net/io.ts";
import { LineClient } from "../_helpers/line_client.ts";
import { waitUntil } from "../_helpers/wait.ts";
import { WsClient } from "../_helpers/ws_client.ts";

/** A chat server with its web page, both on free loopback ports, stopped by `await using`. */
function startChat(options: ChatServerOptions = {}) {
  const controller = new AbortController();
  const chat = serveChat({ hostname: "127.0.0.1", port: 0, webPort: 0, signal: controller.signal, ...options });
  const webPort = chat.web!.addr.port;
  return {
    chat,
    webPort,
    url: `http://127.0.0.1:${webPort}`,
    controller,
    async tcp(): Promise<LineClient> {
      const client = await LineClient.connect(chat.tcp.addr);
      await client.waitFor(/ -- welcome to wirebox chat/);
      return client;
    },
    web(nick?: string): Promise<WsClient> {
      return WsClient.join(webPort, { nick });
    },
    async [Symbol.asyncDispose]() {
      controller.abort();
      await chat.finished;
    },
  };
}

Deno.test("web chat: web and TCP clients are in one room: messages both ways, joins, history, private messages", async () => {
  await using server = startChat();
  const tcp = await server.tcp();
  await tcp.send("/nick carol\nfrom before\n");
  await tcp.waitFor(/ <carol> from before$/);
  const alice = await server.web("alice");
  assert.equal(alice.nick, "alice");
  const welcome = alice.events[0];
  assert.equal(welcome.type, "welcome");
  assert.equal(welcome.history, 1);
  assert.deepEqual(welcome.limits, { maxLineBytes: 4096, rate: 10, burst: 30, maxNickLength: 32 });
  await alice.waitForText("from before"); // the history
  await tcp.waitFor(/ -> alice joined from 127\.0\.0\.1:\d+ \(web\), 2 online$/);

  alice.say("hello from the browser");
  await tcp.waitFor(/ <alice> hello from the browser$/);
  await tcp.send("hello from the terminal\n");
  const message = await alice.waitForText("hello from the terminal");
  assert.equal(message.from, "carol");
  assert.match(String(message.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

  alice.say("/msg carol psst");
  await tcp.waitFor(/ \[alice -> carol\] psst$/);
  await alice.waitFor((event) => event.type === "private" && event.text === "psst" && event.to === "carol");
  alice.say("/me waves");
  await tcp.waitFor(/ \* alice waves$/);

  const bob = await server.web();
  assert.match(bob.nick, /^guest\d+$/);
  bob.say("/nick bob");
  await alice.waitFor((event) => event.type === "nick" && event.nick === "bob");
  await tcp.waitFor(/ -- guest\d+ is now known as bob$/);
  bob.say("/who");
  const who = await bob.waitFor((event) => event.type === "who");
  const members = who.members as { nick: string; address: string }[];
  assert.deepEqual(members.map((member) => member.nick), ["alice", "bob", "carol"]);
  assert.match(members[0].address, /^127\.0\.0\.1:\d+ \(web\)$/);
  assert.deepEqual([...alice.garbage, ...bob.garbage], [], "every frame is whole JSON lines");

  await bob.close();
  await alice.waitFor((event) => event.type === "leave" && event.nick === "bob");
  await tcp.waitFor(/ <- bob left \(connection lost: closed by the client\), 2 online$/);
  await Promise.all([alice.close(), tcp.close()]);
});

Deno.test("web chat: the room's rules hold for web clients: nicks, escapes, line length, several lines a frame", async () => {
  await using server = startChat({ maxLineBytes: 100 });
  const tcp = await server.tcp();
  await tcp.send("/nick alice\n");
  await tcp.waitFor(/is now known as alice/);
  const web = await server.web("ALICE");
  assert.match(web.nick, /^guest\d+$/, "a nick taken on TCP is taken for the web too");
  await web.waitForError(/^the nick "ALICE" is taken: choose another$/);

  web.say("\x1b]0;pwned\x07\x1b[2Jclean\x1b[31m text\u202e");
  await tcp.waitFor(/ <guest\d+> clean text$/);
  assert.ok(!tcp.lines.some((line) => line.includes("\x1b")));

  web.say("é".repeat(51)); // 102 bytes: over the line limit, under the frame limit
  await web.waitForError(/^line too long: at most 100 bytes; it was not sent$/);
  web.say("/format text");
  await web.waitForError(/^\/format is not available over the WebSocket: it always carries JSON events$/);
  web.say("still JSON");
  await web.waitForText("still JSON");
  web.say("one\ntwo\r\nthree\n");
  await tcp.waitFor(/ <guest\d+> three$/);
  const said = tcp.lines.filter((line) => /<guest\d+> (one|two|three)$/.test(line)).map((line) =>
    line.split(" ").at(-1)
  );
  assert.deepEqual(said, ["one", "two", "three"]);
  assert.ok(!tcp.lines.some((line) => line.includes("éé")));
  await Promise.all([web.close(), tcp.close()]);
});

Deno.test("web chat: malformed frames get an error and the connection carries on; a flood of them disconnects", async () => {
  await using server = startChat({ rate: 5, burst: 5 });
  const web = await server.web("mallory");
  const other = await server.web("olive");
  web.send("not json at all");
  await web.waitForError(/^malformed frame: not JSON; send objects like \{"type":"line","text":"hello"\}$/);
  web.send("[1,2,3]");
  await web.waitForError(/not a JSON object/);
  web.send('{"type":"shout","text":"x"}');
  await web.waitForError(/^unknown frame type "shout"/);
  web.send(new TextEncoder().encode('{"type":"line","text":"binary frames are fine"}'));
  await other.waitForText("binary frames are fine");
  web.send(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])); // invalid UTF-8, then not JSON
  await web.waitForError(/not JSON/);
  assert.equal(web.closeInfo, undefined, "still connected");

  for (let i = 0; i < 20; i++) web.send(`garbage ${i}`);
  const closed = await web.waitClosed();
  assert.deepEqual(closed, { code: 1008, reason: "flooding" });
  await other.waitFor((event) => event.type === "leave" && event.nick === "mallory" && event.reason === "flooding");
  await other.close();
});

Deno.test("web chat: an oversize frame is answered with an error and the connection closed (1009)", async () => {
  await using server = startChat({ maxLineBytes: 1000, maxFrameBytes: 4096 });
  const web = await server.web("big");
  const tcp = await server.tcp();
  web.say("x".repeat(3000)); // a frame under the limit, a line over it: refused, connection kept
  await web.waitForError(/^line too long: at most 1000 bytes/);
  web.send(JSON.stringify({ type: "line", text: "y".repeat(5000) }));
  await web.waitForError(/^frame too large: at most 4096 bytes \(lines at most 1000\); closing$/);
  assert.deepEqual(await web.waitClosed(), { code: 1009, reason: "frame too large" });
  await tcp.waitFor(/<- big left \(connection lost: sent a frame over 4096 bytes\), 1 online$/);
  assert.ok(!tcp.lines.some((line) => line.includes("yyy")));
  // Binary frames are measured the same way.
  const binary = await server.web("bin");
  binary.send(new Uint8Array(4097));
  assert.equal((await binary.waitClosed()).code, 1009);
  // Text frames are measured in UTF-8 bytes: 1366 three-byte characters are 4098 bytes in 1366 UTF-16 units.
  const wide = await server.web("wide");
  wide.send(`{"type":"line","text":"${"日".repeat(1362)}"}`);
  assert.equal((await wide.waitClosed()).code, 1009);
  await tcp.close();
});

Deno.test("web chat: the rate limit applies to web clients as to TCP ones", async () => {
  await using server = startChat({ rate: 2, burst: 3 });
  const web = await server.web("fast");
  const tcp = await server.tcp();
  for (let i = 0; i < 5; i++) web.say(`line ${i}`);
  await web.waitForError(/^slow down: at most 2 lines a second \(3 at once\)/);
  await tcp.waitFor(/ <fast> line 2$/);
  for (let i = 5; i < 12; i++) web.say(`line ${i}`);
  assert.deepEqual(await web.waitClosed(), { code: 1008, reason: "flooding" });
  await tcp.waitFor(/<- fast left \(flooding\), 1 online$/);
  const said = tcp.lines.filter((line) => / <fast> line \d+$/.test(line));
  assert.deepEqual(said.map((line) => line.split(" ").at(-1)), ["0", "1", "2"]);
  await tcp.close();
});

Deno.test("web chat: --origin: other sites' pages are refused (403) unless listed; the page's own and programs without Origin may connect", async () => {
  {
    await using server = startChat();
    const own = await WsClient.join(server.webPort, { headers: { origin: server.url } });
    await assert.rejects(WsClient.connect(server.webPort, { headers: { origin: "https://evil.example" } }));
    const response = await fetch(`${server.url}/ws`, {
      headers: {
        origin: "https://evil.example",
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        "sec-websocket-version": "13",
      },
    });
    assert.equal(response.status, 403);
    assert.equal(await response.text(), "Origin https://evil.example may not open this chat.\n");
    assert.equal(server.chat.room.size, 1, "the refused page never joined");
    await own.close();
  }
  {
    await using server = startChat({ origins: ["https://intranet.example"] });
    const listed = await WsClient.join(server.webPort, { headers: { origin: "https://intranet.example" } });
    // The list adds to the page's own address; other sites stay out.
    const own = await WsClient.join(server.webPort, { headers: { origin: server.url } });
    await assert.rejects(WsClient.connect(server.webPort, { headers: { origin: "https://evil.example" } }));
    const program = await WsClient.join(server.webPort);
    await Promise.all([listed.close(), own.close(), program.close()]);
  }
});

Deno.test("web chat: the page, its script and styles are served with a CSP that forbids inline script", async () => {
  await using server = startChat();
  const page = await fetch(`${server.url}/`);
  assert.equal(page.status, 200);
  assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
  const csp = page.headers.get("content-security-policy")!;
  assert.equal(csp, CONTENT_SECURITY_POLICY);
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.equal(page.headers.get("x-content-type-options"), "nosniff");
  assert.equal(page.headers.get("x-frame-options"), "DENY");
  assert.equal(page.headers.get("referrer-policy"), "no-referrer");
  const html = await page.text();
  assert.match(html, /<script type="module" src="\/app\.js"><\/script>/);
  assert.doesNotMatch(html.replace(/<script[^>]*src=[^>]*><\/script>/g, ""), /<script/, "no inline script");
  assert.doesNotMatch(html, /https?:\/\//, "nothing from elsewhere (no CDN)");

  const script = await fetch(`${server.url}/app.js`);
  assert.equal(script.headers.get("content-type"), "text/javascript; charset=utf-8");
  const code = await script.text();
  assert.doesNotMatch(code, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
  const css = await fetch(`${server.url}/app.css`);
  assert.equal(css.headers.get("content-type"), "text/css; charset=utf-8");
  await css.body?.cancel();

  const etag = page.headers.get("etag")!;
  const again = await fetch(`${server.url}/`, { headers: { "if-none-match": etag } });
  assert.equal(again.status, 304);
  await again.body?.cancel();
  const head = await fetch(`${server.url}/`, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-length"), `${new TextEncoder().encode(html).length}`, "a GET's length");
  assert.equal(await head.text(), "");
  const healthHead = await fetch(`${server.url}/healthz`, { method: "HEAD" });
  assert.ok(Number(healthHead.headers.get("content-length")) > 2, "a GET's length");
  await healthHead.body?.cancel();
});

Deno.test("web chat: /healthz, unknown paths, wrong methods and a plain GET of the socket are answered plainly", async () => {
  await using server = startChat();
  const web = await server.web("h");
  const health = await fetch(`${server.url}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(health.headers.get("content-type"), "application/json; charset=utf-8");
  const body = await health.json();
  assert.equal(body.status, "ok");
  assert.equal(body.online, 1);
  assert.equal(body.web, 1);
  assert.match(body.version, /^\d+\.\d+\.\d+/);
  const missing = await fetch(`${server.url}/nope`);
  assert.equal(missing.status, 404);
  assert.equal(await missing.text(), "Not found: /nope. The chat is at /.\n");
  const post = await fetch(`${server.url}/`, { method: "POST", body: "x" });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD");
  await post.body?.cancel();
  const plain = await fetch(`${server.url}/ws`);
  assert.equal(plain.status, 426);
  assert.match(await plain.text(), /WebSocket endpoint/);
  await web.close();
});

Deno.test("web chat: a web client that stops reading is dropped as too slow; the others carry on", async () => {
  await using server = startChat({ rate: 0, maxQueueBytes: 64 * 1024 });
  // A WebSocket client that completes the handshake and then never reads.
  const stuck = await Deno.connect({ hostname: "127.0.0.1", port: server.webPort });
  await writeAll(
    stuck,
    new TextEncoder().encode(
      "GET /ws?nick=stuck HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ),
  );
  await waitUntil(() => server.chat.room.who().some((member) => member.nick === "stuck"), "the stuck client to join");
  const reader = await server.web("reader");
  const tcp = await server.tcp();
  const line = "z".repeat(4000) + "\n";
  let sent = 0;
  while (!tcp.lines.some((text) => text.includes("stuck left (too slow)")) && sent < 8000) {
    await tcp.send(line.repeat(20));
    sent += 20;
    await tcp.waitForCount(/ <guest\d+> z+$/, sent, 10_000);
  }
  await tcp.waitFor(/<- stuck left \(too slow\), 2 online/);
  await reader.waitFor((event) => event.type === "leave" && event.nick === "stuck" && event.reason === "too slow");
  await tcp.send("still flowing\n");
  await reader.waitForText("still flowing");
  assert.equal(
    reader.events.filter((event) => event.type === "message" && String(event.text).startsWith("zzz")).length,
    sent,
  );
  stuck.close();
  await Promise.all([reader.close(), tcp.close()]);
});

Deno.test("web chat: a room that outpaces its readers, web and TCP, slows the senders instead of dropping readers", async () => {
  // A tiny queue: without the shared backpressure every reader would overflow and be dropped.
  await using server = startChat({ rate: 0, maxQueueBytes: 4096 });
  const tcp = await Promise.all(Array.from({ length: 3 }, () => server.tcp()));
  const web = await Promise.all(Array.from({ length: 2 }, (_, index) => server.web(`web${index}`)));
  const perClient = 300;
  await Promise.all(
    tcp.map((client, index) =>
      client.send(Array.from({ length: perClient }, (_, i) => `flood t${index} ${i} ${"x".repeat(40)}\n`).join(""))
    ),
  );
  web.forEach((client, index) => {
    // Half the lines one frame each, half in frames of ten lines.
    for (let i = 0; i < perClient / 2; i++) client.say(`flood w${index} ${i} ${"x".repeat(40)}`);
    for (let i = perClient / 2; i < perClient; i += 10) {
      client.say(Array.from({ length: 10 }, (_, k) => `flood w${index} ${i + k} ${"x".repeat(40)}`).join("\n"));
    }
  });
  const total = (tcp.length + web.length) * perClient;
  await Promise.all(tcp.map((client) => client.waitForCount(/ <\S+> flood /, total, 30_000)));
  for (const client of web) {
    await waitUntil(
      () => client.events.filter((event) => String(event.text).startsWith("flood ")).length >= total,
      `all ${total} lines at a web client`,
      30_000,
    );
    // Each sender's lines arrive in order.
    const own = client.events.filter((event) => String(event.text).startsWith("flood w0 "));
    assert.deepEqual(own.map((event) => Number(String(event.text).split(" ")[2])), [...Array(perClient).keys()]);
  }
  for (const client of tcp) assert.ok(!client.lines.some((line) => line.includes("too slow")), client.tail());
  assert.ok(!web.some((client) => client.events.some((event) => event.type === "leave")));
  assert.equal(server.chat.room.size, 5);
  await Promise.all([...tcp, ...web].map((client) => client.close()));
});

Deno.test("web chat: a full server tells the next page so and closes with 'try again later' (1013)", async () => {
  await using server = startChat({ maxClients: 1 });
  const first = await server.web("first");
  const second = await WsClient.connect(server.webPort);
  await second.waitForError(/^the server is full \(1 client\): try again later$/);
  assert.deepEqual(await second.waitClosed(), { code: 1013, reason: "server full" });
  assert.equal(server.chat.room.size, 1);
  await first.close();
});

Deno.test("web chat: stopping the server tells web clients why and closes them with 1001", async () => {
  const server = startChat();
  const web = await server.web("w");
  const tcp = await server.tcp();
  server.controller.abort();
  await web.waitFor((event) => event.type === "leave" && event.nick === "w" && event.reason === "server stopping");
  assert.deepEqual(await web.waitClosed(), { code: 1001, reason: "server stopping" });
  await tcp.waitClosed();
  await server.chat.finished;
  await tcp.close();
  const refused = await fetch(server.url).then(() => "answered", () => "refused");
  assert.equal(refused, "refused");
});

Deno.test("web chat: a silent web client is dropped after the idle timeout and told why", async () => {
  await using server = startChat({ idleTimeoutMs: 150 });
  const web = await server.web("quiet");
  await web.waitFor((event) => event.type === "leave" && event.nick === "quiet" && event.reason === "idle timeout");
  assert.deepEqual(await web.waitClosed(), { code: 1000, reason: "idle timeout" });
  assert.equal(server.chat.room.size, 0);
});

Deno.test("web chat: over IPv6, with the page's own origin", async () => {
  await using server = startChat({ hostname: "::1" });
  assert.deepEqual(server.chat.endpoints.map((endpoint) => endpoint.replace(/\d+$/, "N")), [
    "tcp://[::1]:N",
    "http://[::1]:N",
  ]);
  const origin = `http://[::1]:${server.webPort}`;
  const web = await WsClient.join(server.webPort, { host: "[::1]", nick: "six", headers: { origin } });
  assert.equal(web.nick, "six");
  assert.match(server.chat.room.who()[0].address, /^\[::1\]:\d+ \(web\)$/);
  await web.close();
});

Deno.test("web chat: the web port cannot be bound: the error names it, and the TCP side is released", () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = taken.addr.port;
    assert.throws(
      () => serveChat({ hostname: "127.0.0.1", port: 0, webPort: port }),
      (error: Error) => {
        assert.ok(error instanceof Deno.errors.AddrInUse);
        assert.equal(error.message, `Cannot bind to tcp 127.0.0.1:${port}: address already in use`);
        return true;
      },
    );
  } finally {
    taken.close();
  }
});

Deno.test("web chat: an upgrade without a key is a bad request; a refused origin reaches the log escaped", async () => {
  const logs: string[] = [];
  await using server = startChat({ log: (line) => logs.push(line) });
  const upgrade = { upgrade: "websocket", connection: "Upgrade", "sec-websocket-version": "13" };
  const keyless = await fetch(`${server.url}/ws`, { headers: upgrade });
  assert.equal(keyless.status, 400);
  await keyless.body?.cancel();
  const hostile = await fetch(`${server.url}/ws`, {
    headers: { ...upgrade, "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", origin: "http://evil\x9b2J" },
  });
  assert.equal(hostile.status, 403);
  await hostile.body?.cancel();
  const refused = logs.find((line) => line.includes("refused: origin"));
  assert.ok(refused, logs.join("\n"));
  assert.doesNotMatch(refused, /[\u0080-\u009f]/);
});
