/**
 * `wirebox listen`: accept a connection or datagrams and print what arrives.
 *
 * @module
 */

import { listen } from "../netcat/listen.ts";
import { convertArg, parseCommand } from "./args.ts";
import { type Command, showHelp } from "./command.ts";
import { printError } from "./output.ts";
import { checkEncoding, terminalFilter } from "./send.ts";

const HELP = `Usage: wirebox listen [HOST:]PORT [options]

Waits for a TCP connection and prints what arrives; what you type goes back.
Ends when that connection closes (or, with --keep-open, on Ctrl-C).
With --udp, prints each datagram's lines prefixed with the sender's address;
lines you type go to the latest sender. Status lines go to stderr; the first
one names the address ("listening on tcp://0.0.0.0:9000").

Options:
  --udp                  receive UDP datagrams
  -k, --keep-open        TCP: serve connection after connection, several at once,
                         sending stdin to all; UDP: show every sender, not only the first
  --encoding LABEL       the peer's text encoding (gbk, big5, shift_jis, latin1...)
  --raw                  write received control characters to a terminal as they are
  -h, --help             show this help

Examples:
  wirebox listen 9000 > received.bin
  wirebox listen --udp --keep-open 127.0.0.1:9000
  wirebox listen --encoding gbk :8080`;

/** `wirebox listen`. */
export const listenCommand: Command = {
  name: "listen",
  summary: "accept a connection or datagrams and print what arrives",
  help: HELP,
  async run(args, { signal }) {
    const { values, positionals } = parseCommand(args, {
      command: "listen",
      options: {
        udp: { type: "boolean", short: "u" },
        "keep-open": { type: "boolean", short: "k" },
        encoding: { type: "string" },
        raw: { type: "boolean" },
      },
      positionals: { min: 1, max: 1 },
    });
    if (values.help) return showHelp(HELP);
    const address = convertArg.address(positionals[0], "address", "listen", {
      defaultHostname: "0.0.0.0",
      bareNumberIsPort: true,
    });
    checkEncoding(values.encoding, "listen");
    await listen(address, {
      udp: values.udp,
      keepOpen: values["keep-open"],
      encoding: values.encoding,
      mapText: terminalFilter(values.raw),
      signal,
      onListening: (endpoint) => printError(`listening on ${endpoint}`),
      onEvent: printError,
    });
    return 0;
  },
};
