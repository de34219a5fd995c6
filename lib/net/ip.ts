/**
 * IP literals as bytes and back: `127.0.0.1` is 4 bytes, `::1` is 16. For
 * code that builds socket addresses itself (the libc UDP sockets) and must
 * print what it receives the way Deno does.
 *
 * @module
 */

/**
 * The bytes of an IPv4 or IPv6 literal (4 or 16 of them), or `undefined`
 * for anything else: host names, zone indexes (`fe80::1%eth0`), bad literals.
 *
 * @example Usage
 * ```ts
 * import { parseIp } from "./ip.ts";
 * parseIp("192.168.1.10"); // Uint8Array [192, 168, 1, 10]
 * parseIp("::1")?.length; // 16
 * parseIp("localhost"); // undefined
 * ```
 */
export function parseIp(text: string): Uint8Array | undefined {
  return text.includes(":") ? parseIp6(text) : parseIp4(text);
}

function parseIp4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (const [i, part] of parts.entries()) {
    // No leading zeros: "010" is octal to inet_aton and decimal to others.
    if (!/^(0|[1-9]\d{0,2})$/.test(part) || Number(part) > 255) return undefined;
    bytes[i] = Number(part);
  }
  return bytes;
}

function parseIp6(text: string): Uint8Array | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (half: string) => (half === "" ? [] : half.split(":"));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const words: number[] = [];
  const all = [...head, ...tail];
  // A trailing dotted quad (::ffff:1.2.3.4) stands for the last two groups.
  const last = all.at(-1);
  let quad: Uint8Array | undefined;
  if (last?.includes(".")) {
    quad = parseIp4(last);
    if (!quad) return undefined;
    (tail.length > 0 ? tail : head).pop();
  }
  for (const group of [...head, ...tail]) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
  }
  const explicit = head.length + tail.length + (quad ? 2 : 0);
  if (halves.length === 2 ? explicit > 7 : explicit !== 8) return undefined;
  for (const group of head) words.push(parseInt(group, 16));
  for (let i = explicit; i < 8; i++) words.push(0);
  for (const group of tail) words.push(parseInt(group, 16));
  const bytes = new Uint8Array(16);
  words.forEach((word, i) => {
    bytes[2 * i] = word >> 8;
    bytes[2 * i + 1] = word & 0xff;
  });
  if (quad) bytes.set(quad, 12);
  return bytes;
}

/**
 * An address's bytes (4 or 16) as text, the way Deno prints addresses:
 * dotted IPv4; IPv6 in its shortest form (RFC 5952: lower case, the longest
 * run of two or more zero groups as `::`), IPv4-mapped ones as `::ffff:1.2.3.4`.
 *
 * @example Usage
 * ```ts
 * import { formatIp } from "./ip.ts";
 * formatIp(new Uint8Array([127, 0, 0, 1])); // "127.0.0.1"
 * formatIp(new Uint8Array([...new Uint8Array(15), 1])); // "::1"
 * ```
 */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join(".");
  if (bytes.length !== 16) throw new RangeError(`An IP address has 4 or 16 bytes, not ${bytes.length}`);
  if (bytes.subarray(0, 10).every((byte) => byte === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return `::ffff:${bytes.subarray(12).join(".")}`;
  }
  const words = Array.from({ length: 8 }, (_, i) => (bytes[2 * i] << 8) | bytes[2 * i + 1]);
  let bestStart = -1;
  let bestLength = 1; // a single zero group is written out
  for (let start = 0; start < 8;) {
    if (words[start] !== 0) {
      start++;
      continue;
    }
    let end = start;
    while (end < 8 && words[end] === 0) end++;
    if (end - start > bestLength) [bestStart, bestLength] = [start, end - start];
    start = end;
  }
  const hex = (part: number[]) => part.map((word) => word.toString(16)).join(":");
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLength))}`;
}
