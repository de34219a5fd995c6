import assert from "node:assert/strict";
import {
  type ChatEvent,
  cleanLine,
  clock,
  EncodedEvent,
  formatJson,
  formatText,
  MAX_NICK_LENGTH,
  nickKey,
  nickProblem,
  parseEvent,
  parseInput,
} from "../../lib/chat/protocol.ts";

const T = Date.UTC(2024, 0, 2, 3, 4, 5);
const HMS = clock(T);

Deno.test("parseInput: messages, commands and quit words", () => {
  assert.deepEqual(parseInput("hello there"), { kind: "message", text: "hello there" });
  assert.deepEqual(parseInput("  indented  "), { kind: "message", text: "  indented" });
  assert.deepEqual(parseInput("   "), { kind: "empty" });
  assert.deepEqual(parseInput("//etc/passwd is a path"), { kind: "message", text: "/etc/passwd is a path" });
  assert.deepEqual(parseInput("/nick alice"), { kind: "nick", nick: "alice" });
  assert.deepEqual(parseInput("/NICK"), { kind: "invalid", error: "usage: /nick NAME" });
  assert.deepEqual(parseInput("/who"), { kind: "who" });
  assert.deepEqual(parseInput("/msg bob  hi  there"), { kind: "private", to: "bob", text: "hi  there" });
  assert.deepEqual(parseInput("/msg bob"), { kind: "invalid", error: "usage: /msg NAME TEXT" });
  assert.deepEqual(parseInput("/me waves"), { kind: "action", text: "waves" });
  assert.deepEqual(parseInput("/help"), { kind: "help" });
  assert.deepEqual(parseInput("/version"), { kind: "version" });
  assert.deepEqual(parseInput("/echo a b"), { kind: "echo", text: "a b" });
  assert.deepEqual(parseInput("/format JSON"), { kind: "format", format: "json" });
  assert.equal(parseInput("/format xml").kind, "invalid");
  assert.deepEqual(parseInput("/quit gone fishing"), { kind: "quit", reason: "gone fishing" });
  assert.deepEqual(parseInput("/quit"), { kind: "quit" });
  for (const word of ["quit", "exit", "bye", "byebye", "BYE", " quit ", "{quit}"]) {
    assert.deepEqual(parseInput(word), { kind: "quit" }, word);
  }
  assert.deepEqual(parseInput("quit now"), { kind: "message", text: "quit now" });
  assert.match((parseInput("/frob x") as { error: string }).error, /unknown command \/frob/);
});

Deno.test("nickProblem: length, characters, reserved name", () => {
  for (const good of ["alice", "Bob_2", "a.b-c", "José", "小明", "x".repeat(MAX_NICK_LENGTH)]) {
    assert.equal(nickProblem(good), undefined, good);
  }
  assert.match(nickProblem("")!, /at least one/);
  assert.match(nickProblem("x".repeat(MAX_NICK_LENGTH + 1))!, /at most 32/);
  for (const bad of ["al ice", "a\x1b[31m", "<bob>", "a*b", "tab\there", "a/b", "-x\u202e", "\u0301x"]) {
    assert.match(nickProblem(bad)!, /only letters/, JSON.stringify(bad));
  }
  assert.match(nickProblem("server")!, /reserved/);
  assert.match(nickProblem("SERVER")!, /reserved/);
});

Deno.test("nickKey: case and width fold together", () => {
  assert.equal(nickKey("Alice"), nickKey("alice"));
  assert.equal(nickKey("ＡＬＩＣＥ"), nickKey("alice"));
  assert.notEqual(nickKey("alice"), nickKey("alice2"));
});

Deno.test("cleanLine: escape sequences and controls are removed", () => {
  assert.equal(cleanLine("hi\x1b[2J\x1b]0;pwned\x07 there\r  "), "hi there");
  assert.equal(cleanLine("a\tb\x00c\u202ed"), "a bcd");
});

Deno.test("formatText: every event kind", () => {
  const cases: [ChatEvent, string][] = [
    [{ type: "message", time: T, seq: 1, from: "alice", text: "hello" }, `${HMS} <alice> hello`],
    [{ type: "action", time: T, seq: 2, from: "alice", text: "waves" }, `${HMS} * alice waves`],
    [{ type: "private", time: T, from: "alice", to: "bob", text: "psst" }, `${HMS} [alice -> bob] psst`],
    [
      { type: "join", time: T, seq: 3, nick: "bob", address: "10.0.0.2:5000", online: 2 },
      `${HMS} -> bob joined from 10.0.0.2:5000, 2 online`,
    ],
    [
      { type: "leave", time: T, seq: 4, nick: "bob", reason: "kicked", detail: "spam", online: 1 },
      `${HMS} <- bob left (kicked: spam), 1 online`,
    ],
    [
      { type: "leave", time: T, seq: 4, nick: "bob", reason: "quit", online: 1 },
      `${HMS} <- bob left (quit), 1 online`,
    ],
    [{ type: "nick", time: T, seq: 5, from: "guest1", nick: "carol" }, `${HMS} -- guest1 is now known as carol`],
    [{ type: "info", time: T, text: "a\nb" }, `${HMS} -- a\n${HMS} -- b`],
    [{ type: "echo", time: T, text: "ping" }, `${HMS} -- ping`],
    [{ type: "error", time: T, text: "no" }, `${HMS} !! no`],
    [
      {
        type: "who",
        time: T,
        members: [{ nick: "al", address: "1.2.3.4:5", idleMs: 61_000 }, {
          nick: "bobby",
          address: "[::1]:6",
          idleMs: 0,
        }],
      },
      `${HMS} -- 2 online:\n${HMS} --   al     1.2.3.4:5  idle 1m\n${HMS} --   bobby  [::1]:6  idle 0s`,
    ],
  ];
  for (const [event, expected] of cases) assert.equal(formatText(event), expected);
  const welcome = formatText({
    type: "welcome",
    time: T,
    nick: "guest3",
    online: 3,
    version: "1.2.3",
    history: 0,
    limits: { maxLineBytes: 4096, rate: 10, burst: 30, maxNickLength: 32 },
  }, { time: false });
  assert.match(welcome, /^-- welcome to wirebox chat 1\.2\.3: you are guest3, 3 online\./);
});

