/**
 * Defences for text that came from the network and is about to reach a
 * terminal: escape sequences and control characters could otherwise repaint
 * or hijack the screen of whoever reads it.
 *
 * @module
 */

// ESC-introduced sequences: CSI (ESC [ ... final), OSC/DCS/PM/APC/SOS strings
// (ended by BEL or ESC \), and two-character escapes.
// deno-lint-ignore no-control-regex
const ESCAPE_SEQUENCE = /\x1b(?:\[[0-?]*[ -/]*[@-~]?|[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?|[ -/]*[0-~]?)/g;
// C0 and C1 controls, DEL, and the bidirectional overrides that can make text
// display differently from what it says ("Trojan Source").
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Removes terminal escape sequences, control characters and bidi overrides
 * from one line of text; tabs become spaces.
 *
 * @example Usage
 * ```ts
 * import { stripControls } from "./sanitize.ts";
 * stripControls("hi\x1b[2J\x1b]0;pwned\x07 there\r"); // "hi there"
 * ```
 */
export function stripControls(text: string): string {
  return text.replace(ESCAPE_SEQUENCE, "").replace(CONTROL, "").replaceAll("\t", " ");
}

/**
 * Makes control characters visible (`\x1b`, `\r`...) while keeping line
 * breaks and tabs, for showing untrusted bytes on a terminal as they are.
 *
 * @example Usage
 * ```ts
 * import { escapeControls } from "./sanitize.ts";
 * escapeControls("a\x1b[31mb\n"); // "a\\x1b[31mb\n"
 * ```
 */
export function escapeControls(text: string): string {
  return text.replace(
    // deno-lint-ignore no-control-regex
    /[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (c) => {
      if (c === "\r") return "\\r";
      const code = c.charCodeAt(0);
      return code > 0xff ? `\\u${code.toString(16).padStart(4, "0")}` : `\\x${code.toString(16).padStart(2, "0")}`;
    },
  ).replace(/\\r(?=\n)/g, "\r");
}
