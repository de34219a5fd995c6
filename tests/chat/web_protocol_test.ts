import assert from "node:assert/strict";
import { fitsUtf8, normalizeOrigin, originAllowed, parseClientFrame } from "../../lib/chat/web_protocol.ts";

Deno.test("web protocol: a line frame becomes the lines a TCP client would have sent", () => {
  assert.deepEqual(parseClientFrame('{"type":"line","text":"hello"}', 100), { kind: "lines", lines: ["hello"] });
  assert.deepEqual(parseClientFrame('{"type":"line","text":"/nick alice","extra":1}', 100), {
    kind: "lines",
    lines: ["/nick alice"],
  });
  assert.deepEqual(parseClientFrame('{"type":"line","text":"a\\nb\\r\\nc\\n"}', 100), {
    kind: "lines",
    lines: ["a", "b", "c"],
  });
  assert.deepEqual(parseClientFrame('{"type":"line","text":""}', 100), { kind: "lines", lines: [""] });
  assert.deepEqual(parseClientFrame('{"type":"line","text":"\\n"}', 100), { kind: "lines", lines: [""] });
});

Deno.test("web protocol: a line over the limit (in UTF-8 bytes) is marked overlong, as the TCP framer does", () => {
  const exact = "é".repeat(50); // 100 bytes
  assert.deepEqual(parseClientFrame(JSON.stringify({ type: "line", text: exact }), 100), {
    kind: "lines",
    lines: [exact],
  });
  const over = JSON.stringify({ type: "line", text: `ok\n${"é".repeat(51)}\nafter` });
  assert.deepEqual(parseClientFrame(over, 100), {
    kind: "lines",
    lines: ["ok", { overlong: true, maxLineBytes: 100 }, "after"],
  });
});

Deno.test("web protocol: malformed frames are refused with a reason, never thrown", () => {
  const error = (frame: string) => {
    const parsed = parseClientFrame(frame, 100);
    assert.equal(parsed.kind, "invalid", frame);
    return parsed.kind === "invalid" ? parsed.error : "";
  };
  assert.match(error("hello"), /^malformed frame: not JSON; send objects like \{"type":"line","text":"hello"\}$/);
  assert.match(error('{"type":"line","text":"unterminated'), /not JSON/);
  assert.match(error("[1,2]"), /not a JSON object/);
  assert.match(error("null"), /not a JSON object/);
  assert.match(error('"a string"'), /not a JSON object/);
  assert.match(error('{"type":"say","text":"x"}'), /^unknown frame type "say": the only type is "line"/);
  assert.match(error('{"text":"x"}'), /unknown frame type missing/);
  assert.match(error('{"type":"line","text":42}'), /"text" must be a string/);
  assert.match(error('{"type":"line"}'), /"text" must be a string/);
  assert.match(error(`{"type":"${"x".repeat(500)}"}`), /^unknown frame type "x{40}":/, "a long type is cut short");
});

Deno.test("web protocol: fitsUtf8 agrees with the encoder at every cap", () => {
  assert.equal(fitsUtf8("", 0), true);
  assert.equal(fitsUtf8("héllo", 6), true);
  assert.equal(fitsUtf8("héllo", 5), false);
  assert.equal(fitsUtf8("😀", 4), true, "a surrogate pair is one four-byte code point");
  assert.equal(fitsUtf8("😀", 3), false);
  assert.equal(fitsUtf8("\ud800x", 4), true, "a lone surrogate is sent as U+FFFD, three bytes");
  assert.equal(fitsUtf8("\ud800x", 3), false);
  for (const text of ["a".repeat(20), "é".repeat(20), "日".repeat(20), "😀".repeat(20), "aé日😀".repeat(5)]) {
    const real = new TextEncoder().encode(text).length;
    for (let cap = 0; cap <= 90; cap++) {
      assert.equal(fitsUtf8(text, cap), real <= cap, `${text.slice(0, 4)} cap ${cap}`);
    }
  }
});

Deno.test("web protocol: origins are normalized as browsers send them; bad ones are refused with a reason", () => {
  assert.equal(normalizeOrigin("HTTP://Chat.LAN:80/"), "http://chat.lan");
  assert.equal(normalizeOrigin("https://chat.lan:8443"), "https://chat.lan:8443");
  assert.equal(normalizeOrigin("http://[::1]:8080"), "http://[::1]:8080");
  assert.equal(normalizeOrigin(" * "), "*");
  assert.throws(() => normalizeOrigin("chat.lan:8080"), /Invalid origin "chat\.lan:8080": expected http:\/\/HOST/);
  assert.throws(() => normalizeOrigin("ftp://chat.lan"), /expected http/);
  assert.throws(() => normalizeOrigin("http://chat.lan/chat"), /no path, query or user/);
  assert.throws(() => normalizeOrigin("http://u@chat.lan"), /no path, query or user/);
});

Deno.test("web protocol: by default only the page's own host may open the socket; a list or * widens that", () => {
  assert.equal(originAllowed(null, "10.0.0.1:8080", []), true, "no Origin: a program, not a page");
  assert.equal(originAllowed("http://10.0.0.1:8080", "10.0.0.1:8080", []), true);
  assert.equal(originAllowed("http://CHAT.lan:8080", "chat.lan:8080", []), true);
  assert.equal(originAllowed("http://10.0.0.1:80", "10.0.0.1", []), true, "the default port is implied");
  assert.equal(originAllowed("http://10.0.0.1:9000", "10.0.0.1:8080", []), false, "another port is another origin");
  assert.equal(originAllowed("https://evil.example", "10.0.0.1:8080", []), false);
  assert.equal(originAllowed("null", "10.0.0.1:8080", []), false, "a sandboxed frame or a file");
  assert.equal(originAllowed("http://10.0.0.1:8080", null, []), false, "no Host to compare with");
  const list = ["http://chat.lan:8080", "https://intranet.example"];
  assert.equal(originAllowed("https://intranet.example", "10.0.0.1:8080", list), true);
  assert.equal(originAllowed("HTTPS://INTRANET.example:443", "10.0.0.1:8080", list), true);
  assert.equal(originAllowed("http://10.0.0.1:8080", "10.0.0.1:8080", list), true, "a list adds to the page's own");
  assert.equal(originAllowed("http://10.0.0.2:8080", "10.0.0.1:8080", list), false, "and to nothing else");
  assert.equal(originAllowed("https://anything.example", "10.0.0.1:8080", ["*"]), true);
});
