/**
 * The two faces of `wirebox chat join`: an interactive terminal (what you
 * type stays on its line while messages arrive above it) and a scripted
 * run (lines from a pipe are sent, the server's answers awaited, then it
 * leaves).
 *
 * @module
 */

import type { HostPort } from "../net/address.ts";
import { LineStream } from "../net/line_stream.ts";
import { ChatClient, type ChatEnd } from "./client.ts";
import { LineEditor } from "./line_editor.ts";
import { type ChatEvent, formatText, parseInput, type TextRole } from "./protocol.ts";

/** Options for {@linkcode chatInteractive} and {@linkcode chatScripted}. */
export interface ChatTerminalOptions {
  /** The nick to ask for. */
  nick?: string;
  /** Give up connecting after this many milliseconds.
   * @default {10000} */
  connectTimeoutMs?: number;
  /** Leaves the room when aborted. */
  signal?: AbortSignal;
  /** Decorates parts of each line (colours); the default leaves them plain. */
  style?: (text: string, role: TextRole) => string;
  /** Called once connected, before anything is shown. */
  onConnected?: (client: ChatClient) => void;
}

/** Options for {@linkcode chatScripted}. */
export interface ChatScriptOptions extends ChatTerminalOptions {
  /** Lines to send.
   * @default {Deno.stdin.readable} */
  input?: ReadableStream<Uint8Array>;
  /** Where received lines go, one call per line.
   * @default {a line to stdout} */
  print?: (line: string) => void;
  /** After the input ends, stay and show what arrives until the server closes or `signal` aborts.
   * @default {false} */
  stay?: boolean;
}

const NICK_COLORS = [39, 45, 49, 78, 114, 149, 178, 208, 203, 205, 171, 135, 99, 75];
const encoder = new TextEncoder();

/**
 * A 256-colour code for `nick`, always the same one for the same nick.
 *
 * @example Usage
 * ```ts
 * import { nickColor } from "./terminal.ts";
 * nickColor("alice") === nickColor("alice"); // true
 * ```
 */
export function nickColor(nick: string): number {
  let hash = 0;
  for (const char of nick) hash = (hash * 31 + char.codePointAt(0)!) >>> 0;
  return NICK_COLORS[hash % NICK_COLORS.length];
}

function writeText(stream: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text);
  let offset = 0;
  while (offset < bytes.length) offset += stream.writeSync(bytes.subarray(offset));
}

function show(event: ChatEvent, options: ChatTerminalOptions): string {
  return formatText(event, { style: options.style });
}

/**
 * Runs the chat on a scriptable input: sends each input line (pacing them
 * to the server's rate limit), then waits until the server has handled them
 * all and leaves. A quit word or `/quit` in the input leaves at once.
 * Resolves with how the chat ended.
 *
 * @example Usage
 * ```ts
 * import { chatScripted } from "./terminal.ts";
 * const input = ReadableStream.from([new TextEncoder().encode("hello\n")]);
 * const end = await chatScripted({ hostname: "127.0.0.1", port: 9999 }, { nick: "bot", input })
 *   .catch((error) => console.error(error.message));
 * ```
 */
export async function chatScripted(address: HostPort, options: ChatScriptOptions = {}): Promise<ChatEnd> {
  const print = options.print ?? ((line: string) => writeText(Deno.stdout, line + "\n"));
  const client = await ChatClient.connect(address, {
    nick: options.nick,
    connectTimeoutMs: options.connectTimeoutMs,
    signal: options.signal,
    onEvent: (event) => print(show(event, options)),
    onText: print,
  });
  options.onConnected?.(client);
  const ended = client.ended.then(() => "ended" as const);
  if (await Promise.race([client.welcomed, ended]) === "ended") return client.ended;
  const maxLineBytes = client.limits?.maxLineBytes || 4096;
  const reader = (options.input ?? Deno.stdin.readable).pipeThrough(new LineStream({ maxLineBytes })).getReader();
  const stopReading = () => reader.cancel().catch(() => {});
  ended.then(stopReading);
  let quit: { reason?: string } | undefined;
  try {
    while (!quit) {
      const { value, done } = await reader.read();
      if (done) break;
      if (typeof value !== "string") {
        print(`(a line longer than ${maxLineBytes} bytes was not sent)`);
        continue;
      }
      const input = parseInput(value);
      if (input.kind === "quit") quit = { reason: input.reason };
      else await client.send(value);
    }
  } catch {
    // The chat ended while a line was waiting to go: its end says why.
  } finally {
    reader.releaseLock();
  }
  if (await Promise.race([client.sync().then(() => "synced" as const, () => "failed" as const), ended]) !== "synced") {
    return client.ended;
  }
  if (options.stay && !quit) {
    const stop = () => client.quit();
    options.signal?.addEventListener("abort", stop, { once: true });
    const end = await client.ended;
    options.signal?.removeEventListener("abort", stop);
    return end;
  }
  return client.quit(quit?.reason);
}

/**
 * Runs the chat on the terminal: raw mode, the input line redrawn under
 * every line that arrives, Enter sends, `/quit`, Ctrl-D on an empty line or
 * Ctrl-C leaves. The terminal is restored however it ends. Resolves with
 * how the chat ended.
 *
 * @example Usage
 * ```ts
 * import { chatInteractive } from "./terminal.ts";
 * if (Deno.stdin.isTerminal()) {
 *   await chatInteractive({ hostname: "127.0.0.1", port: 9999 }, { nick: "alice" })
 *     .catch((error) => console.error(error.message));
 * }
 * ```
 */
export async function chatInteractive(address: HostPort, options: ChatTerminalOptions = {}): Promise<ChatEnd> {
  const editor = new LineEditor();
  const style = options.style ?? ((text: string) => text);
  const session: { client?: ChatClient } = {};
  const columns = () => {
    try {
      return Deno.consoleSize().columns || 80; // a terminal of unknown size says 0
    } catch {
      return 80;
    }
  };
  const prompt = () => (session.client?.nick ? style(session.client.nick, "nick") : "") + "> ";
  const redraw = () => writeText(Deno.stdout, editor.render(prompt(), columns()));
  const above = (text: string) => {
    const lines = text.split("\n").map((line) => `\r\x1b[2K${line}\r\n`).join("");
    writeText(Deno.stdout, lines + editor.render(prompt(), columns()));
  };
  const chat = await ChatClient.connect(address, {
    nick: options.nick,
    connectTimeoutMs: options.connectTimeoutMs,
    signal: options.signal,
    onEvent: (event) => above(show(event, options)),
    onText: above,
  });
  session.client = chat;
  options.onConnected?.(chat);
  Deno.stdin.setRaw(true);
  try {
    redraw();
    const keys = (async () => {
      const decoder = new TextDecoder();
      const buffer = new Uint8Array(4096);
      while (true) {
        const n = await Deno.stdin.read(buffer);
        if (n === null) return chat.quit();
        for (const action of editor.feed(decoder.decode(buffer.subarray(0, n), { stream: true }))) {
          if (action.kind === "eof" || action.kind === "interrupt") return chat.quit();
          if (action.kind === "clear") writeText(Deno.stdout, "\x1b[2J\x1b[H");
          if (action.kind !== "submit" || action.line.trim() === "") continue;
          const input = parseInput(action.line);
          if (input.kind === "quit") return chat.quit(input.reason);
          chat.send(action.line).catch(() => {});
        }
        redraw();
      }
    })();
    return await Promise.race([keys, chat.ended]);
  } finally {
    writeText(Deno.stdout, "\r\x1b[2K");
    Deno.stdin.setRaw(false);
  }
}
