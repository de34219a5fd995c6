/**
 * `wirebox tftp serve|get|put`: the TFTP server and client on the command line.
 *
 * @module
 */

import { basename, dirname, join, resolve } from "node:path";
import { formatAddress, type HostPort } from "../net/address.ts";
import { rewrap } from "../net/errors.ts";
import { writeAll } from "../net/io.ts";
import { formatBytes, formatCount, formatDuration, formatRate } from "../text/format.ts";
import { readerSource, writerSink } from "../tftp/block_io.ts";
import { downloadFile, type TftpClientOptions, tftpGet, tftpPut, type TftpResult, uploadFile } from "../tftp/client.ts";
import { MAX_BLKSIZE } from "../tftp/packet.ts";
import { MAX_WINDOWSIZE } from "../tftp/options.ts";
import { UDP_BACKENDS, type UdpBackendChoice } from "../tftp/backend.ts";
import { serveTftp } from "../tftp/server.ts";
import { convertArg, listenAddress, parseCommand, SERVER_OPTIONS } from "./args.ts";
import { type Command, type RunContext, runVerb, showHelp } from "./command.ts";
import { announce, EXIT, printError, serverLog, UsageError } from "./output.ts";
import { ProgressBar } from "./progress.ts";

const HELP = `Usage: wirebox tftp serve [options]
       wirebox tftp get HOST[:PORT] REMOTE [LOCAL] [options]
       wirebox tftp put HOST[:PORT] LOCAL [REMOTE] [options]

TFTP (RFC 1350) with options (RFC 2347-2349: blksize, timeout, tsize) and
windows (RFC 7440), octet and netascii modes, block-number rollover for files
beyond 32 MiB, and retransmission that follows the measured round-trip time.

Server options (wirebox tftp serve):
  --host HOST[:PORT]      address to listen on (default 0.0.0.0)
  -p, --port PORT         UDP port (default 69, which needs root; 0 = any free port)
  --root DIR              folder served; nothing outside it is read or written (default: .)
  --create                accept uploads of new files
  --overwrite             accept uploads that replace existing files
  --max-transfers N       transfers at once (default 256)
  --max-blksize N         largest block size granted (default 65464)
  --max-windowsize N      largest window granted (default 64; always clamped so that a
                          window fits in a socket buffer)
  --max-size SIZE         largest upload accepted, e.g. 100M (default: no limit)
  --retries N             give up a transfer after N retransmissions in a row; without --retries:
                          6, but with the round-trip timer never before 5 s of silence
  --no-timeout-option     decline the clients' timeout option and keep the timer that follows
                          the round-trip time (curl asks for 6 s: each lost packet would cost that)
  --allow-leading-slash   read "/name" as "name" (some boot ROMs send absolute names)
  --udp-backend B         how transfers move datagrams (see below; default auto)
  -q, --quiet             no log lines, only the first "listening on" line

Client options (wirebox tftp get / put):
  --mode MODE             octet (bytes as they are, default) or netascii (text, line ends converted)
  --blksize N             block size to ask for, 8..65464 (default 1468: one Ethernet frame)
  --windowsize N          blocks per window to ask for (default 32; 1 = lock-step)
  --timeout SECONDS       ask for a fixed retransmit timeout: the request is repeated at that pace,
                          and the transfer too if the server grants it (default, or if the server
                          declines: follow the round-trip time)
  --retries N             give up after N retransmissions in a row; without --retries: 6, but
                          with the round-trip timer never before 5 s of silence
  --tsize / --no-tsize    ask for (get) or announce (put) the file size, or not (default: --tsize)
  --rfc1350               send a plain request without any option (for old servers)
  --udp-backend B         how the transfer moves datagrams (see below; default auto)
  -q, --quiet             no progress bar and no summary line

UDP backends: ffi makes blocking libc calls in a thread per transfer (about a
third of the CPU per datagram; 64-bit Linux with glibc, needs --allow-ffi, which
the wirebox binary has); deno uses Deno's own UDP sockets; auto picks ffi where
it can run.

LOCAL "-" is stdout (get) or stdin (put). A download is written to a temporary
name and renamed when complete: a failed transfer never leaves a partial file.

Examples:
  wirebox tftp serve --port 6969 --root /srv/tftp --create
  wirebox tftp get 192.168.1.10 pxelinux.0
  wirebox tftp get 127.0.0.1:6969 boot/kernel.img /tmp/kernel.img --blksize 8192
  wirebox tftp put 127.0.0.1:6969 firmware.bin`;

/** `wirebox tftp`. */
export const tftpCommand: Command = {
  name: "tftp",
  summary: "TFTP server and client (windows, rollover, netascii, adaptive timeouts)",
  help: HELP,
  run: (args, context) => runVerb(args, context, { name: "tftp", help: HELP, verbs: { serve, get, put } }),
};

