/**
 * `wirebox serve`: every server the toolkit has, at once, with defaults and
 * one data folder. Each tool joins by adding one entry to `SERVICES`.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { serveChat } from "../chat/server.ts";
import { serveEcho } from "../echo/server.ts";
import { serveTftp } from "../tftp/server.ts";
import { serveUpload } from "../upload/server.ts";
import { WEB_PORT } from "../chat/web_server.ts";
import { CHAT_PORT } from "./chat.ts";
import { convertArg, parseCommand } from "./args.ts";
import { type Command, showHelp } from "./command.ts";
import { print, serverLog, UsageError } from "./output.ts";

/** What a service needs to start inside `wirebox serve`. */
export interface ServiceContext {
  /** Address to listen on. */
  hostname: string;
  /** Port to listen on (0: any free port). */
  port: number;
  /** The data folder (absolute, existing); a service keeps its files in a subfolder. */
  data: string;
  /** The ports of the service's `morePorts`, by name (0: any free port). */
  ports: Record<string, number>;
  /** Stops the service when aborted. */
  signal: AbortSignal;
  /** Log line sink. */
  log: (line: string) => void;
}

/** A started service. */
export interface RunningService {
  /** Where it listens: `tcp://...`, `udp://...`, `http://...`. */
  endpoints: string[];
  /** What to tell a user about it (how to connect, where files go). */
  note: string;
  /** Settles when it has stopped. */
  finished: Promise<void>;
}

/** One server `wirebox serve` runs. */
export interface ServiceSpec {
  /** Short name; also gives the option `--NAME-port`. */
  name: string;
  /** Port used unless `--NAME-port` says otherwise. */
  defaultPort: number;
  /** Further ports the service listens on, each with its own `--NAME-port` option (the chat's web page). */
  morePorts?: { name: string; defaultPort: number; what: string }[];
  /** Starts it; throws (a bind error, say) if it cannot. */
  start(context: ServiceContext): Promise<RunningService> | RunningService;
}

/** The services `wirebox serve` starts, in this order. */
export const SERVICES: ServiceSpec[] = [
  {
    name: "chat",
    defaultPort: CHAT_PORT,
    morePorts: [{ name: "web", defaultPort: WEB_PORT, what: "the chat's web page" }],
    async start(context) {
      const folder = join(context.data, "chat");
      await Deno.mkdir(folder, { recursive: true });
      const transcriptPath = join(folder, "transcript.jsonl");
      const server = serveChat({ ...context, transcriptPath, webPort: context.ports.web });
      const { port } = server.tcp.addr;
      const web = server.web!.addr.port;
      return {
        endpoints: server.endpoints,
        note: `group chat (wirebox chat join HOST:${port}, nc HOST ${port}, or a browser at http://HOST:${web}/); ` +
          "transcript in chat/transcript.jsonl",
        finished: server.finished,
      };
    },
  },
  {
    name: "echo",
    defaultPort: 10888,
    start(context) {
      const server = serveEcho(context);
      return { endpoints: server.endpoints, note: "echo server (TCP and UDP)", finished: server.finished };
    },
  },
  {
    name: "upload",
    defaultPort: 8888,
    async start(context) {
      const server = await serveUpload({ ...context, dir: join(context.data, "uploads") });
      return {
        endpoints: server.endpoints,
        note: `file uploads into ${server.dir} (wirebox upload send FILE --to HOST)`,
        finished: server.finished,
      };
    },
  },
  {
    name: "tftp",
    defaultPort: 6969,
    async start(context) {
      const root = join(context.data, "tftp");
      await Deno.mkdir(root, { recursive: true });
      const server = serveTftp({ ...context, root, create: true });
      return {
        endpoints: [server.endpoint],
        note: `TFTP server over ${root} (new files may be uploaded, none replaced; ${server.backend} UDP backend)`,
        finished: server.finished,
      };
    },
  },
];

/** Every `--NAME-port` option: each service's own port, then its further ones. */
function portOptions(): { name: string; defaultPort: number; what: string }[] {
  return SERVICES.flatMap((service) => [
    { name: service.name, defaultPort: service.defaultPort, what: `the ${service.name} server` },
    ...(service.morePorts ?? []),
  ]);
}

