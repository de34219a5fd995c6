/**
 * Load for the chat's two transports side by side: C clients, W of them over
 * the WebSocket (`/ws`, as the page uses it) and the rest over TCP, in one
 * room. Every client sends 64-byte lines (flooding, or at a fixed total
 * rate), counts what it receives, and measures latency from the time stamp
 * inside each line, separately for TCP and web receivers. The server's CPU
 * time comes from /proc/PID/stat around the run.
 *
 *   deno run -A main.ts chat serve --port 0 --web-port 0 --rate 0 --history 0 --quiet --no-console &
 *   deno run -A scripts/bench/web_chat_load.ts --port TCP --web-port HTTP --pid $! --clients 40 --web 20 --rate 200 --seconds 5
 *   deno run -A scripts/bench/web_chat_load.ts --port TCP --web-port HTTP --pid $! --clients 40 --web 40 --messages 200
 *
 * Prints one JSON object.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { writeAll } from "../../lib/net/io.ts";
import { LineFramer } from "../../lib/net/line_stream.ts";
import { cpuSeconds } from "./proc.ts";

const LINE_BYTES = 64;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function now(): number {
  return performance.timeOrigin + performance.now();
}

function body(id: string, seq: number): string {
  const head = `m ${id} ${seq} ${now().toFixed(3)} `;
  return head + "x".repeat(Math.max(0, LINE_BYTES - 1 - head.length));
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

interface Client {
  kind: "tcp" | "web";
  id: string;
  received: number;
  latencies: number[];
  send(text: string): Promise<void> | void;
  close(): void;
  closed: Promise<void>;
}

function record(client: Client, text: string): void {
  const match = /^m (\S+) (\d+) (\d+\.\d+) /.exec(text);
  if (!match) return;
  client.received++;
  client.latencies.push(now() - Number(match[3]));
}

async function tcpClient(port: number, id: string): Promise<Client> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const framer = new LineFramer({ maxLineBytes: 1 << 16 });
  const client: Client = {
    kind: "tcp",
    id,
    received: 0,
    latencies: [],
    send: (text) => writeAll(conn, encoder.encode(text + "\n")),
    close: () => conn.close(),
    closed: Promise.resolve(),
  };
  client.closed = (async () => {
    const onLine = (line: string | { overlong: true }) => {
      if (typeof line !== "string") return;
      const at = line.indexOf("> ");
      if (at > 0) record(client, line.slice(at + 2));
    };
    try {
      await framer.readFrom(conn, onLine);
    } catch { /* closed */ }
  })();
  return client;
}

async function webClient(port: number, id: string): Promise<Client> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  socket.binaryType = "arraybuffer";
  const client: Client = {
    kind: "web",
    id,
    received: 0,
    latencies: [],
    send: (text) => socket.send(JSON.stringify({ type: "line", text })),
    close: () => socket.close(),
    closed: new Promise((resolve) => socket.addEventListener("close", () => resolve())),
  };
  socket.addEventListener("message", (event) => {
    for (const line of decoder.decode(event.data as ArrayBuffer).split("\n")) {
      if (!line.startsWith('{"type":"message"')) continue;
      record(client, JSON.parse(line).text);
    }
  });
  await new Promise((resolve, reject) => {
    socket.addEventListener("open", resolve, { once: true });
    socket.addEventListener("error", reject, { once: true });
  });
  return client;
}

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    "web-port": { type: "string" },
    pid: { type: "string" },
    clients: { type: "string", default: "40" },
    web: { type: "string", default: "20" },
    messages: { type: "string" },
    rate: { type: "string" },
    seconds: { type: "string", default: "5" },
  },
});
const clientsWanted = Number(values.clients);
const webWanted = Number(values.web);
const pid = values.pid ? Number(values.pid) : undefined;

const clients: Client[] = [];
const connectStart = now();
for (let index = 0; index < clientsWanted; index++) {
  const id = `c${index}`;
  clients.push(
    index < webWanted ? await webClient(Number(values["web-port"]), id) : await tcpClient(Number(values.port), id),
  );
}
const connectMs = now() - connectStart;
// Let the joins and welcomes settle before the clock starts.
await new Promise((resolve) => setTimeout(resolve, 500));

const cpuBefore = pid ? cpuSeconds(pid) * 1000 : 0;
const started = now();
let sent = 0;
if (values.messages) {
  const count = Number(values.messages);
  await Promise.all(clients.map(async (client) => {
    for (let seq = 0; seq < count; seq++) {
      await client.send(body(client.id, seq));
      sent++;
      if (client.kind === "web" && seq % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }));
} else {
  const rate = Number(values.rate ?? 100);
  const total = Math.round(rate * Number(values.seconds));
  const gap = 1000 / rate;
  for (let seq = 0; seq < total; seq++) {
    const due = started + seq * gap;
    const wait = due - now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const client = clients[seq % clients.length];
    await client.send(body(client.id, seq));
    sent++;
  }
}
const expected = sent * clients.length;
const deadline = now() + 30_000;
while (clients.reduce((sum, client) => sum + client.received, 0) < expected && now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 20));
}
const elapsedMs = now() - started;
const cpuAfter = pid ? cpuSeconds(pid) * 1000 : 0;
const delivered = clients.reduce((sum, client) => sum + client.received, 0);

function latency(kind: "tcp" | "web") {
  const all = clients.filter((client) => client.kind === kind).flatMap((client) => client.latencies).sort((a, b) =>
    a - b
  );
  return {
    receivers: clients.filter((client) => client.kind === kind).length,
    p50: Number(percentile(all, 50).toFixed(2)),
    p99: Number(percentile(all, 99).toFixed(2)),
    max: Number((all.at(-1) ?? NaN).toFixed(2)),
  };
}

console.log(JSON.stringify({
  clients: clientsWanted,
  web: webWanted,
  connectMs: Math.round(connectMs),
  sent,
  delivered,
  expected,
  lost: expected - delivered,
  seconds: Number((elapsedMs / 1000).toFixed(2)),
  linesPerSecond: Math.round(delivered / (elapsedMs / 1000)),
  serverCpuUsPerLine: pid ? Number((((cpuAfter - cpuBefore) * 1000) / Math.max(1, delivered)).toFixed(3)) : undefined,
  latencyMs: { tcp: latency("tcp"), web: latency("web") },
}));
for (const client of clients) client.close();
await Promise.all(clients.map((client) => client.closed));
