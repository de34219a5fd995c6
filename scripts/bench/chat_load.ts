/**
 * Chat load generator worker: holds a share of the chat clients in one
 * process. The driver (chat_driver.ts) starts several, so the generator is
 * not the bottleneck.
 *
 * Protocol with the driver, one line each way:
 *   worker -> driver: {"ready":true,"connectMs":N}   once every client is connected and greeted
 *   driver -> worker: "go"                          start sending
 *   worker -> driver: {"sent":..,"received":..,"latencyUs":[...],"cpu":..}  after the drain
 *
 * Each chat line is `B <sender> <seq> <sentAtUs> xxx...`, padded to the line size;
 * receivers find the token anywhere in a line, so any server format works.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { writeAll } from "../../lib/net/io.ts";
import { LineFramer } from "../../lib/net/line_stream.ts";
import { cpuUsage } from "node:process";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string" },
    clients: { type: "string", default: "10" },
    first: { type: "string", default: "0" },
    rate: { type: "string", default: "10" }, // messages per second per client
    duration: { type: "string", default: "5" }, // seconds of sending
    size: { type: "string", default: "64" }, // bytes per line, newline included
    senders: { type: "string" }, // how many of this worker's clients send (default: all)
    silent: { type: "string", default: "0" }, // clients that connect but never read (slow consumers)
    drain: { type: "string", default: "1500" }, // ms without new lines that ends the run
    reservoir: { type: "string", default: "50000" },
  },
});

const clients = Number(values.clients);
const first = Number(values.first);
const rate = Number(values.rate);
const durationMs = Number(values.duration) * 1000;
const size = Number(values.size);
const senders = values.senders === undefined ? clients : Number(values.senders);
const silent = Number(values.silent);
const drainMs = Number(values.drain);
const reservoirSize = Number(values.reservoir);
const address = { hostname: values.host!, port: Number(values.port) };
const GREETING_TIMEOUT_MS = 60_000;
const encoder = new TextEncoder();
const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);

// Reservoir sampling keeps latency memory bounded however many lines arrive.
const latencies = new Float64Array(reservoirSize);
let seen = 0;
function recordLatency(us: number): void {
  if (seen < reservoirSize) latencies[seen] = us;
  else {
    const slot = Math.floor(Math.random() * (seen + 1));
    if (slot < reservoirSize) latencies[slot] = us;
  }
  seen++;
}

let received = 0;
let lastArrival = performance.now();
const conns: Deno.TcpConn[] = [];

async function reader(conn: Deno.TcpConn, greeted: () => void): Promise<void> {
  const framer = new LineFramer({ maxLineBytes: 1 << 16 });
  const buffer = new Uint8Array(256 * 1024);
  let first = true;
  const onLine = (line: string | { overlong: true }) => {
    if (typeof line !== "string") return;
    if (first) {
      first = false;
      greeted();
    }
    const at = line.indexOf("B ");
    if (at < 0) return;
    const parts = line.slice(at + 2).split(" ", 3);
    if (parts.length < 3) return;
    const sentAt = Number(parts[2]);
    if (!Number.isFinite(sentAt)) return;
    received++;
    lastArrival = performance.now();
    recordLatency(nowUs() - sentAt);
  };
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      framer.push(buffer.subarray(0, n), onLine);
    }
  } catch { /* closed at the end */ }
}

function line(sender: number, seq: number): Uint8Array {
  const head = `B ${sender} ${seq} ${nowUs()} `;
  return encoder.encode(head.padEnd(size - 1, "x") + "\n");
}

// Connect everyone; a client counts as connected once the server has sent it a first line.
const connectStarted = performance.now();
const readers: Promise<void>[] = [];
const greetings: Promise<void>[] = [];
// One after another, each reading at once, as users arrive (and as ncat's figure was taken:
// with many simultaneous connects ncat --chat never greets some clients at all).
for (let i = 0; i < clients; i++) {
  const conn = await Deno.connect(address);
  conns.push(conn);
  conn.setNoDelay(true);
  if (i >= clients - silent) {
    greetings.push(Promise.resolve()); // never reads: the slow consumer
    continue;
  }
  let greeted!: () => void;
  greetings.push(new Promise<void>((resolve) => greeted = resolve));
  readers.push(reader(conn, greeted));
}
// Bounded: a server that never greets some clients fails the run instead of hanging it.
let greetTimer: ReturnType<typeof setTimeout> | undefined;
const greetedAll = await Promise.race([
  Promise.all(greetings).then(() => true),
  new Promise<boolean>((resolve) => greetTimer = setTimeout(() => resolve(false), GREETING_TIMEOUT_MS)),
]);
clearTimeout(greetTimer);
if (!greetedAll) {
  console.log(JSON.stringify({ error: `not every client was greeted within ${GREETING_TIMEOUT_MS / 1000} s` }));
  Deno.exit(1);
}
const connectMs = performance.now() - connectStarted;
console.log(JSON.stringify({ ready: true, connectMs }));

// Wait for "go".
const stdin = Deno.stdin.readable.getReader();
await stdin.read();
stdin.releaseLock();

// Send at `rate` per client from one 10 ms tick for all clients.
let sent = 0;
const seq = new Array(senders).fill(0);
const started = performance.now();
while (performance.now() - started < durationMs) {
  const due = Math.floor(((performance.now() - started) / 1000) * rate);
  const writes: Promise<void>[] = [];
  for (let i = 0; i < senders; i++) {
    // Everything due for one client goes out in one write, in order.
    const lines: Uint8Array[] = [];
    while (seq[i] < due) lines.push(line(first + i, seq[i]++));
    if (lines.length === 0) continue;
    sent += lines.length;
    const bytes = new Uint8Array(lines.length * size);
    lines.forEach((chunk, k) => bytes.set(chunk, k * size));
    writes.push(writeAll(conns[i], bytes));
  }
  await Promise.all(writes);
  await new Promise((resolve) => setTimeout(resolve, 10));
}

// Drain: wait until nothing has arrived for a while.
lastArrival = performance.now();
while (performance.now() - lastArrival < drainMs) await new Promise((resolve) => setTimeout(resolve, 50));
for (const conn of conns) {
  try {
    conn.close();
  } catch { /* closed by the server */ }
}
await Promise.all(readers);
console.log(JSON.stringify({
  sent,
  received,
  latencyUs: Array.from(latencies.subarray(0, Math.min(seen, reservoirSize))),
  cpu: ownCpuSeconds(),
}));

// Our own /proc entry needs --allow-all in Deno; node:process reports the same figure.
function ownCpuSeconds(): number {
  const { user, system } = cpuUsage();
  return (user + system) / 1e6;
}