function help(): string {
  const ports = portOptions().map((option) =>
    `  --${option.name}-port PORT`.padEnd(27) + `port of ${option.what} (default ${option.defaultPort})`
  ).join("\n");
  return `Usage: wirebox serve [options]

Starts every wirebox server at once (${SERVICES.map((service) => service.name).join(", ")}), with
defaults and one data folder, prints what listens where, and stops cleanly
on Ctrl-C or SIGTERM.

Options:
  --data DIR               data folder for received and served files (default ./wirebox-data)
  --host HOST              address to listen on (default 0.0.0.0: every interface)
${ports}
  --any-port               put every server without an explicit --NAME-port on a free port
  --only NAMES             start only these servers, comma-separated (e.g. --only chat,echo)
  -q, --quiet              no log lines, only the summary
  -h, --help               show this help

The first line lists every address ("wirebox listening on tcp://... udp://...");
one line per server follows.`;
}

/** `wirebox serve`. */
export const serveCommand: Command = {
  name: "serve",
  summary: "start every server at once with defaults and one data folder",
  get help() {
    return help();
  },
  async run(args, { signal }) {
    const { values } = parseCommand(args, {
      command: "serve",
      options: {
        ...Object.fromEntries(portOptions().map((option) => [`${option.name}-port`, { type: "string" as const }])),
        data: { type: "string" },
        host: { type: "string" },
        "any-port": { type: "boolean" },
        only: { type: "string" },
        quiet: { type: "boolean", short: "q" },
      },
    });
    if (values.help) return showHelp(help());
    const ports = values as Record<string, string | undefined>;
    const chosen = selectServices(values.only);
    const data = resolve(values.data ?? "wirebox-data");
    await Deno.mkdir(data, { recursive: true });
    const hostname = values.host ?? "0.0.0.0";
    const stop = new AbortController();
    const serviceSignal = AbortSignal.any([signal, stop.signal]);
    const log = serverLog(values.quiet ?? false);
    const running: { name: string; service: RunningService }[] = [];
    try {
      const portOf = (name: string, defaultPort: number) => {
        const text = ports[`${name}-port`];
        return text === undefined
          ? (values["any-port"] ? 0 : defaultPort)
          : convertArg.port(text, `--${name}-port`, "serve");
      };
      for (const spec of chosen) {
        const port = portOf(spec.name, spec.defaultPort);
        const more = Object.fromEntries(
          (spec.morePorts ?? []).map((extra) => [extra.name, portOf(extra.name, extra.defaultPort)]),
        );
        running.push({
          name: spec.name,
          service: await spec.start({ hostname, port, ports: more, data, signal: serviceSignal, log }),
        });
      }
    } catch (error) {
      // One server could not start: stop the ones that did, then report.
      stop.abort();
      await Promise.all(running.map(({ service }) => service.finished));
      throw error;
    }
    print(`wirebox listening on ${running.flatMap(({ service }) => service.endpoints).join(" ")}`);
    for (const { name, service } of running) {
      print(`  ${name.padEnd(8)} ${service.endpoints.join(" ").padEnd(48)} ${service.note}`);
    }
    print(`  data     ${data}`);
    const lan = hostname === "0.0.0.0" || hostname === "::" ? lanAddresses() : [];
    if (lan.length > 0) print(`  others on the LAN reach this machine at ${lan.join(", ")}`);
    print("Press Ctrl-C to stop.");
    await Promise.all(running.map(({ service }) => service.finished));
    return 0;
  },
};

function selectServices(only: string | undefined): ServiceSpec[] {
  if (only === undefined) return SERVICES;
  const names = only.split(",").map((name) => name.trim()).filter(Boolean);
  for (const name of names) {
    if (!SERVICES.some((service) => service.name === name)) {
      const known = SERVICES.map((service) => service.name).join(", ");
      throw new UsageError(`unknown server "${name}" in --only (known: ${known})`, "serve");
    }
  }
  return SERVICES.filter((service) => names.includes(service.name));
}

/** This machine's non-loopback IPv4 addresses, for telling users what others should connect to. */
function lanAddresses(): string[] {
  try {
    return Deno.networkInterfaces()
      .filter((entry) => entry.family === "IPv4" && !entry.address.startsWith("127."))
      .map((entry) => entry.address);
  } catch {
    return []; // not permitted (--allow-sys=networkInterfaces) or not supported: nothing to add
  }
}
