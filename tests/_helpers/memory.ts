/**
 * A process's resident memory, read with `ps` (Deno reads another process's
 * /proc entries only with --allow-all, which tests do not have).
 *
 * @module
 */

/**
 * The resident memory (RSS) of process `pid`, in bytes.
 *
 * @example Usage
 * ```ts
 * import { rssOf } from "./memory.ts";
 * console.log(await rssOf(Deno.pid));
 * ```
 */
export async function rssOf(pid: number): Promise<number> {
  const { stdout } = await new Deno.Command("ps", { args: ["-o", "rss=", "-p", String(pid)] }).output();
  const kib = Number(new TextDecoder().decode(stdout).trim());
  if (!Number.isFinite(kib) || kib <= 0) throw new Error(`Cannot read the memory of process ${pid}`);
  return kib * 1024;
}
