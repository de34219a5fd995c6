/**
 * wirebox as a library: the servers and clients behind the `wirebox` command
 * (group chat over TCP and in the browser, echo, send, listen), and the mechanisms they share (line
 * framing, a TCP server base, UDP helpers, address parsing, atomic files,
 * safe paths).
 *
 * Every server takes an `AbortSignal` and stops gracefully when it aborts;
 * every network wait has a time limit.
 *
 * @example An echo server on a free port
 * ```ts
 * import { serveEcho } from "./mod.ts";
 * const controller = new AbortController();
 * const echo = serveEcho({ hostname: "127.0.0.1", port: 0, signal: controller.signal });
 * console.log(echo.endpoints); // ["tcp://127.0.0.1:40001", "udp://127.0.0.1:40001"]
 * controller.abort();
 * await echo.finished;
 * ```
 *
 * @example Lines from a TCP connection, capped at 4 KiB each
 * ```ts
 * import { LineStream, serveTcp } from "./mod.ts";
 * const controller = new AbortController();
 * const server = serveTcp(async (conn) => {
 *   for await (const line of conn.readable.pipeThrough(new LineStream({ maxLineBytes: 4096 }))) {
 *     console.log(typeof line === "string" ? line : "(line too long)");
 *   }
 * }, { hostname: "127.0.0.1", port: 0, signal: controller.signal });
 * controller.abort();
 * await server.finished;
 * ```
 *
 * @example A TFTP server, and a download from it into a file that appears only when complete
 * ```ts
 * import { downloadFile, serveTftp } from "./mod.ts";
 * const controller = new AbortController();
 * const tftp = serveTftp({ root: ".", hostname: "127.0.0.1", port: 0, signal: controller.signal });
 * await downloadFile(tftp.address, "deno.json", "/tmp/deno.json", { blksize: 1468, windowsize: 32 });
 * controller.abort();
 * await tftp.finished;
 * ```
 *
 * @module
 */

export * from "./lib/net/address.ts";
export * from "./lib/net/errors.ts";
export * from "./lib/net/io.ts";
export * from "./lib/net/line_stream.ts";
export * from "./lib/net/tcp_connect.ts";
export * from "./lib/net/tcp_server.ts";
export * from "./lib/net/timeout.ts";
export * from "./lib/net/udp.ts";
export * from "./lib/net/ip.ts";
export * from "./lib/net/libc_udp.ts";
export * from "./lib/fs/atomic_file.ts";
export * from "./lib/fs/safe_path.ts";
export * from "./lib/text/encoding.ts";
export * from "./lib/text/format.ts";
export * from "./lib/text/sanitize.ts";
export * from "./lib/echo/server.ts";
export * from "./lib/netcat/pump.ts";
export * from "./lib/netcat/send.ts";
export * from "./lib/netcat/listen.ts";
export * from "./lib/upload/protocol.ts";
export * from "./lib/upload/server.ts";
export * from "./lib/upload/client.ts";
export * from "./lib/upload/files.ts";
export * from "./lib/upload/udp_raw.ts";
export * from "./lib/upload/partial.ts";
export * from "./lib/tftp/packet.ts";
export * from "./lib/tftp/options.ts";
export * from "./lib/tftp/netascii.ts";
export * from "./lib/tftp/errors.ts";
export * from "./lib/tftp/rto.ts";
export * from "./lib/tftp/block_io.ts";
export * from "./lib/tftp/link.ts";
export * from "./lib/tftp/transfer_link.ts";
export * from "./lib/tftp/worker_link.ts";
export * from "./lib/tftp/backend.ts";
export * from "./lib/tftp/sender.ts";
export * from "./lib/tftp/receiver.ts";
export * from "./lib/tftp/server.ts";
export * from "./lib/tftp/client.ts";
export * from "./lib/chat/protocol.ts";
export * from "./lib/chat/rate_limit.ts";
export * from "./lib/chat/write_queue.ts";
export * from "./lib/chat/pressure.ts";
export * from "./lib/chat/member_output.ts";
export * from "./lib/chat/room.ts";
export * from "./lib/chat/tcp_transport.ts";
export * from "./lib/chat/web_protocol.ts";
export * from "./lib/chat/web_assets.ts";
export * from "./lib/chat/web_transport.ts";
export * from "./lib/chat/web_server.ts";
export * from "./lib/chat/transcript.ts";
export * from "./lib/chat/server.ts";
export * from "./lib/chat/console.ts";
export * from "./lib/chat/client.ts";
export * from "./lib/chat/line_editor.ts";
export * from "./lib/chat/terminal.ts";