async function serve(args: string[], { signal }: RunContext): Promise<number> {
  const { values } = parseCommand(args, {
    command: "tftp",
    options: {
      ...SERVER_OPTIONS,
      root: { type: "string" },
      create: { type: "boolean" },
      overwrite: { type: "boolean" },
      "max-transfers": { type: "string" },
      "max-blksize": { type: "string" },
      "max-windowsize": { type: "string" },
      "max-size": { type: "string" },
      retries: { type: "string" },
      "no-timeout-option": { type: "boolean" },
      "allow-leading-slash": { type: "boolean" },
      "udp-backend": { type: "string" },
    },
  });
  if (values.help) return showHelp(HELP);
  const { hostname, port } = listenAddress(values, 69, "tftp");
  const root = resolve(values.root ?? ".");
  const info = await Deno.stat(root).catch(() => undefined);
  if (!info?.isDirectory) throw new UsageError(`--root ${root} is not a folder`, "tftp");
  const integer = (name: string, text: string | undefined, min: number, max?: number) =>
    text === undefined ? undefined : convertArg.integer(text, `--${name}`, "tftp", { min, max });
  const log = serverLog(values.quiet ?? false);
  const server = bindingHint(() =>
    serveTftp({
      root,
      hostname,
      port,
      create: values.create,
      overwrite: values.overwrite,
      maxTransfers: integer("max-transfers", values["max-transfers"], 1),
      maxBlksize: integer("max-blksize", values["max-blksize"], 8, MAX_BLKSIZE),
      maxWindowsize: integer("max-windowsize", values["max-windowsize"], 1, MAX_WINDOWSIZE),
      maxUploadBytes: values["max-size"] === undefined
        ? undefined
        : convertArg.size(values["max-size"], "--max-size", "tftp"),
      retransmit: { retries: integer("retries", values.retries, 0, 100) },
      allowLeadingSlash: values["allow-leading-slash"],
      acceptTimeout: !values["no-timeout-option"],
      udpBackend: udpBackend(values["udp-backend"]),
      signal,
      log,
    }), port);
  announce("tftp", [server.endpoint]);
  const access = values.create
    ? (values.overwrite ? "uploads of new and existing files accepted" : "uploads of new files accepted")
    : values.overwrite
    ? "uploads may replace existing files"
    : "read-only";
  log(`tftp: serving ${root} (${access})`);
  log(`tftp: transfers run on the ${server.backend} UDP backend (${BACKEND_NOTES[server.backend]})`);
  await server.finished;
  return EXIT.ok;
}

const BACKEND_NOTES = {
  ffi: "blocking libc calls, a thread per transfer",
  deno: "Deno.listenDatagram",
};

function udpBackend(text: string | undefined): UdpBackendChoice | undefined {
  return text === undefined ? undefined : convertArg.choice(text, "--udp-backend", "tftp", UDP_BACKENDS);
}

/** Port 69 needs privileges: say so, and name the usual way out. */
function bindingHint<T>(start: () => T, port: number): T {
  try {
    return start();
  } catch (error) {
    if (error instanceof Deno.errors.PermissionDenied && port > 0 && port < 1024) {
      throw new Deno.errors.PermissionDenied(`${(error as Error).message} (try --port 6969)`, { cause: error });
    }
    throw error;
  }
}

const CLIENT_OPTIONS = {
  mode: { type: "string" },
  blksize: { type: "string" },
  windowsize: { type: "string" },
  timeout: { type: "string" },
  retries: { type: "string" },
  tsize: { type: "boolean" },
  "no-tsize": { type: "boolean" },
  rfc1350: { type: "boolean" },
  "udp-backend": { type: "string" },
  quiet: { type: "boolean", short: "q" },
} as const;

interface ClientArgs {
  server: HostPort;
  positionals: string[];
  options: TftpClientOptions;
  quiet: boolean;
}

function parseClient(args: string[], verb: string): ClientArgs | undefined {
  const { values, positionals } = parseCommand(args, {
    command: "tftp",
    options: CLIENT_OPTIONS,
    positionals: { min: 2, max: 3 },
  });
  if (values.help) return undefined;
  if (values.tsize && values["no-tsize"]) throw new UsageError("--tsize and --no-tsize contradict each other", "tftp");
  const integer = (name: string, text: string | undefined, min: number, max: number) =>
    text === undefined ? undefined : convertArg.integer(text, `--${name}`, "tftp", { min, max });
  return {
    server: convertArg.address(positionals[0], `${verb} HOST`, "tftp", { defaultPort: 69 }),
    positionals: positionals.slice(1),
    quiet: values.quiet ?? false,
    options: {
      mode: values.mode === undefined
        ? undefined
        : convertArg.choice(values.mode, "--mode", "tftp", ["octet", "netascii"] as const),
      blksize: integer("blksize", values.blksize, 8, MAX_BLKSIZE),
      windowsize: integer("windowsize", values.windowsize, 1, MAX_WINDOWSIZE),
      timeoutSeconds: integer("timeout", values.timeout, 1, 255),
      retries: integer("retries", values.retries, 0, 100),
      tsize: !values["no-tsize"],
      noOptions: values.rfc1350,
      udpBackend: udpBackend(values["udp-backend"]),
    },
  };
}

