/**
 * The `wirebox` command line: parse argv once, pick the tool, run it with a
 * signal that SIGINT/SIGTERM abort, and exit with its code.
 *
 * @module
 */

import config from "./deno.json" with { type: "json" };
import { chatCommand } from "./lib/cli/chat.ts";
import type { Command } from "./lib/cli/command.ts";
import { echoCommand } from "./lib/cli/echo.ts";
import { listenCommand } from "./lib/cli/listen.ts";
import { EXIT, print, reportError, UsageError } from "./lib/cli/output.ts";
import { sendCommand } from "./lib/cli/send.ts";
import { serveCommand } from "./lib/cli/serve.ts";
import { uploadCommand } from "./lib/cli/upload.ts";

import { tftpCommand } from "./lib/cli/tftp.ts";

const COMMANDS: Command[] = [
  serveCommand,
  chatCommand,
  uploadCommand,
  tftpCommand,
  echoCommand,
  sendCommand,
  listenCommand,
];

function help(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length)) + 2;
  const list = COMMANDS.map((command) => `  ${command.name.padEnd(width)}${command.summary}`).join("\n");
  return `wirebox ${config.version}: socket tools for the LAN in one executable

Usage: wirebox <tool> [verb] [options]

Tools:
${list}

Options:
  -h, --help      show this help (or a tool's: wirebox <tool> --help)
  -V, --version   print the version

Start everything with defaults:  wirebox serve
Learn one tool:                  wirebox echo --help`;
}

/**
 * Runs the CLI with `args` (without the program name) and resolves to the
 * exit code: 0 success, 1 runtime failure, 2 usage error, 130 interrupted.
 *
 * @example Usage
 * ```ts
 * import { main } from "./main.ts";
 * const code = await main(["--version"]);
 * console.log(code); // 0
 * ```
 */
export async function main(args: string[], signal: AbortSignal = new AbortController().signal): Promise<number> {
  const [name, ...rest] = args;
  if (name === "--help" || name === "-h" || name === "help") {
    print(help());
    return EXIT.ok;
  }
  if (name === "--version" || name === "-V" || name === "version") {
    print(`wirebox ${config.version}`);
    return EXIT.ok;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  try {
    if (!command) {
      const tools = COMMANDS.map((candidate) => candidate.name).join(", ");
      throw new UsageError(
        name === undefined ? `missing tool (tools: ${tools})` : `unknown tool "${name}" (tools: ${tools})`,
      );
    }
    return await command.run(rest, { signal });
  } catch (error) {
    return reportError(error);
  }
}

/** Aborts on the first SIGINT/SIGTERM; a second one exits at once. */
function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  const onSignal = (name: Deno.Signal) => () => {
    if (controller.signal.aborted) Deno.exit(EXIT.interrupted);
    controller.abort(new Deno.errors.Interrupted(`stopped by ${name}`));
  };
  for (const name of ["SIGINT", "SIGTERM"] as const) {
    try {
      Deno.addSignalListener(name, onSignal(name));
    } catch { /* not every platform has every signal */ }
  }
  return controller.signal;
}

if (import.meta.main) {
  const code = await main(Deno.args, interruptSignal());
  // Exit explicitly: a read from an interactive stdin may still be pending.
  Deno.exit(code);
}
