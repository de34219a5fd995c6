/**
 * The operator console: while the chat server runs in a terminal, a line
 * typed on its stdin is said to the room as `server`, and a few commands
 * manage the room.
 *
 * @module
 */

import { LineStream } from "../net/line_stream.ts";
import { formatText } from "./protocol.ts";
import type { ChatRoom } from "./room.ts";

/** Options for {@linkcode runConsole}. */
export interface ConsoleOptions {
  /** Where the operator's lines come from.
   * @default {Deno.stdin.readable} */
  input?: ReadableStream<Uint8Array>;
  /** Where replies go (one line each). */
  print: (line: string) => void;
  /** Called on `/quit`: the operator wants the server stopped. */
  onQuit: () => void;
  /** Stops reading when aborted. */
  signal?: AbortSignal;
}

/** The console's commands, for `/help`. */
export const CONSOLE_HELP: readonly string[] = [
  "operator console: a line you type is said to everyone as <server>",
  "  /who                 who is here, from where, idle how long",
  "  /msg NAME TEXT       a private message to NAME",
  "  /kick NAME [REASON]  remove NAME from the room",
  "  /quit                stop the server (as Ctrl-C does)",
  "  //TEXT               say a line that starts with /",
];

/**
 * Carries out one operator line on `room`; returns the reply lines (none
 * for a plain line, which is said to the room), or `"quit"` for `/quit`.
 *
 * @example Usage
 * ```ts
 * import { ChatRoom } from "./room.ts";
 * import { consoleCommand } from "./console.ts";
 * const room = new ChatRoom();
 * consoleCommand(room, "/kick bob"); // ["nobody here is called \"bob\""]
 * consoleCommand(room, "hello all"); // [] (said to the room as <server>)
 * room.close();
 * ```
 */
export function consoleCommand(room: ChatRoom, line: string): string[] | "quit" {
  const text = line.trim();
  if (text === "") return [];
  if (!text.startsWith("/") || text.startsWith("//")) {
    room.say(text.startsWith("//") ? text.slice(1) : text);
    return [];
  }
  const [command, name = "", ...rest] = text.split(/\s+/);
  const argument = rest.join(" ");
  switch (command.toLowerCase()) {
    case "/who":
      return formatText({ type: "who", time: Date.now(), members: room.who() }, { time: false }).split("\n");
    case "/kick":
      if (name === "") return ["usage: /kick NAME [REASON]"];
      return room.kick(name, argument || undefined) ? [] : [`nobody here is called "${name}"`];
    case "/msg":
      if (name === "" || argument === "") return ["usage: /msg NAME TEXT"];
      return room.tell(name, argument) ? [] : [`nobody here is called "${name}"`];
    case "/quit":
      return "quit";
    case "/help":
      return [...CONSOLE_HELP];
    default:
      return [`unknown console command ${command}: /help lists them`];
  }
}

/**
 * Reads operator lines until the input ends, `/quit`, or `signal` aborts.
 * The end of input does not stop the server (it may run with no terminal).
 *
 * @example Usage
 * ```ts
 * import { ChatRoom } from "./room.ts";
 * import { runConsole } from "./console.ts";
 * const room = new ChatRoom();
 * const input = ReadableStream.from([new TextEncoder().encode("/who\n")]);
 * await runConsole(room, { input, print: console.log, onQuit: () => room.close() });
 * room.close();
 * ```
 */
export async function runConsole(room: ChatRoom, options: ConsoleOptions): Promise<void> {
  const lines = (options.input ?? Deno.stdin.readable).pipeThrough(new LineStream({ maxLineBytes: 4096 }));
  const reader = lines.getReader();
  const stop = () => reader.cancel().catch(() => {});
  if (options.signal?.aborted) stop();
  options.signal?.addEventListener("abort", stop, { once: true });
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      if (typeof value !== "string") {
        options.print("console: line too long, ignored");
        continue;
      }
      const reply = consoleCommand(room, value);
      if (reply === "quit") {
        options.onQuit();
        break;
      }
      for (const line of reply) options.print(line);
    }
  } finally {
    options.signal?.removeEventListener("abort", stop);
    reader.releaseLock();
  }
}
