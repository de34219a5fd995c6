/**
 * Starting wirebox itself for a benchmark: the same entry point the tests
 * and the compiled binary run.
 *
 * @module
 */

import { endpointsOf, wireboxArgs } from "../../tests/_helpers/cli.ts";
import type { HostPort } from "../../lib/net/address.ts";
import { LineFramer } from "../../lib/net/line_stream.ts";
import { Process } from "./processes.ts";

/** The command line that runs wirebox: `deno run <the binary's permissions> main.ts`. */
export const WIREBOX: string[] = wireboxArgs();

/** A wirebox server with the endpoints its first line announced. */
export interface WireboxServer {
  process: Process;
  endpoints: Record<string, HostPort>;
}

/** Starts `wirebox ARGS...` (a server) and waits for its first line. */
export async function startWirebox(args: string[]): Promise<WireboxServer> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...WIREBOX, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Read the first line ourselves, then hand the rest of stdout to the Process (which drains it).
  const reader = child.stdout.getReader();
  const framer = new LineFramer();
  let first: string | undefined;
  while (first === undefined) {
    const { value, done } = await reader.read();
    if (done) break;
    framer.push(value, (line) => {
      if (first === undefined && typeof line === "string") first = line;
    });
  }
  reader.releaseLock();
  const process = new Process("wirebox", child);
  if (first === undefined) {
    const { stderr } = await process.stop();
    throw new Error(`wirebox ${args.join(" ")} did not start: ${stderr.trim()}`);
  }
  return { process, endpoints: endpointsOf(first) };
}
