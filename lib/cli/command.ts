/**
 * The shape of a CLI command: it owns its help text and its typed options,
 * and its `run` is a thin layer over the library.
 *
 * @module
 */

import { EXIT, print, UsageError } from "./output.ts";

/** What every command's `run` receives besides its arguments. */
export interface RunContext {
  /** Aborted on SIGINT or SIGTERM: servers stop gracefully, clients give up. */
  signal: AbortSignal;
}

/** A top-level command such as `echo` or `tftp`. */
export interface Command {
  /** The word after `wirebox`. */
  name: string;
  /** One line for `wirebox --help`. */
  summary: string;
  /** The full help text for `wirebox NAME --help`. */
  help: string;
  /** Runs the command; resolves to the exit code. Throws UsageError for bad usage. */
  run(args: string[], context: RunContext): Promise<number>;
}

/** Runs one verb of a command. */
export type Verb = (args: string[], context: RunContext) => Promise<number>;

/**
 * Dispatches `wirebox TOOL VERB ...` to the verb's function. No verb prints
 * the help to stderr (exit 2); `--help` prints it to stdout (exit 0).
 *
 * @example Usage
 * ```ts
 * import { runVerb } from "./command.ts";
 * const code = await runVerb(["serve"], { signal: new AbortController().signal }, {
 *   name: "echo",
 *   help: "Usage: wirebox echo serve",
 *   verbs: { serve: () => Promise.resolve(0) },
 * });
 * console.log(code); // 0
 * ```
 */
export function runVerb(
  args: string[],
  context: RunContext,
  tool: { name: string; help: string; verbs: Record<string, Verb> },
): Promise<number> {
  const [verb, ...rest] = args;
  if (verb === "--help" || verb === "-h") return Promise.resolve(showHelp(tool.help));
  const run = verb !== undefined && Object.hasOwn(tool.verbs, verb) ? tool.verbs[verb] : undefined;
  if (!run) {
    const known = Object.keys(tool.verbs).map((name) => `"${name}"`).join(" or ");
    const what = verb === undefined ? `missing ${tool.name} command` : `unknown ${tool.name} command "${verb}"`;
    throw new UsageError(`${what} (expected ${known})`, tool.name);
  }
  return run(rest, context);
}

/** Prints a help text to stdout; returns exit code 0. */
export function showHelp(help: string): number {
  print(help);
  return EXIT.ok;
}
