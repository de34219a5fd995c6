/**
 * A small line editor for a terminal in raw mode: keys in, actions out, and
 * the input line rendered so that it can be redrawn under text printed
 * above it. Pure: no terminal access, so it is tested without one.
 *
 * @module
 */

/** What a key press asks of the program. */
export type EditorAction =
  | { kind: "submit"; line: string }
  | { kind: "eof" }
  | { kind: "interrupt" }
  | { kind: "clear" };

/** Options for {@linkcode LineEditor}. */
export interface LineEditorOptions {
  /** Submitted lines remembered for the up and down keys.
   * @default {100} */
  historySize?: number;
}

const KEYS: Record<string, string> = {
  "\x1b[A": "up",
  "\x1bOA": "up",
  "\x1b[B": "down",
  "\x1bOB": "down",
  "\x1b[C": "right",
  "\x1bOC": "right",
  "\x1b[D": "left",
  "\x1bOD": "left",
  "\x1b[H": "home",
  "\x1bOH": "home",
  "\x1b[1~": "home",
  "\x1b[7~": "home",
  "\x1b[F": "end",
  "\x1bOF": "end",
  "\x1b[4~": "end",
  "\x1b[8~": "end",
  "\x1b[3~": "delete",
  "\x1b[1;5C": "word-right",
  "\x1b[1;5D": "word-left",
  "\x1bf": "word-right",
  "\x1bb": "word-left",
  "\x01": "home",
  "\x02": "left",
  "\x03": "interrupt",
  "\x04": "eof-or-delete",
  "\x05": "end",
  "\x06": "right",
  "\x08": "backspace",
  "\x7f": "backspace",
  "\x0b": "kill-end",
  "\x0c": "clear",
  "\x0e": "down",
  "\x10": "up",
  "\x15": "kill-start",
  "\x17": "kill-word",
  "\r": "submit",
  "\n": "submit",
  "\t": "tab",
};

