/**
 * Process measurements from /proc (Linux): CPU time and memory of a PID and
 * its threads, fair even when the load generator saturates the machine.
 *
 * @module
 */

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU time (user + system) a process (or this one) has used, in seconds; NaN when unavailable. */
export function cpuSeconds(pid: number | "self"): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the command name (which may contain spaces) start after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return (utime + stime) / TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/** Resident memory of a process in bytes (VmRSS); NaN when unavailable. */
export function rssBytes(pid: number): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
    return kb === undefined ? NaN : Number(kb) * 1024;
  } catch {
    return NaN;
  }
}

/** Samples a process's RSS every `everyMs` until stopped; reports the peak. */
export class RssSampler {
  #pid: number;
  #peak = 0;
  #timer: ReturnType<typeof setInterval>;

  constructor(pid: number, everyMs = 50) {
    this.#pid = pid;
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), everyMs);
  }

  #sample(): void {
    const rss = rssBytes(this.#pid);
    if (rss > this.#peak) this.#peak = rss;
  }

  /** Stops sampling; returns the peak RSS seen, in bytes. */
  stop(): number {
    clearInterval(this.#timer);
    this.#sample();
    return this.#peak;
  }
}

/** A short description of the machine for the report. */
export function machine(): string {
  let cpu = "unknown CPU";
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1] ?? cpu;
  } catch { /* not Linux */ }
  const cores = navigator.hardwareConcurrency;
  const memory = Math.round(Deno.systemMemoryInfo().total / 1024 ** 3);
  return `${cpu}, ${cores} cores, ${memory} GiB, ${Deno.build.os} ${Deno.osRelease()}, Deno ${Deno.version.deno}`;
}
