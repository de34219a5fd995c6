import assert from "node:assert/strict";
import { type ChatEvent, type LeaveReason, parseEvent } from "../../lib/chat/protocol.ts";
import { ChatRoom, type Member, type Session } from "../../lib/chat/room.ts";

const decoder = new TextDecoder();

/** A member that keeps what it is sent; `limit` makes it overflow after that many deliveries. */
class FakeMember implements Member {
  readonly address: string;
  readonly received: string[] = [];
  closedWith: LeaveReason | undefined;
  limit = Infinity;

  constructor(address = "127.0.0.1:1000") {
    this.address = address;
  }

  deliver(bytes: Uint8Array): boolean {
    if (this.received.length >= this.limit) return false;
    this.received.push(...decoder.decode(bytes).split("\n").filter(Boolean));
    return true;
  }

  close(reason: LeaveReason): void {
    assert.equal(this.closedWith, undefined, "closed twice");
    this.closedWith = reason;
  }

  /** The lines received, without their time stamps. */
  get lines(): string[] {
    return this.received.map((line) => line.replace(/^\d\d:\d\d:\d\d /, ""));
  }

  events(): ChatEvent[] {
    return this.received.map((line) => parseEvent(line)).filter((event) => event !== undefined);
  }
}

function seat(room: ChatRoom, address?: string): { member: FakeMember; session: Session } {
  const member = new FakeMember(address);
  const session = room.join(member);
  assert.ok(session);
  return { member, session };
}

Deno.test("room: join gives a guest nick, a welcome, and tells everyone", () => {
  const room = new ChatRoom({ rate: 0 });
  const a = seat(room, "10.0.0.1:1");
  const b = seat(room, "10.0.0.2:2");
  assert.equal(a.session.nick, "guest1");
  assert.equal(b.session.nick, "guest2");
  assert.match(a.member.lines[0], /^-- welcome to wirebox chat .*: you are guest1, 1 online/);
  assert.deepEqual(a.member.lines.slice(1), [
    "-> guest1 joined from 10.0.0.1:1, 1 online",
    "-> guest2 joined from 10.0.0.2:2, 2 online",
  ]);
  assert.equal(room.size, 2);
  room.close();
});

Deno.test("room: every message reaches everyone, sender included, in order", () => {
  const room = new ChatRoom({ rate: 0 });
  const members = [seat(room), seat(room), seat(room)];
  for (let i = 0; i < 5; i++) for (const { session } of members) session.receive(`m${i} from ${session.nick}`);
  for (const { member } of members) {
    const said = member.lines.filter((line) => line.startsWith("<"));
    assert.equal(said.length, 15);
    for (const { session } of members) {
      const own = said.filter((line) => line.startsWith(`<${session.nick}>`));
      assert.deepEqual(own, [0, 1, 2, 3, 4].map((i) => `<${session.nick}> m${i} from ${session.nick}`));
    }
  }
  room.close();
});

Deno.test("room: history is replayed to a newcomer, bounded", () => {
  const room = new ChatRoom({ rate: 0, historySize: 3 });
  const a = seat(room);
  for (const text of ["one", "two", "/me three", "four"]) a.session.receive(text);
  a.session.receive("/msg guest1 private things stay out of history");
  const b = seat(room);
  assert.deepEqual(b.member.lines.slice(1, 4), ["<guest1> two", "* guest1 three", "<guest1> four"]);
  assert.equal(b.member.events().length, 0);
  room.close();
});

Deno.test("room: nick rules (unique case-insensitively, bounded, clean, server reserved)", () => {
  const room = new ChatRoom({ rate: 0 });
  const a = seat(room);
  const b = seat(room);
  a.session.receive("/nick Alice");
  assert.equal(a.session.nick, "Alice");
  assert.equal(b.member.lines.at(-1), "-- guest1 is now known as Alice");
  b.session.receive("/nick alice");
  assert.equal(b.member.lines.at(-1), '!! the nick "alice" is taken: choose another');
  b.session.receive("/nick ＡＬＩＣＥ");
  assert.match(b.member.lines.at(-1)!, /is taken/);
  b.session.receive("/nick Server");
  assert.match(b.member.lines.at(-1)!, /reserved/);
  b.session.receive(`/nick ${"x".repeat(33)}`);
  assert.match(b.member.lines.at(-1)!, /at most 32 characters/);
  b.session.receive("/nick bad\x1b[31mnick"); // the line is cleaned before it is read
  assert.equal(b.session.nick, "badnick");
  b.session.receive("/nick two words");
  assert.match(b.member.lines.at(-1)!, /only letters/);
  a.session.receive("/nick ALICE"); // changing the case of one's own nick is allowed
  assert.equal(a.session.nick, "ALICE");
  a.session.receive("/nick ALICE");
  assert.equal(a.member.lines.at(-1), "-- you are ALICE already");
  room.close();
});

Deno.test("room: a guest number already taken as a nick is skipped", () => {
  const room = new ChatRoom({ rate: 0 });
  const a = seat(room);
  a.session.receive("/nick guest2");
  const b = seat(room);
  assert.equal(b.session.nick, "guest3");
  room.close();
});

