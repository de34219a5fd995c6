/**
 * A load generator for line-based chat servers (wirebox chat, `ncat --chat`)
 * and IRC servers (ngIRCd): C clients, spread over several processes, send
 * 64-byte lines (flooding or at a fixed total rate); every client counts what
 * it receives, checks each sender's order, and measures latency from the time
 * stamp inside each line. The server's CPU time is read from /proc/PID/stat
 * around the run, so the result holds even when the generator itself is
 * saturated.
 *
 * With `--irc` every client registers (NICK, USER), joins #bench and waits for
 * the end of its NAMES list before the load starts; a line travels as
 * `PRIVMSG #bench :<line>`, and PINGs are answered.
 *
 *   deno run -A scripts/bench/chat_load.ts --port 9999 --pid 1234 --clients 100 --messages 200
 *   deno run -A scripts/bench/chat_load.ts --port 9999 --pid 1234 --clients 100 --rate 100 --seconds 5
 *   deno run -A scripts/bench/chat_load.ts --port 9999 --pid 1234 --clients 20 --rate 2000 --seconds 10 --stuck 1
 *   deno run -A scripts/bench/chat_load.ts --port 6667 --pid 1234 --clients 100 --messages 100 --irc
 *
 * Prints one JSON object: connect time, delivered lines, lines/s, latency
 * percentiles, loss, reordering, and CPU per delivered line for the server
 * and for the generator.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { LineFramer } from "../../lib/net/line_stream.ts";
import { writeAll } from "../../lib/net/io.ts";
import { cpuSeconds, rssBytes } from "./proc.ts";

/** How clients talk to the server: plain lines, or IRC in one channel. */
export type ChatProtocol = "text" | "irc";

interface WorkerResult {
  received: number;
  expected: number;
  reordered: number;
  latencies: number[];
  cpuMs: number;
  /** The first few errors the server sent (IRC only). */
  serverErrors: string[];
}

const LINE_BYTES = 64; // the figure; --line-bytes changes it
// One connect at a time per worker, as users arrive: simultaneous connects make
// ncat --chat drop clients from its broadcast (seen here: 68 of 19800 lines
// lost with waves of 8, none one at a time), which would blame it for our load.
const CONNECT_WAVE = 1;
const encoder = new TextEncoder();
const CHANNEL = "#bench";
// ngIRCd disconnects a client whose unparsed input fills its 2 KiB read buffer
// ("Receive buffer space exhausted"), and it reads eagerly, so TCP cannot hold
// a flooding client back: an IRC client keeps at most this many bytes of its
// lines unseen by the others, so that what the server has not parsed yet always
// fits. (Against sending without a limit, which ngIRCd survived here only
// because it kept up: at C=10 about 10% fewer lines/s and 10-15% more server CPU
// per line; at C=100 and 500 no difference beyond noise.)
const IRC_IN_FLIGHT_BYTES = 2047;
// RFC 2812 2.3: a line is at most 512 bytes with its CR LF, and the server adds
// ":nick!user@host " when it relays one; longer ones would be cut.
const IRC_MAX_LINE_BYTES = 400;

