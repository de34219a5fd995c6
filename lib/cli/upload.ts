/**
 * `wirebox upload serve` and `wirebox upload send`: the file-drop server and
 * its client on the command line.
 *
 * @module
 */

import { fsReason } from "../fs/fs_error.ts";
import { formatAddress } from "../net/address.ts";
import { formatBytes, formatCount, formatDuration, formatRate } from "../text/format.ts";
import { escapeControls } from "../text/sanitize.ts";
import { uploadFiles, type UploadResult } from "../upload/client.ts";
import { collectFiles } from "../upload/files.ts";
import { DEFAULT_UPLOAD_PORT } from "../upload/protocol.ts";
import { serveUpload } from "../upload/server.ts";
import { convertArg, listenAddress, parseCommand, SERVER_OPTIONS } from "./args.ts";
import { type Command, type RunContext, runVerb, showHelp } from "./command.ts";
import { announce, EXIT, paint, print, printError, serverLog, UsageError, useColor } from "./output.ts";
import { ProgressBar } from "./progress.ts";

const HELP = `Usage: wirebox upload serve [options]
       wirebox upload send PATH... --to HOST[:PORT] [options]

File uploads that never leave a truncated or corrupt file behind: the server
streams each file to a temporary name, checks its SHA-256, flushes it to disk
and only then gives it its name. Interrupted uploads continue with --resume.

wirebox upload serve: receive files
  --host HOST[:PORT]     address to listen on (default 0.0.0.0)
  -p, --port PORT        TCP port (default ${DEFAULT_UPLOAD_PORT}; 0 = any free port)
  --dir DIR              where files are stored (default ./uploads)
  --on-conflict POLICY   when the name exists: rename (default, "report (1).pdf"),
                         overwrite, or reject
  --max-size SIZE        refuse files larger than this (e.g. 500M, 10G; default: no limit)
  --token SECRET         refuse uploads without this secret (raw uploads too; not with --udp-port)
  --token-file FILE      read the secret from the first line of FILE (keeps it out of ps)
  --no-raw               refuse connections that do not speak the upload protocol
  --udp-port PORT        also take UDP raw uploads (datagrams, then "bye") on PORT
  --max-clients N        connections at once (default 256)
  --idle-timeout TIME    cut an upload off after this long without data (default 30s)
  --keep-partial TIME    keep interrupted uploads this long for --resume (default 24h; 0 = never)
  --no-fsync             report files stored before they reach the disk (faster; a
                         power cut may then lose them)
  -q, --quiet            no log lines, only the first "listening on" line

wirebox upload send: send files and folders (recursively)
  --to HOST[:PORT]       the server (port ${DEFAULT_UPLOAD_PORT} unless given)
  --name NAME            store the one PATH under NAME (a folder: its top folder's name)
  --token SECRET         the server's secret
  --token-file FILE      read the secret from the first line of FILE
  --resume               continue interrupted uploads from where the server has them
  --timeout TIME         longest wait for the server to answer or take data (default 60s)
  --connect-timeout TIME give up connecting after this long (default 10s)
  -q, --quiet            print only failures and the summary

Raw mode: a connection that does not open with the protocol's header is
stored byte for byte until the sender closes, as raw-DATE-TIME-ADDRESS-PORT.bin
(no name, no integrity check; nothing is stored if it is cut off or idles).
It must send its first bytes within 10 s. With --udp-port, each sender's
datagrams are stored when it sends "bye" (UDP loses data silently: use TFTP
for reliable transfers over UDP).

Examples:
  wirebox upload serve --dir ./inbox --max-size 10G
  wirebox upload send report.pdf photos/ --to 192.168.1.20
  wirebox upload send big.iso --to nas:8888 --resume
  nc -N 192.168.1.20 8888 < notes.txt          # raw mode, no client needed`;

const CONFLICT_POLICIES = ["rename", "overwrite", "reject"] as const;