Deno.test("room: private messages, /who, /help, /version, /echo, unknown commands", () => {
  const room = new ChatRoom({ rate: 0, version: "9.9.9" });
  const a = seat(room, "10.0.0.1:1");
  const b = seat(room, "10.0.0.2:2");
  const c = seat(room);
  a.session.receive("/msg GUEST2 psst");
  assert.equal(a.member.lines.at(-1), "[guest1 -> guest2] psst");
  assert.equal(b.member.lines.at(-1), "[guest1 -> guest2] psst");
  assert.ok(!c.member.lines.some((line) => line.includes("psst")));
  a.session.receive("/msg nobody hi");
  assert.match(a.member.lines.at(-1)!, /nobody here is called "nobody"/);
  const before = b.member.received.length;
  a.session.receive("/who");
  assert.equal(b.member.received.length, before, "/who is answered to the sender only");
  assert.deepEqual(a.member.lines.slice(-4).map((line) => line.replace(/idle \w+/, "idle")), [
    "-- 3 online:",
    "--   guest1  10.0.0.1:1  idle",
    "--   guest2  10.0.0.2:2  idle",
    "--   guest3  127.0.0.1:1000  idle",
  ]);
  a.session.receive("/version");
  assert.equal(a.member.lines.at(-1), "-- wirebox 9.9.9");
  a.session.receive("/echo ping 1");
  assert.equal(a.member.lines.at(-1), "-- ping 1");
  a.session.receive("/help");
  assert.ok(a.member.lines.some((line) => line.includes("/msg NAME TEXT")));
  a.session.receive("/bogus");
  assert.equal(a.member.lines.at(-1), "!! unknown command /bogus: /help lists the commands");
  assert.ok(!b.member.lines.some((line) => line.includes("bogus")));
  room.close();
});

Deno.test("room: quit words and /quit leave with notices; later lines are ignored", () => {
  const room = new ChatRoom({ rate: 0 });
  const a = seat(room);
  const b = seat(room);
  a.session.receive("/quit gone fishing");
  assert.equal(a.member.closedWith, "quit");
  assert.equal(a.member.lines.at(-1), "<- guest1 left (quit: gone fishing), 1 online");
  assert.equal(b.member.lines.at(-1), "<- guest1 left (quit: gone fishing), 1 online");
  a.session.receive("still here?");
  assert.ok(!b.member.lines.some((line) => line.includes("still here")));
  for (const word of ["exit", "bye", "byebye", "QUIT"]) {
    const c = seat(room);
    c.session.receive(word);
    assert.equal(c.member.closedWith, "quit", word);
  }
  assert.equal(room.size, 1);
  room.close();
});

Deno.test("room: control characters and escape sequences never reach others", () => {
  const room = new ChatRoom({ rate: 0 });
  const a = seat(room);
  const b = seat(room);
  a.session.receive("hi\x1b[2J\x1b[H\x1b]0;owned\x07 all\x00\x7f\u202e!");
  assert.equal(b.member.lines.at(-1), "<guest1> hi all!");
  a.session.receive("\x1b[31m\x1b[0m"); // nothing left: not sent
  assert.equal(b.member.lines.at(-1), "<guest1> hi all!");
  room.close();
});

Deno.test("room: an overlong line is refused to its sender only", () => {
  const room = new ChatRoom({ rate: 0 });
  const a = seat(room);
  const b = seat(room);
  a.session.receive({ overlong: true, maxLineBytes: 4096 });
  assert.equal(a.member.lines.at(-1), "!! line too long: at most 4096 bytes; it was not sent");
  assert.equal(b.member.lines.at(-1), "-> guest2 joined from 127.0.0.1:1000, 2 online");
  room.close();
});

Deno.test("room: a flooder is warned, its excess dropped, then disconnected", () => {
  const room = new ChatRoom({ rate: 1, burst: 5 });
  const a = seat(room);
  const b = seat(room);
  for (let i = 0; i < 5; i++) a.session.receive(`line ${i}`);
  a.session.receive("one too many");
  assert.match(a.member.lines.at(-1)!, /^!! slow down: at most 1 lines a second \(5 at once\)/);
  assert.ok(!b.member.lines.some((line) => line.includes("one too many")));
  assert.equal(a.member.closedWith, undefined);
  for (let i = 0; i < 5; i++) a.session.receive(`more ${i}`);
  assert.equal(a.member.closedWith, "flooding");
  assert.equal(b.member.lines.at(-1), "<- guest1 left (flooding), 1 online");
  room.close();
});

Deno.test("room: a member whose queue overflows is dropped as too slow, the others carry on", () => {
  const room = new ChatRoom({ rate: 0 });
  const slow = seat(room);
  const a = seat(room);
  const b = seat(room);
  slow.member.limit = slow.member.received.length + 2;
  for (let i = 0; i < 10; i++) a.session.receive(`msg ${i}`);
  assert.equal(slow.member.closedWith, "too slow");
  assert.ok(slow.session.left);
  assert.equal(b.member.lines.filter((line) => line.startsWith("<guest2> msg")).length, 10);
  assert.ok(b.member.lines.includes("<- guest1 left (too slow), 2 online"));
  room.close();
});