function now(): number {
  return performance.timeOrigin + performance.now();
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function line(id: string, seq: number, bytes: number, protocol: ChatProtocol): Uint8Array {
  const text = `m ${id} ${seq} ${now().toFixed(3)} `.padEnd(bytes - 1, "x");
  return encoder.encode(protocol === "irc" ? `PRIVMSG ${CHANNEL} :${text}\r\n` : text + "\n");
}

/** An IRC line's command and parameters, the prefix dropped: ":n!u@h PRIVMSG #c :hi" -> ["PRIVMSG", "#c", "hi"]. */
function ircWords(text: string): string[] {
  let rest = text.startsWith(":") ? text.slice(text.indexOf(" ") + 1) : text;
  const colon = rest.indexOf(" :");
  const trailing = colon < 0 ? [] : [rest.slice(colon + 2)];
  if (colon >= 0) rest = rest.slice(0, colon);
  return [...rest.split(" ").filter((word) => word !== ""), ...trailing];
}

/** One process's share of the clients. Reads "go" on stdin, prints its result as JSON. */
async function worker(options: {
  hostname: string;
  port: number;
  first: number;
  count: number;
  total: number;
  messages: number;
  intervalMs: number;
  selfEcho: boolean;
  sample: number;
  run: string;
  waitMs: number;
  lineBytes: number;
  protocol: ChatProtocol;
}): Promise<void> {
  const irc = options.protocol === "irc";
  const cpuStart = cpuSeconds("self") * 1000;
  const started = performance.now();
  const conns: Deno.TcpConn[] = [];
  for (let first = 0; first < options.count; first += CONNECT_WAVE) {
    const wave = Math.min(CONNECT_WAVE, options.count - first);
    conns.push(
      ...await Promise.all(Array.from({ length: wave }, async (_, offset) => {
        const conn = await Deno.connect({ hostname: options.hostname, port: options.port });
        conn.setNoDelay(true);
        if (irc) {
          const nick = `w${options.run}${options.first + first + offset}`; // the run's token: 8 hex digits
          await writeAll(conn, encoder.encode(`NICK ${nick}\r\nUSER bench 0 * :wirebox bench\r\n`));
        }
        return conn;
      })),
    );
  }
  const perReceiver = options.messages * (options.selfEcho ? options.total : options.total - 1);
  let received = 0;
  let reordered = 0;
  const latencies: number[] = [];
  const serverErrors: string[] = [];
  const done = Promise.withResolvers<void>();
  let finished = 0;
  // IRC: a client's answers to the server (PONG, JOIN) and its lines share its connection: one write at a time.
  const writing = conns.map(() => Promise.resolve());
  const send = irc
    ? (index: number, bytes: Uint8Array) => (writing[index] = writing[index].then(() => writeAll(conns[index], bytes)))
    : (index: number, bytes: Uint8Array) => writeAll(conns[index], bytes);
  const reply = (index: number, text: string) => send(index, encoder.encode(text + "\r\n")).catch(() => {});
  // IRC: a client keeps at most `window` of its lines unseen by the other
  // clients of this process (see IRC_IN_FLIGHT_BYTES).
  const window = irc && conns.length > 1
    ? Math.max(1, Math.floor(IRC_IN_FLIGHT_BYTES / line("", 0, options.lineBytes, "irc").length))
    : Infinity;
  const seen = conns.map(() => -1);
  const wakers: PromiseWithResolvers<boolean>[] = [];
  // Whether client `index` may send line `seq` (false when its lines stopped arriving).
  const roomFor = async (index: number, seq: number): Promise<boolean> => {
    while (seq - seen[index] > window) {
      const waker = (wakers[index] = Promise.withResolvers<boolean>());
      const timer = setTimeout(() => waker.resolve(false), options.waitMs);
      const moved = await waker.promise;
      clearTimeout(timer);
      if (!moved) return false;
    }
    return true;
  };
  // A client counts as connected once the server has said something to it
  // (IRC: once it has joined the channel, at the end of the NAMES list).
  const greeted = conns.map(() => Promise.withResolvers<void>());
  const readers = conns.map(async (conn, index) => {
    const last = new Map<string, number>();
    let mine = 0;
    const framer = new LineFramer({ maxLineBytes: 1 << 16 });
    const count = (text: string, at: number) => {
      const [, id, seqText, sent] = text.slice(at).split(" ", 4);
      const seq = Number(seqText);
      if ((last.get(id) ?? -1) >= seq) reordered++;
      last.set(id, seq);
      received++;
      if (mine++ % options.sample === 0) latencies.push(now() - Number(sent));
      if (mine === perReceiver && ++finished === conns.length) done.resolve();
      if (irc) {
        const sender = Number(id.slice(id.indexOf(".") + 1)) - options.first;
        if (seq > (seen[sender] ?? Infinity)) {
          seen[sender] = seq;
          wakers[sender]?.resolve(true);
        }
      }
    };
    const onText = (text: string | { overlong: true }) => {
      greeted[index].resolve();
      if (typeof text !== "string") return;
      // Found by its run's token wherever it stands: ncat --chat prefixes only the
      // first line of each chunk it relays with "<userN> ", so under a flood most
      // lines arrive without a sender (its defect, but not a loss).
      const at = text.indexOf(`m ${options.run}.`);
      if (at >= 0) count(text, at); // else not ours, or history from an earlier run
    };
    const onIrc = (text: string | { overlong: true }) => {
      if (typeof text !== "string") return;
      const [command, ...params] = ircWords(text);
      if (command === "PRIVMSG" && params[0] === CHANNEL && params[1]?.startsWith(`m ${options.run}.`)) {
        count(params[1], 0);
      } else if (command === "PING") reply(index, `PONG :${params[0] ?? ""}`);
      else if (command === "001") reply(index, `JOIN ${CHANNEL}`); // registered
      else if (command === "366") greeted[index].resolve(); // end of the channel's NAMES: joined
      else if ((command === "ERROR" || /^[45]\d\d$/.test(command)) && serverErrors.length < 3) {
        serverErrors.push(text);
      }
    };
    const onLine = irc ? onIrc : onText;
    try {
      await framer.readFrom(conn, onLine);
    } catch { /* closed at the end */ }
  });
  const greetTimeout = setTimeout(() => greeted.forEach((greeting) => greeting.resolve()), 30_000);
  await Promise.all(greeted.map((greeting) => greeting.promise));
  clearTimeout(greetTimeout);
  const connectMs = performance.now() - started;
  console.log(JSON.stringify({ ready: true, connectMs }));
  // Wait for the go line from the parent.
  const stdin = Deno.stdin.readable.getReader();
  await stdin.read();
  stdin.releaseLock();
  const senders = conns.map(async (_, index) => {
    const id = `${options.run}.${options.first + index}`;
    if (options.intervalMs === 0) {
      for (let seq = 0; seq < options.messages; seq++) {
        if (irc && !await roomFor(index, seq)) return;
        await send(index, line(id, seq, options.lineBytes, options.protocol));
        // A write that completes at once resolves as a microtask: without a
        // real yield now and then, flooding senders starve this process's readers.
        if (seq % 32 === 31) await new Promise((resolve) => setTimeout(resolve, 0));
      }
      return;
    }
    // Spread the clients' first messages over one interval, then keep the pace.
    const start = now() + (options.intervalMs * (options.first + index)) / options.total;
    for (let seq = 0; seq < options.messages; seq++) {
      const wait = start + seq * options.intervalMs - now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (irc && !await roomFor(index, seq)) return;
      await send(index, line(id, seq, options.lineBytes, options.protocol));
    }
  });
  await Promise.all(senders);
  const timeout = setTimeout(() => done.resolve(), options.waitMs);
  await done.promise;
  clearTimeout(timeout);
  for (const conn of conns) conn.close();
  await Promise.all(readers);
  const result: WorkerResult = {
    received,
    expected: perReceiver * conns.length,
    reordered,
    latencies,
    cpuMs: (cpuSeconds("self") * 1000) - cpuStart,
    serverErrors,
  };
  console.log(JSON.stringify(result));
}

/** Options for {@linkcode runChatLoad}. */
export interface ChatLoadOptions {
  hostname?: string;
  port: number;
  /** The server's process id, for its CPU time. */
  pid: number;
  clients: number;
  /** Messages each client sends. */
  messages: number;
  /** Total messages per second across all clients; 0 floods. */
  rate?: number;
  /** Processes to spread the clients over. */
  procs?: number;
  /** Whether the server sends a client its own lines back (wirebox does, ncat does not). */
  selfEcho?: boolean;
  /** Extra clients that connect and never read (slow consumers); text protocol only. */
  stuck?: number;
  /** Bytes per chat line, newline included.
   * @default {64} */
  lineBytes?: number;
  /** After sending, how long to wait for every line to arrive before counting the rest as lost.
   * @default {15000} */
  waitMs?: number;
  /** How clients talk to the server ("irc": registered, in one channel; no self-echo).
   * @default {"text"} */
  protocol?: ChatProtocol;
}

/** Runs one load round and returns its figures. */
export async function runChatLoad(options: ChatLoadOptions) {
  const protocol = options.protocol ?? "text";
  const lineBytes = options.lineBytes ?? LINE_BYTES;
  if (protocol === "irc" && (options.stuck || lineBytes > IRC_MAX_LINE_BYTES)) {
    throw new RangeError(`IRC load: no stuck clients, lines of at most ${IRC_MAX_LINE_BYTES} bytes`);
  }
  // IRC: every process needs two clients, so that each sender's lines are seen by another one there.
  const most = protocol === "irc" ? Math.floor(options.clients / 2) : options.clients;
  const procs = Math.max(1, Math.min(options.procs ?? 2, most));
  const rate = options.rate ?? 0;
  const intervalMs = rate > 0 ? (1000 * options.clients) / rate : 0;
  const run = crypto.randomUUID().slice(0, 8);
  const sample = Math.max(1, Math.floor((options.clients * options.messages * options.clients) / 200_000));
  const children = Array.from({ length: procs }, (_, index) => {
    const first = Math.floor((options.clients * index) / procs);
    const count = Math.floor((options.clients * (index + 1)) / procs) - first;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        import.meta.filename!,
        "--worker",
        JSON.stringify({
          hostname: options.hostname ?? "127.0.0.1",
          port: options.port,
          first,
          count,
          total: options.clients,
          messages: options.messages,
          intervalMs,
          selfEcho: options.selfEcho ?? protocol !== "irc",
          sample,
          run,
          waitMs: options.waitMs ?? 15_000,
          lineBytes,
          protocol,
        }),
      ],
      stdin: "piped",
      stdout: "piped",
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
      new TransformStream<string, string>(
        {
          buffer: "",
          transform(chunk, controller) {
            const parts = (this.buffer + chunk).split("\n");
            this.buffer = parts.pop()!;
            for (const part of parts) controller.enqueue(part);
          },
        } as Transformer<string, string> & { buffer: string },
      ),
    ).getReader();
    return { child, lines };
  });
  // Slow consumers: connected before the chatters, never read.
  const stuck: Deno.TcpConn[] = [];
  for (let i = 0; i < (options.stuck ?? 0); i++) {
    stuck.push(await Deno.connect({ hostname: options.hostname ?? "127.0.0.1", port: options.port }));
  }
  let connectAllMs = 0;
  for (const { lines } of children) {
    const { value } = await lines.read(); // ready
    connectAllMs = Math.max(connectAllMs, JSON.parse(value!).connectMs);
  }
  const cpuBefore = cpuSeconds(options.pid) * 1000;
  const rssBefore = rssBytes(options.pid);
  const start = performance.now();
  for (const { child } of children) {
    const writer = child.stdin.getWriter();
    await writer.write(encoder.encode("go\n"));
    await writer.close();
  }
  const results: WorkerResult[] = [];
  for (const { child, lines } of children) {
    const { value } = await lines.read();
    results.push(JSON.parse(value!));
    await child.status;
  }
  const elapsedMs = performance.now() - start;
  for (const conn of stuck) conn.close();
  const cpuMs = (cpuSeconds(options.pid) * 1000) - cpuBefore;
  const rssAfter = rssBytes(options.pid);
  const received = results.reduce((sum, result) => sum + result.received, 0);
  const expected = results.reduce((sum, result) => sum + result.expected, 0);
  const latencies = results.flatMap((result) => result.latencies).sort((a, b) => a - b);
  return {
    clients: options.clients,
    messages: options.messages,
    rate,
    connectAllMs: Math.round(connectAllMs),
    delivered: received,
    lost: expected - received,
    reordered: results.reduce((sum, result) => sum + result.reordered, 0),
    seconds: Number((elapsedMs / 1000).toFixed(2)),
    linesPerSecond: Math.round(received / (elapsedMs / 1000)),
    p50Ms: Number(percentile(latencies, 50).toFixed(2)),
    p99Ms: Number(percentile(latencies, 99).toFixed(2)),
    serverCpuMs: cpuMs,
    serverCpuUsPerLine: Number(((cpuMs * 1000) / received).toFixed(3)),
    serverRssMiB: [rssBefore, rssAfter].map((bytes) => Number((bytes / 1048576).toFixed(1))),
    generatorCpuMs: results.reduce((sum, result) => sum + result.cpuMs, 0),
    serverErrors: [...new Set(results.flatMap((result) => result.serverErrors))].slice(0, 3),
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      worker: { type: "string" },
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string" },
      pid: { type: "string" },
      clients: { type: "string", default: "100" },
      messages: { type: "string", default: "100" },
      rate: { type: "string", default: "0" },
      seconds: { type: "string" },
      procs: { type: "string", default: "2" },
      "no-self-echo": { type: "boolean" },
      stuck: { type: "string", default: "0" },
      irc: { type: "boolean" },
    },
  });
  if (values.worker) {
    await worker(JSON.parse(values.worker));
  } else {
    const clients = Number(values.clients);
    const rate = Number(values.rate);
    const messages = values.seconds ? Math.round((rate * Number(values.seconds)) / clients) : Number(values.messages);
    const result = await runChatLoad({
      hostname: values.host,
      port: Number(values.port),
      pid: Number(values.pid),
      clients,
      messages,
      rate,
      procs: Number(values.procs),
      selfEcho: !values["no-self-echo"] && !values.irc,
      stuck: Number(values.stuck),
      protocol: values.irc ? "irc" : "text",
    });
    console.log(JSON.stringify(result));
  }
}