// A complete escape sequence: CSI (parameters, final byte), SS3 (one letter), or Alt+key.
// deno-lint-ignore no-control-regex
const ESCAPE = /^\x1b(?:\[[0-?]*[ -/]*[@-~]|O[A-Za-z]|[^[O])/;
// An escape sequence cut off at the end of a chunk.
// deno-lint-ignore no-control-regex
const PARTIAL_ESCAPE = /^\x1b(?:\[[0-?]*[ -/]*|O)?$/;
// deno-lint-ignore no-control-regex
const SGR = /\x1b\[[0-9;]*m/g;

/**
 * Columns a character takes on a terminal: 0 for combining marks and
 * zero-width characters, 2 for East Asian wide characters and most emoji, 1 otherwise.
 *
 * @example Usage
 * ```ts
 * import { charWidth } from "./line_editor.ts";
 * charWidth("a"); // 1
 * charWidth("你"); // 2
 * ```
 */
export function charWidth(char: string): number {
  if (/^[\p{M}\u200b-\u200f\ufe00-\ufe0f]$/u.test(char)) return 0;
  const wide =
    /^[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{1f300}-\u{1f64f}\u{1f900}-\u{1f9ff}\u{20000}-\u{3fffd}]$/u;
  return wide.test(char) ? 2 : 1;
}

/**
 * Columns `text` takes on a terminal, ignoring colour codes.
 *
 * @example Usage
 * ```ts
 * import { textWidth } from "./line_editor.ts";
 * textWidth("\x1b[36malice\x1b[0m> "); // 7
 * ```
 */
export function textWidth(text: string): number {
  let width = 0;
  for (const char of text.replace(SGR, "")) width += charWidth(char);
  return width;
}

/**
 * The input line being typed: insert, delete, move by character or word,
 * kill to either end, recall earlier lines. Feed it decoded key input;
 * it returns what the program should do (submit a line, end, ...).
 *
 * @example Usage
 * ```ts
 * import { LineEditor } from "./line_editor.ts";
 * const editor = new LineEditor();
 * editor.feed("helo\x1b[D\x1b[Dl"); // [] (typed "helo", moved left twice, inserted "l")
 * editor.line; // "hello"
 * editor.feed("\r"); // [{ kind: "submit", line: "hello" }]
 * ```
 */
export class LineEditor {
  #chars: string[] = [];
  #cursor = 0;
  #history: string[] = [];
  #historySize: number;
  #recall = 0;
  #draft: string[] = [];
  #pending = "";
  #lastWasCr = false;

  constructor(options: LineEditorOptions = {}) {
    this.#historySize = options.historySize ?? 100;
  }

  /** The line as typed so far. */
  get line(): string {
    return this.#chars.join("");
  }

  /** The cursor's position, in characters from the start of the line. */
  get cursor(): number {
    return this.#cursor;
  }

  /** Handles typed input (possibly several keys, or an escape sequence split across calls). */
  feed(input: string): EditorAction[] {
    const actions: EditorAction[] = [];
    let rest = this.#pending + input;
    this.#pending = "";
    while (rest.length > 0) {
      let key: string;
      if (rest[0] === "\x1b") {
        const match = ESCAPE.exec(rest);
        if (!match) {
          if (PARTIAL_ESCAPE.test(rest)) {
            this.#pending = rest;
            break;
          }
          key = "\x1b";
        } else {
          key = match[0];
        }
      } else {
        key = String.fromCodePoint(rest.codePointAt(0)!);
      }
      rest = rest.slice(key.length);
      // CR LF (a pasted Windows line) is one Enter, not two.
      const crlf = key === "\n" && this.#lastWasCr;
      this.#lastWasCr = key === "\r";
      if (crlf) continue;
      const action = this.#key(key);
      if (action) actions.push(action);
    }
    return actions;
  }

  /**
   * The input line for the terminal: return to column 0, clear the line,
   * the prompt and as much of the line as fits in `columns` (scrolled to
   * keep the cursor visible), and the cursor put where it belongs.
   */
  render(prompt: string, columns: number): string {
    const room = Math.max(4, columns - textWidth(prompt) - 1);
    const widths = this.#chars.map(charWidth);
    let start = 0;
    let before = widths.slice(0, this.#cursor).reduce((sum, width) => sum + width, 0);
    while (before > room - 1 && start < this.#cursor) before -= widths[start++];
    let end = start;
    let used = 0;
    while (end < this.#chars.length && used + widths[end] <= room) used += widths[end++];
    const after = widths.slice(this.#cursor, end).reduce((sum, width) => sum + width, 0);
    const back = after > 0 ? `\x1b[${after}D` : "";
    return `\r\x1b[2K${prompt}${this.#chars.slice(start, end).join("")}${back}`;
  }

  #key(key: string): EditorAction | undefined {
    const name = KEYS[key];
    switch (name) {
      case "submit": {
        const line = this.line;
        this.#remember(line);
        this.#set([]);
        return { kind: "submit", line };
      }
      case "interrupt":
        return { kind: "interrupt" };
      case "eof-or-delete":
        if (this.#chars.length === 0) return { kind: "eof" };
        this.#chars.splice(this.#cursor, 1);
        return;
      case "clear":
        return { kind: "clear" };
      case "backspace":
        if (this.#cursor > 0) this.#chars.splice(--this.#cursor, 1);
        return;
      case "delete":
        this.#chars.splice(this.#cursor, 1);
        return;
      case "left":
        this.#cursor = Math.max(0, this.#cursor - 1);
        return;
      case "right":
        this.#cursor = Math.min(this.#chars.length, this.#cursor + 1);
        return;
      case "home":
        this.#cursor = 0;
        return;
      case "end":
        this.#cursor = this.#chars.length;
        return;
      case "word-left":
        this.#cursor = this.#wordStart();
        return;
      case "word-right":
        while (this.#cursor < this.#chars.length && this.#chars[this.#cursor] === " ") this.#cursor++;
        while (this.#cursor < this.#chars.length && this.#chars[this.#cursor] !== " ") this.#cursor++;
        return;
      case "kill-end":
        this.#chars.splice(this.#cursor);
        return;
      case "kill-start":
        this.#chars.splice(0, this.#cursor);
        this.#cursor = 0;
        return;
      case "kill-word": {
        const start = this.#wordStart();
        this.#chars.splice(start, this.#cursor - start);
        this.#cursor = start;
        return;
      }
      case "up":
        this.#browse(-1);
        return;
      case "down":
        this.#browse(1);
        return;
      case "tab":
        this.#insert(" ");
        return;
    }
    // Any other control character or unknown escape sequence is ignored.
    // deno-lint-ignore no-control-regex
    if (key.length > 0 && !/^[\x00-\x1f\x7f-\x9f]/.test(key)) this.#insert(key);
  }

  #insert(char: string): void {
    this.#chars.splice(this.#cursor++, 0, char);
  }

  #wordStart(): number {
    let at = this.#cursor;
    while (at > 0 && this.#chars[at - 1] === " ") at--;
    while (at > 0 && this.#chars[at - 1] !== " ") at--;
    return at;
  }

  #remember(line: string): void {
    if (line.trim() !== "" && this.#history.at(-1) !== line) this.#history.push(line);
    if (this.#history.length > this.#historySize) this.#history.shift();
    this.#recall = this.#history.length;
  }

  #browse(step: number): void {
    const next = this.#recall + step;
    if (next < 0 || next > this.#history.length) return;
    if (this.#recall === this.#history.length) this.#draft = this.#chars;
    this.#recall = next;
    this.#set(next === this.#history.length ? this.#draft : [...this.#history[next]]);
  }

  #set(chars: string[]): void {
    this.#chars = [...chars];
    this.#cursor = this.#chars.length;
  }
}
