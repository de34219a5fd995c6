/**
 * Command-line parsing on `node:util` parseArgs, done once per command, with
 * typed converters that turn bad values into usage errors (exit code 2).
 *
 * @module
 */

import { parseArgs as nodeParseArgs } from "node:util";
import { type HostPort, parseAddress, type ParseAddressOptions, parsePort } from "../net/address.ts";
import { parseDuration, parseSize } from "../text/format.ts";
import { UsageError } from "./output.ts";

/** One option as node:util parseArgs describes it. */
export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
}

/** What {@linkcode parseCommand} needs to know about a command. */
export interface CommandSpec<O extends Record<string, OptionSpec>> {
  /** The command's words, for the "Try 'wirebox X --help'" hint. */
  command: string;
  /** Options besides `--help`. */
  options: O;
  /** Fewest and most positional arguments accepted.
   * @default {{ min: 0, max: 0 }} */
  positionals?: { min?: number; max?: number };
}

type Values<O extends Record<string, OptionSpec>> = {
  [K in keyof O]?: O[K]["type"] extends "boolean" ? (O[K]["multiple"] extends true ? boolean[] : boolean)
    : (O[K]["multiple"] extends true ? string[] : string);
};

/** The parsed command line. */
export interface Parsed<O extends Record<string, OptionSpec>> {
  values: Values<O> & { help?: boolean };
  positionals: string[];
}

/**
 * Parses `args` strictly: unknown options, missing values and wrong counts
 * of positionals become a {@linkcode UsageError} with one clear line.
 *
 * @example Usage
 * ```ts
 * import { parseCommand } from "./args.ts";
 * const { values, positionals } = parseCommand(["--port", "0", "x"], {
 *   command: "echo serve",
 *   options: { port: { type: "string" } },
 *   positionals: { max: 1 },
 * });
 * console.log(values.port, positionals); // "0" ["x"]
 * ```
 */
export function parseCommand<O extends Record<string, OptionSpec>>(args: string[], spec: CommandSpec<O>): Parsed<O> {
  let parsed;
  try {
    parsed = nodeParseArgs({
      args,
      options: { ...spec.options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(describeParseError(error), spec.command);
  }
  const { min = 0, max = 0 } = spec.positionals ?? {};
  const count = parsed.positionals.length;
  if (!(parsed.values as { help?: boolean }).help) {
    if (count > max) {
      throw new UsageError(`unexpected argument "${parsed.positionals[max]}"`, spec.command);
    }
    if (count < min) throw new UsageError(`missing argument${min - count > 1 ? "s" : ""}`, spec.command);
  }
  return parsed as unknown as Parsed<O>;
}

function describeParseError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string }).code;
  // Node names the option as '-p, --port <value>' or '--port': keep the long form.
  const option = /'(?:-\w, )?(--?[^' ,]+)/.exec(message)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return `unknown option ${option}`;
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    return message.includes("argument missing") ? `option ${option} needs a value` : `option ${option} takes no value`;
  }
  return message.split(". ")[0];
}

/** Wraps a converter so that its error names the option and becomes a usage error. */
function convert<T>(name: string, command: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    const reason = (error as Error).message.replace(/^Invalid [a-z]+ "[^"]*": /, "");
    throw new UsageError(`invalid ${name}: ${reason}`, command);
  }
}

/**
 * Converters from option text to typed values; each throws a UsageError naming the option.
 *
 * @example Usage
 * ```ts
 * import { convertArg } from "./args.ts";
 * convertArg.port("8080", "--port", "echo serve"); // 8080
 * convertArg.integer("3", "--retries", "tftp get", { min: 0, max: 100 }); // 3
 * ```
 */
export const convertArg = {
  port(text: string, name: string, command: string): number {
    return convert(`${name} "${text}"`, command, () => parsePort(text));
  },
  integer(text: string, name: string, command: string, range: { min?: number; max?: number } = {}): number {
    return convert(`${name} "${text}"`, command, () => {
      const { min = -Infinity, max = Infinity } = range;
      if (!/^-?\d+$/.test(text.trim()) || Number(text) < min || Number(text) > max) {
        const bounds = Number.isFinite(max) ? `from ${min} to ${max}` : `of at least ${min}`;
        throw new RangeError(`expected a whole number ${bounds}`);
      }
      return Number(text);
    });
  },
  size(text: string, name: string, command: string): number {
    return convert(`${name} "${text}"`, command, () => parseSize(text));
  },
  duration(text: string, name: string, command: string): number {
    return convert(`${name} "${text}"`, command, () => parseDuration(text));
  },
  address(text: string, name: string, command: string, options?: ParseAddressOptions): HostPort {
    return convert(`${name} "${text}"`, command, () => parseAddress(text, options));
  },
  choice<T extends string>(text: string, name: string, command: string, choices: readonly T[]): T {
    if (!(choices as readonly string[]).includes(text)) {
      throw new UsageError(`invalid ${name} "${text}": choose one of ${choices.join(", ")}`, command);
    }
    return text as T;
  },
};

/**
 * The address a server listens on, from `--host` (HOST or HOST:PORT) and
 * `--port`, defaulting to all interfaces and `defaultPort`.
 *
 * @example Usage
 * ```ts
 * import { listenAddress } from "./args.ts";
 * listenAddress({ host: "127.0.0.1", port: "0" }, 9999, "chat serve"); // { hostname: "127.0.0.1", port: 0 }
 * listenAddress({ host: "[::1]:7000" }, 9999, "chat serve"); // { hostname: "::1", port: 7000 }
 * ```
 */
export function listenAddress(
  values: { host?: string; port?: string },
  defaultPort: number,
  command: string,
): HostPort {
  const port = values.port === undefined ? defaultPort : convertArg.port(values.port, "--port", command);
  if (values.host === undefined) return { hostname: "0.0.0.0", port };
  const address = convertArg.address(values.host, "--host", command, { defaultHostname: "0.0.0.0", defaultPort: port });
  if (values.port !== undefined && address.port !== port) {
    throw new UsageError(`--host ${values.host} and --port ${values.port} name different ports`, command);
  }
  return address;
}

/** The options every server command shares: `--host`, `--port` and `--quiet`. */
export const SERVER_OPTIONS = {
  host: { type: "string" },
  port: { type: "string", short: "p" },
  quiet: { type: "boolean", short: "q" },
} as const;
