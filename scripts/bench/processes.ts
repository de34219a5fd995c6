/**
 * Starting and stopping the processes a benchmark compares, by PID only.
 *
 * @module
 */

import { delay } from "../../lib/net/timeout.ts";
import { type ProgramRun, runProgram, type RunProgramOptions } from "../../tests/_helpers/run.ts";

/** A started process. */
export class Process {
  readonly child: Deno.ChildProcess;
  readonly name: string;
  #group: boolean;
  #stderr: Promise<string>;
  #stdout: Promise<string>;

  /** `group`: the child leads its own process group (started under setsid), and
   * stopping signals the whole group, so a shell pipeline leaves nothing behind. */
  constructor(name: string, child: Deno.ChildProcess, group = false) {
    this.name = name;
    this.child = child;
    this.#group = group;
    this.#stdout = drain(child.stdout);
    this.#stderr = drain(child.stderr);
  }

  get pid(): number {
    return this.child.pid;
  }

  /** Sends SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code and output. */
  async stop(graceMs = 3000): Promise<{ code: number; stdout: string; stderr: string }> {
    const kill = (signal: Deno.Signal) => {
      try {
        if (this.#group) Deno.kill(-this.child.pid, signal);
        else this.child.kill(signal);
      } catch { /* already gone */ }
    };
    kill("SIGTERM");
    const killer = setTimeout(() => kill("SIGKILL"), graceMs);
    try {
      const { code } = await this.child.status;
      return { code, stdout: await this.#stdout, stderr: await this.#stderr };
    } finally {
      clearTimeout(killer);
    }
  }
}

// Collects a stream's text; works on a stream someone has already read from.
async function drain(stream: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  try {
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  } catch { /* the process went away */ }
  return text;
}

/** Options for {@linkcode spawn}. */
export interface SpawnOptions {
  cwd?: string;
  /** Run in a process group of its own (setsid) and stop the whole group: for shell pipelines. */
  group?: boolean;
}

/** Spawns `command` with its output collected (stdin closed). */
export function spawn(name: string, command: string, args: string[], options: SpawnOptions = {}): Process {
  const child = new Deno.Command(options.group ? "setsid" : command, {
    args: options.group ? [command, ...args] : args,
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return new Process(name, child, options.group);
}

/** Runs `command` to completion; returns wall time and output; throws on a non-zero exit (2 minutes at most). */
export function runTimed(command: string, args: string[], options: RunProgramOptions = {}): Promise<ProgramRun> {
  return runProgram(command, args, { timeoutMs: 120_000, ...options });
}

/** A port that was free a moment ago (for peers that cannot report the one they got). */
export function freePort(transport: "tcp" | "udp"): number {
  if (transport === "tcp") {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = listener.addr as Deno.NetAddr;
    listener.close();
    return port;
  }
  const socket = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const { port } = socket.addr as Deno.NetAddr;
  socket.close();
  return port;
}

/** Waits until something listens on a loopback port (read from /proc/net), up to `timeoutMs`. */
export async function waitForPort(transport: "tcp" | "udp", port: number, timeoutMs = 10_000): Promise<void> {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const file of [`/proc/net/${transport}`, `/proc/net/${transport}6`]) {
      try {
        const table = Deno.readTextFileSync(file);
        // Local address column "0100007F:1F90"; state 0A is LISTEN for TCP.
        const listening = table.split("\n").some((line) => {
          const fields = line.trim().split(/\s+/);
          return fields[1]?.endsWith(`:${hex}`) && (transport === "udp" || fields[3] === "0A");
        });
        if (listening) return;
      } catch { /* no IPv6 table */ }
    }
    await delay(10);
  }
  throw new Error(`Nothing listened on ${transport} port ${port} after ${timeoutMs} ms`);
}
