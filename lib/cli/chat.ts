/**
 * `wirebox chat serve` and `wirebox chat join`: the group chat on the command line.
 *
 * @module
 */

import type { ChatEnd } from "../chat/client.ts";
import { runConsole } from "../chat/console.ts";
import { nickProblem, type TextRole } from "../chat/protocol.ts";
import { serveChat } from "../chat/server.ts";
import { normalizeOrigin } from "../chat/web_protocol.ts";
import { WEB_PORT } from "../chat/web_server.ts";
import { chatInteractive, chatScripted, nickColor } from "../chat/terminal.ts";
import { formatAddress } from "../net/address.ts";
import { convertArg, listenAddress, parseCommand, SERVER_OPTIONS } from "./args.ts";
import { type Command, type RunContext, runVerb, showHelp } from "./command.ts";
import { announce, EXIT, paint, print, serverLog, UsageError, useColor } from "./output.ts";

/** The chat server's usual port. */
export const CHAT_PORT = 9999;

const HELP = `Usage: wirebox chat serve [options]
       wirebox chat join [HOST][:PORT] [options]

A group chat over TCP: every line a client sends reaches everyone, stamped
with the time and the sender's nick. Any line-based client works: wirebox
chat join, nc, telnet, the classic Python tutorial clients. With --web-port,
browsers join the same room from a page the server serves.

Server options (wirebox chat serve):
  --host HOST[:PORT]     address to listen on (default 0.0.0.0)
  -p, --port PORT        TCP port (default ${CHAT_PORT}; 0 = any free port)
  --history N            messages replayed to a newcomer (default 50)
  --max-line SIZE        longest line accepted (default 4096 bytes); longer ones are refused
  --max-clients N        clients at once (TCP and web counted apart); the next one is told
                         the server is full (default 1000)
  --rate N               lines per second a client may send on average (default 10; 0 = no limit)
  --burst N              lines a client may send at once before --rate applies (default 30)
  --idle-timeout TIME    drop a client that sends nothing for this long (default 0 = never)
  --max-queue SIZE       output that may wait for a client that does not read (default 1M);
                         past it the client is dropped as too slow
  --log FILE             append every public event to FILE as JSON lines (a transcript)
  --web-port PORT        also serve the chat page (http://HOST:PORT/) and its WebSocket
                         on this port (0 = any free port; wirebox serve uses ${WEB_PORT})
  --origin ORIGIN        another site whose pages may open the WebSocket besides the page's
                         own address (http://HOST[:PORT]; repeatable; * = any)
  --no-console           do not read operator commands from stdin (for running in the background)
  -q, --quiet            no log lines, only the first "listening on" line

  While the server runs, a line typed on its stdin is said to everyone as
  <server>; /who, /msg NAME TEXT, /kick NAME [REASON] and /quit work there.

Client options (wirebox chat join; HOST defaults to 127.0.0.1, PORT to ${CHAT_PORT}):
  -n, --nick NAME        the nick to ask for
  --stay                 with piped input: after it ends, stay and print what arrives
  --connect-timeout TIME give up connecting after this long (default 10s)

  On a terminal you type while messages arrive; /help lists the commands,
  /quit or Ctrl-D leaves. With piped input, each line is sent, the client
  waits until the server has handled them and leaves.

Examples:
  wirebox chat serve --log chat.jsonl
  wirebox chat serve --web-port ${WEB_PORT}             # then open http://THIS-HOST:${WEB_PORT}/
  wirebox chat join 192.168.1.10 --nick alice
  printf 'build finished\\n' | wirebox chat join --nick ci
  nc 127.0.0.1 ${CHAT_PORT}`;

/** `wirebox chat`. */
export const chatCommand: Command = {
  name: "chat",
  summary: "group chat: a TCP chat server with a web page, a terminal client and an operator console",
  help: HELP,
  run: (args, context) => runVerb(args, context, { name: "chat", help: HELP, verbs: { serve, join } }),
};

