import assert from "node:assert/strict";
import { consoleCommand, runConsole } from "../../lib/chat/console.ts";
import type { LeaveReason } from "../../lib/chat/protocol.ts";
import { ChatRoom, type Member } from "../../lib/chat/room.ts";

function member(address: string) {
  const lines: string[] = [];
  let closed: LeaveReason | undefined;
  const value: Member = {
    address,
    deliver: (bytes) => lines.push(new TextDecoder().decode(bytes).trimEnd()) > 0,
    close: (reason) => void (closed = reason),
  };
  return { value, lines, closed: () => closed };
}

Deno.test("consoleCommand: say, who, msg, kick, help, quit, mistakes", () => {
  const room = new ChatRoom();
  const alice = member("10.0.0.1:1");
  room.join(alice.value)!.receive("/nick alice");
  assert.deepEqual(consoleCommand(room, "hello everyone"), []);
  assert.match(alice.lines.at(-1)!, / <server> hello everyone$/);
  assert.deepEqual(consoleCommand(room, "//not a command"), []);
  assert.match(alice.lines.at(-1)!, / <server> \/not a command$/);
  const who = consoleCommand(room, "/who");
  assert.ok(Array.isArray(who));
  assert.equal(who[0], "-- 1 online:");
  assert.match(who[1], /^-- {3}alice {2}10\.0\.0\.1:1 {2}idle \d+s$/);
  assert.deepEqual(consoleCommand(room, "/msg alice hi you"), []);
  assert.match(alice.lines.at(-1)!, / \[server -> alice\] hi you$/);
  assert.deepEqual(consoleCommand(room, "/msg bob hi"), ['nobody here is called "bob"']);
  assert.deepEqual(consoleCommand(room, "/msg alice"), ["usage: /msg NAME TEXT"]);
  assert.deepEqual(consoleCommand(room, "/kick"), ["usage: /kick NAME [REASON]"]);
  assert.ok((consoleCommand(room, "/help") as string[]).some((line) => line.includes("/kick NAME")));
  assert.deepEqual(consoleCommand(room, "/frob"), ["unknown console command /frob: /help lists them"]);
  assert.deepEqual(consoleCommand(room, "/kick alice  be nice"), []);
  assert.equal(alice.closed(), "kicked");
  assert.match(alice.lines.at(-1)!, /<- alice left \(kicked: be nice\)/);
  assert.equal(consoleCommand(room, "/quit"), "quit");
  room.close();
});

Deno.test("runConsole: reads lines until /quit, printing replies", async () => {
  const room = new ChatRoom();
  const printed: string[] = [];
  let quit = false;
  const input = ReadableStream.from([new TextEncoder().encode("/who\n" + "x".repeat(5000) + "\n/quit\n/who\n")]);
  await runConsole(room, { input, print: (line) => printed.push(line), onQuit: () => quit = true });
  assert.ok(quit);
  assert.deepEqual(printed, ["-- 0 online:", "console: line too long, ignored"]);
  room.close();
});

Deno.test("runConsole: the end of input leaves the server running; abort stops reading", async () => {
  const room = new ChatRoom();
  let quit = false;
  await runConsole(room, { input: ReadableStream.from([]), print: () => {}, onQuit: () => quit = true });
  assert.equal(quit, false);
  const controller = new AbortController();
  const never = new ReadableStream<Uint8Array>({ pull: () => new Promise(() => {}) });
  const running = runConsole(room, { input: never, print: () => {}, onQuit: () => {}, signal: controller.signal });
  controller.abort();
  await running;
  room.close();
});
