/**
 * Sizes, rates, durations and counts as people read them, for logs and progress bars.
 *
 * @module
 */

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/**
 * Formats a byte count with binary units: `1.5 MiB`.
 *
 * @example Usage
 * ```ts
 * import { formatBytes } from "./format.ts";
 * formatBytes(1536); // "1.5 KiB"
 * ```
 */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${UNITS[unit]}`;
}

/**
 * Formats a count with its noun, singular for one: `1 file`, `3 files`, `2 retries`.
 *
 * @example Usage
 * ```ts
 * import { formatCount } from "./format.ts";
 * formatCount(1, "client"); // "1 client"
 * formatCount(2, "retry", "retries"); // "2 retries"
 * ```
 */
export function formatCount(count: number, singular: string, plural = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : plural}`;
}

/**
 * Formats bytes moved in `ms` milliseconds as a rate: `85.2 MiB/s`.
 *
 * @example Usage
 * ```ts
 * import { formatRate } from "./format.ts";
 * formatRate(10 * 1024 * 1024, 2000); // "5.00 MiB/s"
 * ```
 */
export function formatRate(bytes: number, ms: number): string {
  if (ms <= 0) return "-";
  return `${formatBytes(Math.round(bytes / (ms / 1000)))}/s`;
}

/**
 * Formats a duration in milliseconds: `850 ms`, `12.3 s`, `4:05`, `1:02:03`.
 *
 * @example Usage
 * ```ts
 * import { formatDuration } from "./format.ts";
 * formatDuration(245_000); // "4:05"
 * ```
 */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const total = Math.round(ms / 1000);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, "0");
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, "0")}:${seconds}` : `${minutes}:${seconds}`;
}

/**
 * Parses a size such as `100`, `64K`, `10MiB`, `1.5G` (binary multiples) into bytes.
 *
 * @example Usage
 * ```ts
 * import { parseSize } from "./format.ts";
 * parseSize("10M"); // 10485760
 * ```
 */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!match) throw new RangeError(`Invalid size "${text}": use a number with an optional K, M, G or T`);
  const power = " kmgt".indexOf(match[2].toLowerCase() || " ");
  return Math.round(Number(match[1]) * 1024 ** power);
}

/**
 * Parses a duration such as `500ms`, `30s`, `5m`, `2h` or a bare number of seconds into milliseconds.
 *
 * @example Usage
 * ```ts
 * import { parseDuration } from "./format.ts";
 * parseDuration("5m"); // 300000
 * ```
 */
export function parseDuration(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(text);
  if (!match) throw new RangeError(`Invalid duration "${text}": use a number of seconds or 500ms, 30s, 5m, 2h`);
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(match[2] ?? "s").toLowerCase()]!;
  return Math.round(Number(match[1]) * scale);
}