async function serve(args: string[], { signal }: RunContext): Promise<number> {
  const { values } = parseCommand(args, {
    command: "chat",
    options: {
      ...SERVER_OPTIONS,
      history: { type: "string" },
      "max-line": { type: "string" },
      "max-clients": { type: "string" },
      rate: { type: "string" },
      burst: { type: "string" },
      "idle-timeout": { type: "string" },
      "max-queue": { type: "string" },
      log: { type: "string" },
      "no-console": { type: "boolean" },
      "web-port": { type: "string" },
      origin: { type: "string", multiple: true },
    },
  });
  if (values.help) return showHelp(HELP);
  const { hostname, port } = listenAddress(values, CHAT_PORT, "chat");
  const integer = (name: keyof typeof values, min: number) => {
    const text = values[name] as string | undefined;
    return text === undefined ? undefined : convertArg.integer(text, `--${name}`, "chat", { min });
  };
  const size = (name: "max-line" | "max-queue") => {
    const text = values[name];
    if (text === undefined) return undefined;
    const bytes = convertArg.size(text, `--${name}`, "chat");
    if (bytes < 64) throw new UsageError(`invalid --${name} "${text}": at least 64 bytes`, "chat");
    return bytes;
  };
  const maxLineBytes = size("max-line");
  const maxQueueBytes = size("max-queue");
  if ((maxQueueBytes ?? 1 << 20) < 4 * (maxLineBytes ?? 4096)) {
    throw new UsageError("--max-queue must be at least 4 times --max-line, or one message could overflow it", "chat");
  }
  const idle = values["idle-timeout"];
  const webPort = values["web-port"] === undefined
    ? undefined
    : convertArg.port(values["web-port"], "--web-port", "chat");
  const origins = (values.origin ?? []).map(originArg);
  if (origins.length > 0 && webPort === undefined) {
    throw new UsageError("--origin needs --web-port: it says which pages may open the chat's WebSocket", "chat");
  }
  const stop = new AbortController();
  const server = serveChat({
    hostname,
    port,
    historySize: integer("history", 0),
    maxLineBytes,
    maxClients: integer("max-clients", 1),
    rate: integer("rate", 0),
    burst: integer("burst", 1),
    idleTimeoutMs: idle === undefined ? undefined : convertArg.duration(idle, "--idle-timeout", "chat"),
    maxQueueBytes,
    transcriptPath: values.log,
    webPort,
    origins,
    signal: AbortSignal.any([signal, stop.signal]),
    log: values.quiet ? undefined : serverLog(false),
  });
  announce("chat", server.endpoints);
  if (!values["no-console"]) {
    runConsole(server.room, { print, onQuit: () => stop.abort(), signal: stop.signal }).catch(() => {});
  }
  await server.finished;
  stop.abort();
  return EXIT.ok;
}

/** An `--origin` value, normalized as browsers send origins. */
function originArg(text: string): string {
  try {
    return normalizeOrigin(text);
  } catch (error) {
    const reason = (error as Error).message.replace(/^Invalid origin "[^"]*": /, "");
    throw new UsageError(`invalid --origin "${text}": ${reason}`, "chat");
  }
}

function style(color: boolean): ((text: string, role: TextRole) => string) | undefined {
  if (!color) return undefined;
  return (text, role) => {
    switch (role) {
      case "nick":
        return paint(text, nickColor(text), true);
      case "time":
        return paint(text, "dim", true);
      case "notice":
        return paint(text, "cyan", true);
      case "error":
        return paint(text, "red", true);
      case "private":
        return paint(text, "yellow", true);
    }
  };
}

async function join(args: string[], { signal }: RunContext): Promise<number> {
  const { values, positionals } = parseCommand(args, {
    command: "chat",
    options: {
      nick: { type: "string", short: "n" },
      stay: { type: "boolean" },
      "connect-timeout": { type: "string" },
    },
    positionals: { max: 1 },
  });
  if (values.help) return showHelp(HELP);
  const address = convertArg.address(positionals[0] ?? "", "address", "chat", {
    defaultHostname: "127.0.0.1",
    defaultPort: CHAT_PORT,
    bareNumberIsPort: true,
  });
  const problem = values.nick === undefined ? undefined : nickProblem(values.nick);
  if (problem) throw new UsageError(`invalid --nick "${values.nick}": ${problem}`, "chat");
  const connectTimeoutMs = values["connect-timeout"] === undefined
    ? undefined
    : convertArg.duration(values["connect-timeout"], "--connect-timeout", "chat");
  const interactive = Deno.stdin.isTerminal() && Deno.stdout.isTerminal();
  const options = {
    nick: values.nick,
    connectTimeoutMs,
    signal,
    style: style(useColor(Deno.stdout)),
  };
  const end: ChatEnd = interactive
    ? await chatInteractive(address, options)
    : await chatScripted(address, { ...options, stay: values.stay });
  if (end.byClient) return EXIT.ok;
  throw new Error(`Chat at ${formatAddress(address)} ended: ${end.message}`);
}
