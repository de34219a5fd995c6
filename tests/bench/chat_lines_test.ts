import assert from "node:assert/strict";
import { LineScanner } from "../../scripts/bench/chat_lines.ts";

type Seen = { runs: [number, number, number][]; others: string[] };

/** Feeds `text` to a new scanner in chunks of `size` bytes; returns what it reported. */
function scan(text: string, size: number, before = ""): Seen {
  const seen: Seen = { runs: [], others: [] };
  const scanner = new LineScanner("0badcafe", before);
  const bytes = new TextEncoder().encode(text);
  for (let start = 0; start < bytes.length; start += size) {
    scanner.push(
      bytes.slice(start, start + size),
      (sender, seq, sent) => seen.runs.push([sender, seq, sent]),
      (line) => seen.others.push(new TextDecoder().decode(line)),
    );
  }
  return seen;
}

Deno.test("LineScanner: a run's lines are read wherever the token stands, however the bytes are cut", () => {
  const text = "12:00:00 <guest1> m 0badcafe.7 3 1700000000000.250 xxxx\n" + // wirebox
    "<user2> m 0badcafe.12 0 1700000000001.5 xx\n" + // ncat, first line of a chunk
    "m 0badcafe.0 41 1700000000002 x\r\n" + // ncat, the rest; no fraction; CR LF
    "12:00:01 -- guest3 joined from 127.0.0.1:4000, 3 online\r\n" +
    "m 0badcafe.1 2 17 x\n";
  for (const size of [1, 2, 7, 64, text.length]) {
    const { runs, others } = scan(text, size);
    assert.deepEqual(runs, [[7, 3, 1700000000000.25], [12, 0, 1700000000001.5], [0, 41, 1700000000002], [1, 2, 17]]);
    assert.deepEqual(others, ["12:00:01 -- guest3 joined from 127.0.0.1:4000, 3 online"]);
  }
});

Deno.test("LineScanner: with `before`, only a line whose token follows it is the run's", () => {
  const text = ":w0badcafe1!bench@127.0.0.1 PRIVMSG #bench :m 0badcafe.1 5 100.125 xxx\r\n" +
    ":server 404 w0badcafe2 #bench :m 0badcafe.2 6 100.5 xxx\r\n" +
    "PING :server\r\n";
  const { runs, others } = scan(text, 5, "PRIVMSG #bench :");
  assert.deepEqual(runs, [[1, 5, 100.125]]);
  assert.deepEqual(others, [":server 404 w0badcafe2 #bench :m 0badcafe.2 6 100.5 xxx", "PING :server"]);
});

Deno.test("LineScanner: malformed, foreign and overlong lines are not the run's", () => {
  const overlong = "m 0badcafe.1 1 1 " + "x".repeat(70_000) + "\n";
  const text = "m 0badcafe.x 1 2 xx\n" + "m 0badcafe.1 1 2\n" + "m 12345678.1 1 2 xx\n" + overlong +
    "m 0badcafe.4 4 4 after\n";
  const { runs, others } = scan(text, 4096);
  assert.deepEqual(runs, [[4, 4, 4]]);
  assert.deepEqual(others, ["m 0badcafe.x 1 2 xx", "m 0badcafe.1 1 2", "m 12345678.1 1 2 xx", ""]);
});