Deno.test("formatText: style decorates nicks and markers", () => {
  const style = (text: string, role: string) => `[${role}:${text}]`;
  const line = formatText({ type: "message", time: T, seq: 1, from: "al", text: "x" }, { style });
  assert.equal(line, `[time:${HMS}] <[nick:al]> x`);
});

Deno.test("formatJson and parseEvent round-trip every kind", () => {
  const events: ChatEvent[] = [
    { type: "message", time: T, seq: 1, from: "alice", text: 'hi "there"' },
    { type: "action", time: T, seq: 2, from: "alice", text: "waves" },
    { type: "private", time: T, from: "a", to: "b", text: "x" },
    { type: "join", time: T, seq: 3, nick: "b", address: "1.2.3.4:5", online: 2 },
    { type: "leave", time: T, seq: 4, nick: "b", reason: "too slow", online: 1 },
    { type: "leave", time: T, seq: 4, nick: "b", reason: "quit", detail: "bye all", online: 1 },
    { type: "nick", time: T, seq: 5, from: "a", nick: "c" },
    {
      type: "welcome",
      time: T,
      nick: "c",
      online: 1,
      version: "0.1.0",
      history: 2,
      limits: { maxLineBytes: 4096, rate: 10, burst: 30, maxNickLength: 32 },
    },
    { type: "who", time: T, members: [{ nick: "c", address: "x", idleMs: 5 }] },
    { type: "info", time: T, text: "one\ntwo" },
    { type: "echo", time: T, text: "token" },
    { type: "error", time: T, text: "bad" },
  ];
  for (const event of events) {
    const json = formatJson(event);
    assert.ok(!json.includes("\n"));
    assert.equal(JSON.parse(json).time, "2024-01-02T03:04:05.000Z");
    assert.deepEqual(parseEvent(json), event);
  }
});

Deno.test("parseEvent: rejects non-events and cleans hostile strings", () => {
  for (const line of ["", "12:00:00 <a> hi", "{", "[]", "null", '{"type":"nope"}', '"x"']) {
    assert.equal(parseEvent(line), undefined, line);
  }
  const hostile = parseEvent('{"type":"message","time":"bad","from":"a\\u001b[2J","text":"x\\u001b]0;t\\u0007y"}');
  assert.deepEqual(hostile, { type: "message", time: 0, seq: 0, from: "a", text: "xy" });
  const leave = parseEvent('{"type":"leave","nick":"a","reason":"made up","online":1}');
  assert.equal(leave?.type === "leave" && leave.reason, "connection lost");
});

Deno.test("EncodedEvent: each format is encoded once and shared", () => {
  const encoded = new EncodedEvent({ type: "message", time: T, seq: 1, from: "a", text: "é" });
  assert.equal(encoded.text, encoded.text);
  assert.equal(encoded.bytes("json"), encoded.json);
  assert.equal(new TextDecoder().decode(encoded.text), `${HMS} <a> é\n`);
  assert.ok(new TextDecoder().decode(encoded.json).endsWith("}\n"));
});

Deno.test("nickProblem: letters that draw nothing are refused, so nobody can pose as another", () => {
  for (const nick of ["alice\u034f", "alice\ufe0f", "\u3164", "al\u200bice"]) {
    assert.notEqual(nickProblem(nick), undefined, JSON.stringify(nick));
  }
});

Deno.test("nickKey: case pairs that lowercasing alone misses are one nick", () => {
  for (const [a, b] of [["STRASSE", "straße"], ["ΟΔΥΣΣΕΥΣ", "οδυσσευσ"], ["straẞe", "straße"], ["J\u030coe", "ǰoe"]]) {
    assert.equal(nickKey(a), nickKey(b), `${a} / ${b}`);
  }
  assert.notEqual(nickKey("alice"), nickKey("alicia"));
  for (const nick of ["Straße", "ΟΔΥΣΣΕΥΣ", "ǰoe", "İstanbul"]) assert.equal(nickKey(nickKey(nick)), nickKey(nick));
});

Deno.test("cleanLine: a lone surrogate (a web client's JSON can carry one) becomes U+FFFD", () => {
  assert.equal(cleanLine("lone \ud800 surrogate"), "lone \ufffd surrogate");
  assert.equal(cleanLine("pair \ud83d\ude00 kept"), "pair \ud83d\ude00 kept");
});