function get(args: string[], context: RunContext): Promise<number> {
  return clientVerb(args, context, "get", (parsed, options) => {
    const [remote, localArg] = parsed.positionals;
    const run = async () => {
      if (localArg === "-") {
        return tftpGet(parsed.server, remote, writerSink({ write: (bytes) => writeAll(Deno.stdout, bytes) }), options);
      }
      return downloadFile(parsed.server, remote, await localTarget(localArg, remote), options);
    };
    return { name: remote, run, done: "received", failed: `Cannot get "${remote}" from` };
  });
}

function put(args: string[], context: RunContext): Promise<number> {
  return clientVerb(args, context, "put", (parsed, options) => {
    const [local, remoteArg] = parsed.positionals;
    if (local === "-" && remoteArg === undefined) {
      throw new UsageError("reading stdin (-) needs a REMOTE name", "tftp");
    }
    const remote = remoteArg ?? basename(local);
    const run = async () => {
      if (local === "-") {
        return tftpPut(parsed.server, remote, readerSource(Deno.stdin, { mode: options.mode }), options);
      }
      const info = await Deno.stat(local).catch(() => undefined);
      if (!info?.isFile) throw new Deno.errors.NotFound(`${local} ${info ? "is not a file" : "does not exist"}`);
      return uploadFile(parsed.server, local, remote, options);
    };
    return { name: remote, run, done: "sent", failed: `Cannot put "${remote}" to` };
  });
}

/** What differs between get and put: the file's name, the transfer, and the words for its outcome. */
interface ClientJob {
  name: string;
  run: () => Promise<TftpResult>;
  done: string;
  failed: string;
}

/** Parses a client verb, runs its transfer with a progress bar, and prints one summary line. */
async function clientVerb(
  args: string[],
  { signal }: RunContext,
  verb: string,
  plan: (parsed: ClientArgs, options: TftpClientOptions) => ClientJob,
): Promise<number> {
  const parsed = parseClient(args, verb);
  if (!parsed) return showHelp(HELP);
  const bar: ReturnType<typeof progressBar> = parsed.quiet ? undefined : progressBar(parsed.positionals[0]);
  const job = plan(parsed, { ...parsed.options, signal, onProgress: bar?.onProgress });
  try {
    const result = await job.run();
    bar?.done();
    if (!parsed.quiet) printError(summary(job.done, job.name, result));
    return EXIT.ok;
  } catch (error) {
    bar?.done();
    if (signal.aborted) return EXIT.interrupted;
    if (error instanceof UsageError) throw error;
    throw withContext(error, `${job.failed} ${formatAddress(parsed.server)}`);
  }
}

/** Where a download goes: LOCAL, a file named after REMOTE inside LOCAL if it is a folder, or in the current one. */
async function localTarget(local: string | undefined, remote: string): Promise<string> {
  if (local === undefined) return defaultLocalName(remote);
  const info = await Deno.stat(local).catch(() => undefined);
  if (info?.isDirectory) return join(local, defaultLocalName(remote));
  const folder = dirname(resolve(local));
  if (!(await Deno.stat(folder).catch(() => undefined))?.isDirectory) {
    throw new Deno.errors.NotFound(`cannot write ${local}: the folder ${folder} does not exist`);
  }
  return local;
}

/** The base name of a remote path, as the local name of a download. */
function defaultLocalName(remote: string): string {
  const name = basename(remote.replaceAll("\\", "/"));
  if (name === "" || name === "." || name === "..") {
    throw new UsageError(`cannot name a local file after "${remote}": give LOCAL`, "tftp");
  }
  return name;
}

function progressBar(label: string) {
  const bar = new ProgressBar(label);
  if (!bar.enabled) return undefined;
  return {
    onProgress(bytes: number, total: number | undefined) {
      if (total !== undefined) bar.total = total;
      bar.update(bytes);
    },
    done: () => bar.done(),
  };
}

function summary(verb: string, name: string, result: TftpResult): string {
  const { settings } = result;
  const window = settings.windowsize > 1 ? `, windowsize ${settings.windowsize}` : "";
  const again = result.retransmitted > 0 ? `, ${formatCount(result.retransmitted, "block")} sent again` : "";
  return `${verb} ${name}: ${formatBytes(result.bytes)} in ${formatDuration(result.durationMs)} (${
    formatRate(result.bytes, result.durationMs)
  }), blksize ${settings.blksize}${window}${again}, ${result.backend} backend`;
}

/** The same error (class and TFTP code kept) with what was being done in front. */
function withContext(error: unknown, what: string): unknown {
  return error instanceof Error ? rewrap(error, `${what}: ${error.message}`) : error;
}
