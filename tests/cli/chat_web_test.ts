import assert from "node:assert/strict";
import { endpointsOf, runCli, startCli, startServer } from "../_helpers/cli.ts";
import { LineClient } from "../_helpers/line_client.ts";
import { WsClient } from "../_helpers/ws_client.ts";

const SERVE = ["chat", "serve", "--host", "127.0.0.1", "--port", "0", "--no-console"];

Deno.test("cli chat: serve --web-port announces the page; a browser's socket and a TCP client talk; SIGTERM exits 0", async () => {
  const { server, endpoints } = await startServer([...SERVE, "--web-port", "0"]);
  await using _ = server;
  assert.match(server.stdout[0], /^chat listening on tcp:\/\/127\.0\.0\.1:\d+ http:\/\/127\.0\.0\.1:\d+$/);
  const page = await fetch(`http://127.0.0.1:${endpoints.http.port}/`);
  assert.match(await page.text(), /<title>wirebox chat<\/title>/);
  const tcp = await LineClient.connect(endpoints.tcp);
  await tcp.waitFor(/you are guest1/);
  const web = await WsClient.join(endpoints.http.port, { nick: "alice" });
  await tcp.waitFor(/ -> alice joined from 127\.0\.0\.1:\d+ \(web\), 2 online$/);
  await server.waitFor(/ chat: -> alice joined from 127\.0\.0\.1:\d+ \(web\), 2 online$/);
  web.say("hi from the page");
  await tcp.waitFor(/ <alice> hi from the page$/);
  await tcp.send("hi from nc\n");
  await web.waitForText("hi from nc");
  const stopped = server.stop("SIGTERM");
  await web.waitFor((event) => event.type === "leave" && event.reason === "server stopping");
  assert.equal((await web.waitClosed()).code, 1001);
  const result = await stopped;
  assert.equal(result.code, 0);
  assert.equal(result.stderr, "");
  await tcp.close();
});

Deno.test("cli chat: a web port in use is one clear line, exit 1; --origin mistakes are usage errors", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const busy = await runCli([...SERVE, "--web-port", String(taken.addr.port)]);
    assert.equal(busy.code, 1);
    assert.equal(busy.stdout, "");
    assert.match(
      busy.stderr,
      new RegExp(`^wirebox: Cannot bind to tcp 127\\.0\\.0\\.1:${taken.addr.port}: address already in use\\n`),
    );
  } finally {
    taken.close();
  }
  const bad = await runCli([...SERVE, "--web-port", "0", "--origin", "chat.lan:8080"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^wirebox: invalid --origin "chat\.lan:8080": expected http:\/\/HOST\[:PORT\]/);
  const alone = await runCli([...SERVE, "--origin", "http://chat.lan"]);
  assert.equal(alone.code, 2);
  assert.match(alone.stderr, /^wirebox: --origin needs --web-port/);
  const port = await runCli([...SERVE, "--web-port", "http"]);
  assert.equal(port.code, 2);
  assert.match(port.stderr, /^wirebox: invalid --web-port "http"/);
});

Deno.test("cli chat: --origin lets the listed sites' pages in besides the page's own, and no others", async () => {
  const { server, endpoints } = await startServer([
    ...SERVE,
    "--web-port",
    "0",
    "--origin",
    "https://Intranet.example/",
    "--origin",
    "http://chat.lan:8080",
  ]);
  await using _ = server;
  const port = endpoints.http.port;
  const listed = await WsClient.join(port, { headers: { origin: "https://intranet.example" } });
  const other = await WsClient.join(port, { headers: { origin: "http://chat.lan:8080" } });
  const own = await WsClient.join(port, { headers: { origin: `http://127.0.0.1:${port}` } });
  await assert.rejects(WsClient.connect(port, { headers: { origin: "https://evil.example" } }));
  await server.waitFor(/ chat: 127\.0\.0\.1:\d+ \(web\) refused: origin https:\/\/evil\.example is not allowed/);
  await Promise.all([listed.close(), other.close(), own.close()]);
  assert.equal((await server.stop("SIGTERM")).code, 0);
});

Deno.test("cli serve: starts the chat's web page too, on its own port (--web-port), and says where", async () => {
  const data = await Deno.makeTempDir();
  try {
    await using server = await startCli([
      "serve",
      "--any-port",
      "--host",
      "127.0.0.1",
      "--data",
      data,
      "--only",
      "chat",
    ]);
    const { http } = endpointsOf(server.stdout[0]);
    assert.ok(http, server.stdout[0]);
    const line = await server.waitFor(/^ {2}chat {5}tcp:/);
    assert.match(line, new RegExp(`http://127\\.0\\.0\\.1:${http.port} .*or a browser at http://HOST:${http.port}/`));
    const health = await fetch(`http://127.0.0.1:${http.port}/healthz`);
    assert.equal((await health.json()).status, "ok");
    assert.equal((await server.stop("SIGTERM")).code, 0);
  } finally {
    await Deno.remove(data, { recursive: true });
  }
  const help = await runCli(["serve", "--help"]);
  assert.match(help.stdout, /^ {2}--web-port PORT {10}port of the chat's web page \(default 8080\)$/m);
});
