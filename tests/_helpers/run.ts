/**
 * Running a program to completion with a time limit: the peers in tests and
 * the contenders in benchmarks.
 *
 * @module
 */

/** Options for {@linkcode runProgram}. */
export interface RunProgramOptions {
  /** Working directory. */
  cwd?: string;
  /** Text for stdin; without it stdin is closed at once. */
  stdin?: string;
  /** Killed (SIGKILL) if still running after this long.
   * @default {30000} */
  timeoutMs?: number;
}

/** A program's output and how long it ran (from spawn to exit). */
export interface ProgramRun {
  ms: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `command ARGS...` to completion; throws, with its last lines of
 * output, if it exits non-zero (or was killed for taking too long).
 *
 * @example Usage
 * ```ts
 * import { runProgram } from "./run.ts";
 * const { stdout, ms } = await runProgram("curl", ["--version"]);
 * ```
 */
export async function runProgram(
  command: string,
  args: string[],
  options: RunProgramOptions = {},
): Promise<ProgramRun> {
  const started = performance.now();
  const child = new Deno.Command(command, {
    args,
    cwd: options.cwd,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let killed = false;
  const killer = setTimeout(() => {
    killed = true;
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
  }, options.timeoutMs ?? 30_000);
  try {
    if (options.stdin !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(options.stdin));
      await writer.close();
    }
    const output = await child.output();
    const ms = performance.now() - started;
    const decoder = new TextDecoder();
    const run = { ms, stdout: decoder.decode(output.stdout), stderr: decoder.decode(output.stderr) };
    if (output.code !== 0) {
      const why = killed ? `was killed after ${options.timeoutMs ?? 30_000} ms` : `exited with ${output.code}`;
      const tail = `${run.stdout}\n${run.stderr}`.trim().split("\n").slice(-4).join("\n");
      throw new Error(`${command} ${args.join(" ")} ${why}\n${tail}`);
    }
    return run;
  } finally {
    clearTimeout(killer);
  }
}
