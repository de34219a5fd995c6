/**
 * `wirebox send`: a small netcat client on the command line.
 *
 * @module
 */

import { formatAddress } from "../net/address.ts";
import { send } from "../netcat/send.ts";
import { textCodec } from "../text/encoding.ts";
import { escapeControls } from "../text/sanitize.ts";
import { convertArg, parseCommand } from "./args.ts";
import { type Command, showHelp } from "./command.ts";
import { EXIT, printError, UsageError } from "./output.ts";

const HELP = `Usage: wirebox send HOST:PORT [options]

Connects to HOST:PORT and copies stdin to the socket and the socket to
stdout, both at once. Ends when the peer closes, or when stdin has ended and
nothing has arrived for --wait.

Options:
  --udp                  send each stdin line as one UDP datagram; print replies
  --bind [HOST:]PORT     UDP: send from this local port, so a peer that only
                         knows that port can answer (two-way UDP chat)
  --encoding LABEL       the peer's text encoding (gbk, big5, shift_jis, latin1...):
                         stdin is converted to it, replies from it (default: bytes as they are)
  --wait TIME            after stdin ends, wait this long for more data (default 10s; 0 = until closed)
  --connect-timeout TIME give up connecting after this long (default 10s)
  --raw                  write received control characters to a terminal as they are
                         (by default they are shown escaped, e.g. \\x1b)
  -h, --help             show this help

Examples:
  printf 'hello\\n' | wirebox send 127.0.0.1:10888
  wirebox send --udp --bind 9001 127.0.0.1:9000      # two-way UDP chat with a peer on 9000
  wirebox send --encoding gbk 192.168.1.20:8080       # a Windows network assistant`;

/** `wirebox send`. */
export const sendCommand: Command = {
  name: "send",
  summary: "connect and copy stdin to a socket and the socket to stdout (TCP or UDP)",
  help: HELP,
  async run(args, { signal }) {
    const { values, positionals } = parseCommand(args, {
      command: "send",
      options: {
        udp: { type: "boolean", short: "u" },
        bind: { type: "string" },
        encoding: { type: "string" },
        wait: { type: "string", short: "w" },
        "connect-timeout": { type: "string" },
        raw: { type: "boolean" },
      },
      positionals: { min: 1, max: 1 },
    });
    if (values.help) return showHelp(HELP);
    const address = convertArg.address(positionals[0], "address", "send");
    if (values.bind !== undefined && !values.udp) {
      throw new UsageError("--bind needs --udp (the local port of a TCP connection cannot be chosen)", "send");
    }
    const bind = values.bind === undefined
      ? undefined
      : convertArg.address(values.bind, "--bind", "send", { defaultHostname: "0.0.0.0", bareNumberIsPort: true });
    checkEncoding(values.encoding, "send");
    const result = await send(address, {
      udp: values.udp,
      bind,
      encoding: values.encoding,
      mapText: terminalFilter(values.raw),
      waitMs: values.wait === undefined ? undefined : convertArg.duration(values.wait, "--wait", "send"),
      connectTimeoutMs: values["connect-timeout"] === undefined
        ? undefined
        : convertArg.duration(values["connect-timeout"], "--connect-timeout", "send"),
      signal,
      onReady: (local) => {
        if (values.udp) printError(`sending to udp://${formatAddress(address)} from ${formatAddress(local)}`);
      },
    });
    return result.ended === "aborted" ? EXIT.interrupted : EXIT.ok;
  },
};

/** Rejects an unknown --encoding label as a usage error. */
export function checkEncoding(label: string | undefined, command: string): void {
  if (label === undefined) return;
  try {
    textCodec(label);
  } catch (error) {
    throw new UsageError(`invalid --encoding: ${(error as Error).message}`, command);
  }
}

/** Escapes control characters when stdout is a terminal (unless `raw`), so a peer cannot drive it. */
export function terminalFilter(raw: boolean | undefined): ((text: string) => string) | undefined {
  return !raw && Deno.stdout.isTerminal() ? escapeControls : undefined;
}