/** `wirebox upload`. */
export const uploadCommand: Command = {
  name: "upload",
  summary: "file upload server and client: verified, atomic, resumable",
  help: HELP,
  run: (args, context) => runVerb(args, context, { name: "upload", help: HELP, verbs: { serve, send } }),
};

async function serve(args: string[], { signal }: RunContext): Promise<number> {
  const { values } = parseCommand(args, {
    command: "upload",
    options: {
      ...SERVER_OPTIONS,
      dir: { type: "string" },
      "on-conflict": { type: "string" },
      "max-size": { type: "string" },
      token: { type: "string" },
      "token-file": { type: "string" },
      "no-raw": { type: "boolean" },
      "udp-port": { type: "string" },
      "max-clients": { type: "string" },
      "idle-timeout": { type: "string" },
      "keep-partial": { type: "string" },
      "no-fsync": { type: "boolean" },
    },
  });
  if (values.help) return showHelp(HELP);
  const { hostname, port } = listenAddress(values, DEFAULT_UPLOAD_PORT, "upload");
  const optional = <T>(text: string | undefined, convert: (text: string) => T) =>
    text === undefined ? undefined : convert(text);
  const token = await readToken(values.token, values["token-file"]);
  if (token !== undefined && values["udp-port"] !== undefined) {
    throw new UsageError(
      "--udp-port cannot be used with a token: UDP raw uploads carry none, so all would be refused",
      "upload",
    );
  }
  const server = await serveUpload({
    hostname,
    port,
    dir: values.dir,
    onConflict: optional(
      values["on-conflict"],
      (text) => convertArg.choice(text, "--on-conflict", "upload", CONFLICT_POLICIES),
    ),
    maxSize: optional(values["max-size"], (text) => convertArg.size(text, "--max-size", "upload")),
    token,
    raw: !values["no-raw"],
    udpPort: optional(values["udp-port"], (text) => convertArg.port(text, "--udp-port", "upload")),
    maxConnections: optional(
      values["max-clients"],
      (text) => convertArg.integer(text, "--max-clients", "upload", { min: 1 }),
    ),
    idleTimeoutMs: optional(values["idle-timeout"], (text) => positiveDuration(text, "--idle-timeout")),
    keepPartialMs: optional(values["keep-partial"], (text) => convertArg.duration(text, "--keep-partial", "upload")),
    fsync: !values["no-fsync"],
    signal,
    log: serverLog(values.quiet ?? false),
  });
  announce("upload", server.endpoints);
  serverLog(values.quiet ?? false)(`upload: storing files in ${server.dir}`);
  await server.finished;
  return EXIT.ok;
}

async function send(args: string[], { signal }: RunContext): Promise<number> {
  const { values, positionals } = parseCommand(args, {
    command: "upload",
    options: {
      to: { type: "string" },
      name: { type: "string" },
      token: { type: "string" },
      "token-file": { type: "string" },
      resume: { type: "boolean" },
      timeout: { type: "string" },
      "connect-timeout": { type: "string" },
      quiet: { type: "boolean", short: "q" },
    },
    positionals: { min: 1, max: Infinity },
  });
  if (values.help) return showHelp(HELP);
  if (values.to === undefined) throw new UsageError("missing --to HOST[:PORT]: where to send", "upload");
  const address = convertArg.address(values.to, "--to", "upload", { defaultPort: DEFAULT_UPLOAD_PORT });
  if (values.name !== undefined && positionals.length > 1) {
    throw new UsageError("--name needs exactly one PATH (it names that file or folder on the server)", "upload");
  }
  const color = useColor(Deno.stdout);
  const files = await collectFiles(positionals, {
    name: values.name,
    onSkip: (path, why) => printError(`skipped ${path}: ${why}`),
  });
  if (files.length === 0) throw new Error(`Nothing to send: no files in ${positionals.join(", ")}`);
  const quiet = values.quiet ?? false;
  let bar: ProgressBar | undefined;
  const started = performance.now();
  const results = await uploadFiles(address, files, {
    token: await readToken(values.token, values["token-file"]),
    resume: values.resume,
    timeoutMs: optionalDuration(values.timeout, "--timeout"),
    connectTimeoutMs: optionalDuration(values["connect-timeout"], "--connect-timeout"),
    signal,
    onStart: (file, offset) => {
      bar = quiet ? undefined : new ProgressBar(escapeControls(file.name), { total: file.size });
      bar?.update(offset);
    },
    onProgress: (_file, position) => bar?.update(position),
    onResult: (result) => {
      bar?.done();
      bar = undefined;
      reportFile(result, quiet, color);
    },
  });
  return summarize(results, files.length, performance.now() - started, address, color);
}

