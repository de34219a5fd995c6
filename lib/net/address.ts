/**
 * Parsing and formatting of `HOST`, `HOST:PORT`, `:PORT` and `[v6]:PORT`.
 *
 * @module
 */

/** A host name or IP literal together with a port, as Deno's sockets take them. */
export interface HostPort {
  /** Host name, IPv4 literal or IPv6 literal (without brackets). */
  hostname: string;
  /** Port number, 0..65535 (0 asks the OS for any free port). */
  port: number;
}

/** Options for {@linkcode parseAddress}. */
export interface ParseAddressOptions {
  /** Host used when the text names none (`:PORT`, or a bare port).
   * @default {"127.0.0.1"} */
  defaultHostname?: string;
  /** Port used when the text names none; without it a port is required. */
  defaultPort?: number;
  /** Read a text made only of digits as a port rather than a host name.
   * @default {false} */
  bareNumberIsPort?: boolean;
}

/**
 * Parses a port number, throwing a `RangeError` that names the bad text.
 *
 * @example Usage
 * ```ts
 * import { parsePort } from "./address.ts";
 * parsePort("8080"); // 8080
 * ```
 */
export function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    throw new RangeError(`Invalid port "${text}": expected a number from 0 to 65535`);
  }
  return Number(text);
}

/**
 * Parses `HOST`, `HOST:PORT`, `:PORT`, `[v6]:PORT`, `[v6]` or a bare IPv6
 * literal such as `::1`.
 *
 * @example Usage
 * ```ts
 * import { parseAddress } from "./address.ts";
 * parseAddress("[::1]:9999"); // { hostname: "::1", port: 9999 }
 * parseAddress(":69", { defaultHostname: "0.0.0.0" }); // { hostname: "0.0.0.0", port: 69 }
 * parseAddress("example.org", { defaultPort: 69 }); // { hostname: "example.org", port: 69 }
 * ```
 */
export function parseAddress(text: string, options: ParseAddressOptions = {}): HostPort {
  const { defaultHostname = "127.0.0.1", defaultPort, bareNumberIsPort = false } = options;
  const input = text.trim();
  let hostname: string;
  let portText: string | undefined;
  if (input.startsWith("[")) {
    const close = input.indexOf("]");
    if (close < 0) throw new TypeError(`Invalid address "${text}": missing "]" after an IPv6 address`);
    hostname = input.slice(1, close);
    const rest = input.slice(close + 1);
    if (rest !== "" && !rest.startsWith(":")) {
      throw new TypeError(`Invalid address "${text}": expected ":PORT" after "]"`);
    }
    if (rest !== "") portText = rest.slice(1);
    if (!hostname.includes(":")) throw new TypeError(`Invalid address "${text}": brackets are for IPv6 addresses`);
  } else if ((input.match(/:/g) ?? []).length > 1) {
    // Several colons without brackets: a bare IPv6 literal, which cannot carry a port.
    hostname = input;
  } else if (input.includes(":")) {
    [hostname, portText] = input.split(":");
  } else if (bareNumberIsPort && /^\d+$/.test(input)) {
    hostname = "";
    portText = input;
  } else {
    hostname = input;
  }
  if (hostname === "") hostname = defaultHostname;
  if (/[\s/@\\]/.test(hostname) || hostname === "") {
    throw new TypeError(`Invalid address "${text}": "${hostname}" is not a host name or IP address`);
  }
  let port: number;
  if (portText !== undefined) {
    port = parsePort(portText);
  } else if (defaultPort !== undefined) {
    port = defaultPort;
  } else {
    throw new TypeError(`Invalid address "${text}": a port is required (HOST:PORT)`);
  }
  return { hostname, port };
}

/**
 * Formats an address as `HOST:PORT`, bracketing IPv6 literals.
 *
 * @example Usage
 * ```ts
 * import { formatAddress } from "./address.ts";
 * formatAddress({ hostname: "::1", port: 69 }); // "[::1]:69"
 * ```
 */
export function formatAddress(address: HostPort): string {
  const host = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname;
  return `${host}:${address.port}`;
}

/**
 * Formats an address as a URL-like endpoint such as `udp://[::1]:69`, the
 * form every wirebox server prints on its first line.
 *
 * @example Usage
 * ```ts
 * import { formatEndpoint } from "./address.ts";
 * formatEndpoint("tcp", { hostname: "127.0.0.1", port: 9999 }); // "tcp://127.0.0.1:9999"
 * ```
 */
export function formatEndpoint(scheme: string, address: HostPort): string {
  return `${scheme}://${formatAddress(address)}`;
}

/**
 * Whether two addresses name the same host and port (IPv4-mapped IPv6 and
 * plain IPv4 compare equal), as a UDP transfer compares its peer's address.
 *
 * @example Usage
 * ```ts
 * import { sameAddress } from "./address.ts";
 * sameAddress({ hostname: "::ffff:127.0.0.1", port: 7 }, { hostname: "127.0.0.1", port: 7 }); // true
 * ```
 */
export function sameAddress(a: HostPort, b: HostPort): boolean {
  return a.port === b.port && unmapped(a.hostname) === unmapped(b.hostname);
}

function unmapped(hostname: string): string {
  return hostname.toLowerCase().replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, "$1");
}
