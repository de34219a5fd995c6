import assert from "node:assert/strict";
import { charWidth, LineEditor, textWidth } from "../../lib/chat/line_editor.ts";

Deno.test("LineEditor: typing, moving and deleting", () => {
  const editor = new LineEditor();
  assert.deepEqual(editor.feed("helo"), []);
  editor.feed("\x1b[D"); // left
  editor.feed("l");
  assert.equal(editor.line, "hello");
  editor.feed("\x01X\x05!"); // home, X, end, !
  assert.equal(editor.line, "Xhello!");
  editor.feed("\x7f\x7f"); // two backspaces
  assert.equal(editor.line, "Xhell");
  editor.feed("\x1b[H\x1b[3~"); // home, delete
  assert.equal(editor.line, "hell");
  editor.feed("\x05 world\x17"); // end, then ctrl-w kills "world"
  assert.equal(editor.line, "hell ");
  editor.feed("\x15"); // ctrl-u kills to start
  assert.equal(editor.line, "");
  editor.feed("one two\x1b[1;5D\x0b"); // ctrl-left, ctrl-k
  assert.equal(editor.line, "one ");
  editor.feed("\tx");
  assert.equal(editor.line, "one  x");
});

Deno.test("LineEditor: submit, CRLF counts once, history", () => {
  const editor = new LineEditor();
  assert.deepEqual(editor.feed("first\r\nsecond\r"), [
    { kind: "submit", line: "first" },
    { kind: "submit", line: "second" },
  ]);
  assert.equal(editor.line, "");
  editor.feed("draft");
  editor.feed("\x1b[A");
  assert.equal(editor.line, "second");
  editor.feed("\x1b[A\x1b[A");
  assert.equal(editor.line, "first");
  editor.feed("\x1b[B\x1b[B");
  assert.equal(editor.line, "draft");
});

Deno.test("LineEditor: Ctrl-D leaves only on an empty line; Ctrl-C and Ctrl-L", () => {
  const editor = new LineEditor();
  editor.feed("ab\x02"); // ctrl-b: left
  assert.deepEqual(editor.feed("\x04"), []);
  assert.equal(editor.line, "a");
  editor.feed("\x7f");
  assert.deepEqual(editor.feed("\x04"), [{ kind: "eof" }]);
  assert.deepEqual(editor.feed("\x03\x0c"), [{ kind: "interrupt" }, { kind: "clear" }]);
});

Deno.test("LineEditor: an escape sequence split across reads; unknown ones ignored", () => {
  const editor = new LineEditor();
  editor.feed("ab");
  assert.deepEqual(editor.feed("\x1b["), []);
  editor.feed("D");
  assert.equal(editor.cursor, 1);
  editor.feed("\x1b[15~\x1b[200~"); // F5 and paste-start: ignored
  assert.equal(editor.line, "ab");
  editor.feed("\x00\x1f");
  assert.equal(editor.line, "ab");
});

Deno.test("LineEditor: render scrolls to keep the cursor visible", () => {
  const editor = new LineEditor();
  editor.feed("short");
  assert.equal(editor.render("> ", 80), "\r\x1b[2K> short");
  editor.feed("\x1b[D\x1b[D");
  assert.equal(editor.render("> ", 80), "\r\x1b[2K> short\x1b[2D");
  const long = new LineEditor();
  long.feed("x".repeat(100));
  const shown = long.render("> ", 20);
  assert.ok(shown.startsWith("\r\x1b[2K> "));
  const visible = shown.slice("\r\x1b[2K> ".length);
  assert.ok(textWidth(visible) <= 17, visible);
  long.feed("\x01");
  // deno-lint-ignore no-control-regex
  assert.match(long.render("> ", 20), /^\r\x1b\[2K> x+\x1b\[\d+D$/);
});

Deno.test("charWidth and textWidth: wide, combining and colour codes", () => {
  assert.equal(charWidth("a"), 1);
  assert.equal(charWidth("你"), 2);
  assert.equal(charWidth("\u0301"), 0);
  assert.equal(textWidth("\x1b[38;5;39malice\x1b[0m> "), 7);
  const editor = new LineEditor();
  editor.feed("你好\x1b[D");
  assert.equal(editor.render("", 80), "\r\x1b[2K你好\x1b[2D");
});