Deno.test("room: operator say, tell, kick and who", () => {
  const room = new ChatRoom({ rate: 0 });
  const a = seat(room);
  const b = seat(room);
  room.say("maintenance at noon\x1b[5m");
  assert.equal(b.member.lines.at(-1), "<server> maintenance at noon");
  assert.ok(room.tell("guest1", "just you"));
  assert.equal(a.member.lines.at(-1), "[server -> guest1] just you");
  assert.ok(!room.tell("nobody", "x"));
  assert.deepEqual(room.who().map((entry) => entry.nick), ["guest1", "guest2"]);
  assert.ok(room.kick("GUEST1", "spamming"));
  assert.equal(a.member.closedWith, "kicked");
  assert.equal(a.member.lines.at(-1), "<- guest1 left (kicked: spamming), 1 online");
  assert.equal(b.member.lines.at(-1), "<- guest1 left (kicked: spamming), 1 online");
  assert.ok(!room.kick("guest1"));
  room.close();
});

Deno.test("room: /format json switches one member to JSON lines with a fresh welcome and history", () => {
  const room = new ChatRoom({ rate: 7, burst: 9 });
  const a = seat(room);
  const b = seat(room);
  a.session.receive("before");
  b.session.receive("/format json");
  assert.equal(b.session.format, "json");
  const events = b.member.events();
  assert.equal(events[0].type, "welcome");
  assert.deepEqual(events[0].type === "welcome" && events[0].limits, {
    maxLineBytes: 4096,
    rate: 7,
    burst: 9,
    maxNickLength: 32,
  });
  assert.equal(events[0].type === "welcome" && events[0].history, 1);
  assert.equal(events[1].type === "message" && events[1].text, "before");
  a.session.receive("after");
  const last = b.member.events().at(-1);
  assert.equal(last?.type === "message" && last.text, "after");
  assert.equal(a.member.lines.at(-1), "<guest1> after");
  room.close();
});

Deno.test("room: a transport can seat a member in JSON from the start", () => {
  const room = new ChatRoom({ rate: 0 });
  const text = seat(room);
  text.session.receive("earlier");
  const member = new FakeMember("web 10.0.0.9");
  const session = room.join(member, { format: "json" })!;
  assert.equal(session.format, "json");
  assert.deepEqual(member.events().map((event) => event.type), ["welcome", "message", "join"]);
  assert.equal(member.received.length, 3, "nothing in text first");
  room.close();
});

Deno.test("room: close tells every member and refuses newcomers", () => {
  const events: string[] = [];
  const room = new ChatRoom({ rate: 0, onEvent: (event) => events.push(event.event.type) });
  const a = seat(room);
  const b = seat(room);
  room.close();
  assert.equal(a.member.closedWith, "server stopping");
  assert.equal(b.member.closedWith, "server stopping");
  assert.match(a.member.lines.at(-1)!, /^<- guest1 left \(server stopping\)/);
  assert.equal(room.join(new FakeMember()), undefined);
  assert.deepEqual(events, ["join", "join", "leave", "leave"]);
});

Deno.test("room: an idle member is dropped after the idle timeout", async () => {
  const room = new ChatRoom({ rate: 0, idleTimeoutMs: 50 });
  const a = seat(room);
  const left = Promise.withResolvers<void>();
  const close = a.member.close.bind(a.member);
  a.member.close = (reason) => {
    close(reason);
    left.resolve();
  };
  await left.promise;
  assert.equal(a.member.closedWith, "idle timeout");
  assert.match(a.member.lines.at(-1)!, /left \(idle timeout: nothing sent for/);
  room.close();
});

Deno.test("room: a transport can seat a member under the nick it asked for; a taken or invalid one falls back to a guest", () => {
  const room = new ChatRoom({ rate: 0 });
  const alice = new FakeMember();
  assert.equal(room.join(alice, { nick: "alice" })!.nick, "alice");
  assert.match(alice.lines[0], /you are alice, 1 online/);
  assert.equal(alice.lines[1], "-> alice joined from 127.0.0.1:1000, 1 online");
  const taken = new FakeMember();
  assert.equal(room.join(taken, { nick: "ALICE" })!.nick, "guest1");
  assert.equal(taken.lines[1], '!! the nick "ALICE" is taken: choose another');
  const invalid = new FakeMember();
  assert.equal(room.join(invalid, { nick: "two words" })!.nick, "guest2");
  assert.equal(invalid.lines[1], '!! cannot take the nick "two words": a nick has only letters, digits, _ - and .');
  const escaped = new FakeMember();
  assert.equal(room.join(escaped, { nick: "b\x1b[31mob" })!.nick, "bob", "cleaned as a /nick line is");
  room.close();
});
