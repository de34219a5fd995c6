/**
 * `wirebox echo serve`: the echo server on the command line.
 *
 * @module
 */

import { serveEcho } from "../echo/server.ts";
import { convertArg, listenAddress, parseCommand, SERVER_OPTIONS } from "./args.ts";
import { type Command, type RunContext, runVerb, showHelp } from "./command.ts";
import { announce, serverLog } from "./output.ts";

const HELP = `Usage: wirebox echo serve [options]

Echo server: every byte a TCP client sends comes back to it; every UDP
datagram is answered to its sender. Serves many clients at once.

Options:
  --host HOST[:PORT]     address to listen on (default 0.0.0.0)
  -p, --port PORT        port for TCP and UDP (default 10888; 0 = any free port)
  --tcp                  serve TCP only (unless --udp is given too)
  --udp                  serve UDP only (unless --tcp is given too)
  --max-clients N        TCP connections at once (default 1024)
  --idle-timeout TIME    close TCP connections idle this long (default 5m; 0 = never)
  -q, --quiet            no log lines, only the first "listening on" line
  -h, --help             show this help

The first line printed names the addresses, for example:
  echo listening on tcp://0.0.0.0:10888 udp://0.0.0.0:10888

Example:
  wirebox echo serve --port 10888
  printf 'hello\\n' | wirebox send 127.0.0.1:10888`;

/** `wirebox echo`. */
export const echoCommand: Command = {
  name: "echo",
  summary: "echo server over TCP and UDP",
  help: HELP,
  run: (args, context) => runVerb(args, context, { name: "echo", help: HELP, verbs: { serve } }),
};

async function serve(args: string[], { signal }: RunContext): Promise<number> {
  const { values } = parseCommand(args, {
    command: "echo",
    options: {
      ...SERVER_OPTIONS,
      tcp: { type: "boolean" },
      udp: { type: "boolean" },
      "max-clients": { type: "string" },
      "idle-timeout": { type: "string" },
    },
  });
  if (values.help) return showHelp(HELP);
  const { hostname, port } = listenAddress(values, 10888, "echo");
  const both = !values.tcp && !values.udp;
  const server = serveEcho({
    hostname,
    port,
    tcp: both || values.tcp === true,
    udp: both || values.udp === true,
    maxConnections: values["max-clients"] === undefined
      ? undefined
      : convertArg.integer(values["max-clients"], "--max-clients", "echo", { min: 1 }),
    idleTimeoutMs: values["idle-timeout"] === undefined
      ? undefined
      : convertArg.duration(values["idle-timeout"], "--idle-timeout", "echo"),
    signal,
    log: serverLog(values.quiet ?? false),
  });
  announce("echo", server.endpoints);
  await server.finished;
  return 0;
}