function reportFile(result: UploadResult, quiet: boolean, color: boolean): void {
  const name = escapeControls(JSON.stringify(result.file.name));
  if (!result.ok) {
    // The server keeps what it received of a cut-off upload: say how to continue.
    const cutOff = result.error instanceof Deno.errors.Interrupted ||
      result.error instanceof Deno.errors.ConnectionReset ||
      result.error instanceof Deno.errors.TimedOut;
    const hint = cutOff && result.offset + result.sent > 0 ? " (run again with --resume to continue)" : "";
    printError(`${paint("failed", "red", color)} ${name}: ${result.error?.message ?? "unknown error"}${hint}`);
    return;
  }
  if (quiet) return;
  const stored = result.storedName === result.file.name
    ? ""
    : ` as ${escapeControls(JSON.stringify(result.storedName))}`;
  const resumed = result.offset > 0 ? `, resumed at ${formatBytes(result.offset)}` : "";
  print(
    `${paint("stored", "green", color)} ${name}${stored}: ${formatBytes(result.file.size)} in ` +
      `${formatDuration(result.durationMs)} (${formatRate(result.sent, result.durationMs)})${resumed}, ` +
      `sha256 ${result.sha256} verified`,
  );
}

function summarize(
  results: UploadResult[],
  total: number,
  ms: number,
  address: { hostname: string; port: number },
  color: boolean,
): number {
  const ok = results.filter((result) => result.ok);
  const bytes = results.reduce((sum, result) => sum + result.sent, 0);
  const moved = `${formatBytes(bytes)} sent to ${formatAddress(address)} in ${formatDuration(ms)} (${
    formatRate(bytes, ms)
  })`;
  if (ok.length === total) {
    print(`${paint("done", "green", color)}: ${formatCount(total, "file")} stored and verified, ${moved}`);
    return EXIT.ok;
  }
  printError(
    `${paint("incomplete", "red", color)}: ${ok.length} of ${formatCount(total, "file")} stored and verified, ${moved}`,
  );
  const interrupted = results.some((result) => result.error instanceof Deno.errors.Interrupted);
  return interrupted ? EXIT.interrupted : EXIT.failure;
}

async function readToken(token: string | undefined, file: string | undefined): Promise<string | undefined> {
  if (token !== undefined && file !== undefined) {
    throw new UsageError("give --token or --token-file, not both", "upload");
  }
  if (file === undefined) return token;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    throw new (error instanceof Deno.errors.NotFound ? Deno.errors.NotFound : Error)(
      `Cannot read the token file ${file}: ${fsReason(error)}`,
    );
  }
  const secret = text.split(/\r?\n/)[0];
  if (secret === "") throw new UsageError(`the token file ${file} is empty`, "upload");
  return secret;
}

function optionalDuration(text: string | undefined, name: string): number | undefined {
  return text === undefined ? undefined : positiveDuration(text, name);
}

function positiveDuration(text: string, name: string): number {
  const ms = convertArg.duration(text, name, "upload");
  if (ms <= 0) throw new UsageError(`invalid ${name} "${text}": it must be longer than 0`, "upload");
  return ms;
}
