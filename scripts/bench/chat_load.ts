/**
 * A load generator for line-based chat servers (wirebox chat, `ncat --chat`)
 * and IRC servers (ngIRCd): C clients, spread over several processes, send
 * 64-byte lines (flooding or at a fixed total rate); every client counts what
 * it receives, checks each sender's order, and measures latency from the time
 * stamp inside each line. The server's CPU time is read from /proc/PID/stat
 * around the run, so the result holds even when the generator itself is
 * saturated.
 *
 * The generator must not be what is measured, so each worker process runs
 * its clients in one synchronous loop over libc sockets and epoll (see
 * libc_tcp.ts) and reads this run's lines straight from the received bytes
 * (chat_lines.ts): at 100 messages/s to 100 clients, 8-11 µs of CPU per line
 * received where `conn.read` and decoding took 13-17, more than the server
 * spends sending it; in a flood, a third of the CPU per line. 64-bit Linux
 * only, like the rest of the bench. The send time stamped in a line is taken
 * just before the line is handed to the kernel; the receive time once the
 * line has been read.
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
import { LineScanner } from "./chat_lines.ts";
import { TcpClients } from "./libc_tcp.ts";
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

/** What a worker is told: its share of the clients and the load. */
interface WorkerOptions {
  hostname: string;
  port: number;
  /** The number of its first client; it has `count` of the `total`. */
  first: number;
  count: number;
  total: number;
  messages: number;
  /** Between one client's lines; 0 floods. */
  intervalMs: number;
  selfEcho: boolean;
  /** One latency sample every `sample` lines a client receives. */
  sample: number;
  run: string;
  waitMs: number;
  lineBytes: number;
  protocol: ChatProtocol;
  paced: boolean;
}

/** One client of a worker. */
interface Client {
  /** As written in its lines: `<run>.<number>`. */
  id: string;
  scanner: LineScanner;
  /** The last line number seen from each sender (by number), to tell reordering. */
  last: Int32Array;
  /** Lines of this run received. */
  mine: number;
  greeted: boolean;
  /** Bytes the socket has not taken yet, oldest first; the first from `outOffset`. */
  out: Uint8Array[];
  outOffset: number;
  /** Since when `out` has not moved (0 when empty). */
  outSince: number;
  /** Its socket took only part of `out`: watched until it takes more. */
  blocked: boolean;
  /** The next line to send. */
  seq: number;
  /** Paced: when that line is due (epoch ms). */
  due: number;
  /** IRC: since when it has waited for room in its window (0 when not waiting). */
  waitingSince: number;
  /** It sends nothing more: all sent, its lines stopped arriving, or its connection failed. */
  stopped: boolean;
  closed: boolean;
}

// Flooding clients send at most this many lines each between two looks at the input, so
// that this process keeps reading what it is sent while it floods.
const FLOOD_BURST = 32;

/**
 * One process's share of the clients, in one synchronous loop over libc
 * sockets (see libc_tcp.ts for why). Reads "go" on stdin, prints its result
 * as JSON.
 */
async function worker(options: WorkerOptions): Promise<void> {
  const irc = options.protocol === "irc";
  const cpuStart = cpuSeconds("self") * 1000;
  const started = performance.now();
  const sockets = new TcpClients();
  const clients: Client[] = [];
  const perReceiver = options.messages * (options.selfEcho ? options.total : options.total - 1);
  let received = 0;
  let reordered = 0;
  let finished = 0;
  let greeted = 0;
  const latencies: number[] = [];
  const serverErrors: string[] = [];
  // IRC: a client keeps at most `window` of its lines unseen by the other
  // clients of this process (see IRC_IN_FLIGHT_BYTES).
  const window = irc && options.count > 1
    ? Math.max(1, Math.floor(IRC_IN_FLIGHT_BYTES / line("", 0, options.lineBytes, "irc").length))
    : Infinity;
  const seen: number[] = [];
  // When the clients are next looked at (performance.now()): when a line is
  // due, when one may send again, or 100 ms on.
  let scanAt = 0;

  // No more lines from `client`, and what it has waiting is dropped.
  const abandon = (client: Client) => {
    client.stopped = true;
    client.out = [];
    client.outSince = 0;
  };
  const fail = (index: number) => {
    const client = clients[index];
    abandon(client);
    client.closed = true;
    sockets.closeOne(index);
  };
  // Sends what `index` has waiting, as far as its socket takes it.
  const flush = (index: number) => {
    const client = clients[index];
    try {
      while (client.out.length > 0) {
        const bytes = client.outOffset > 0 ? client.out[0].subarray(client.outOffset) : client.out[0];
        const sent = sockets.send(index, bytes);
        if (sent > 0) client.outSince = performance.now();
        if (sent < bytes.length) {
          client.outOffset += sent;
          if (!client.blocked) sockets.watchWritable(index, true);
          client.blocked = true;
          return;
        }
        client.out.shift();
        client.outOffset = 0;
      }
    } catch {
      return fail(index);
    }
    client.outSince = 0;
    if (!client.blocked) return;
    client.blocked = false;
    sockets.watchWritable(index, false);
    scanAt = 0; // it may send again
  };
  // Queues `bytes` behind what waits; a client's lines and its answers to the server share its connection.
  const send = (index: number, bytes: Uint8Array) => {
    const client = clients[index];
    if (client.closed) return;
    if (client.out.length === 0) client.outSince = performance.now();
    client.out.push(bytes);
    if (client.out.length === 1) flush(index);
  };
  const reply = (index: number, text: string) => send(index, encoder.encode(text + "\r\n"));

  const count = (index: number, sender: number, seq: number, sent: number) => {
    const client = clients[index];
    greet(client);
    if (sender >= options.total) return; // not one of ours
    if (client.last[sender] >= seq) reordered++;
    client.last[sender] = seq;
    received++;
    if (client.mine++ % options.sample === 0) latencies.push(now() - sent);
    if (client.mine === perReceiver) finished++;
    const local = sender - options.first;
    if (irc && local >= 0 && local < clients.length && seq > seen[local]) {
      seen[local] = seq;
      if (clients[local].waitingSince > 0) scanAt = 0;
      clients[local].waitingSince = 0;
    }
  };
  const greet = (client: Client) => {
    if (client.greeted) return;
    client.greeted = true;
    greeted++;
  };
  // A client counts as connected once the server has said something to it
  // (IRC: once it has joined the channel, at the end of the NAMES list). This
  // run's lines are found by their token wherever it stands: ncat --chat
  // prefixes only the first line of each chunk it relays with "<userN> ", so
  // under a flood most lines arrive without a sender (its defect, but not a
  // loss). Other lines are not ours, or history from an earlier run.
  const onText = (index: number) => () => greet(clients[index]);
  const decoder = new TextDecoder();
  const onIrc = (index: number) => (bytes: Uint8Array) => {
    const text = decoder.decode(bytes);
    const [command, ...params] = ircWords(text);
    if (command === "PING") reply(index, `PONG :${params[0] ?? ""}`);
    else if (command === "001") reply(index, `JOIN ${CHANNEL}`); // registered
    else if (command === "366") greet(clients[index]); // end of the channel's NAMES: joined
    else if ((command === "ERROR" || /^[45]\d\d$/.test(command)) && serverErrors.length < 3) {
      serverErrors.push(text);
    }
  };
  const onOthers: ((line: Uint8Array) => void)[] = [];
  const onRuns: ((sender: number, seq: number, sent: number) => void)[] = [];

  // Waits at most `timeoutMs` for input (and for room to send), and takes it.
  const buffer = new Uint8Array(new ArrayBuffer(64 * 1024));
  const pump = (timeoutMs: number) => {
    const ready = sockets.wait(timeoutMs);
    for (let k = 0; k < ready; k++) {
      const index = sockets.readyIndex(k);
      const client = clients[index];
      if (client.closed) continue;
      if (sockets.readyWritable(k)) flush(index);
      let length: number;
      try {
        length = sockets.receive(index, buffer);
      } catch {
        length = 0; // reset: as good as closed
      }
      if (length > 0) client.scanner.push(buffer.subarray(0, length), onRuns[index], onOthers[index]);
      else if (length === 0) fail(index);
    }
  };

  // One connect at a time, as users arrive (connect blocks until it is
  // established): simultaneous connects make ncat --chat drop clients from its
  // broadcast (seen here: 68 of 19800 lines lost with waves of 8, none one at a
  // time), which would blame it for our load. Paced, each client also waits
  // for the server's greeting: ncat --chat and ngIRCd fall behind accepting
  // back-to-back connects, so a SYN in eleven waits a second for its
  // retransmission (100 clients: 7 s against 0.04 s paced).
  for (let offset = 0; offset < options.count; offset++) {
    const index = sockets.connect({ hostname: options.hostname, port: options.port });
    clients.push({
      id: `${options.run}.${options.first + offset}`,
      scanner: new LineScanner(options.run, irc ? `PRIVMSG ${CHANNEL} :` : ""),
      last: new Int32Array(options.total).fill(-1),
      mine: 0,
      greeted: false,
      out: [],
      outOffset: 0,
      outSince: 0,
      blocked: false,
      seq: 0,
      due: 0,
      waitingSince: 0,
      stopped: false,
      closed: false,
    });
    seen.push(-1);
    onOthers.push(irc ? onIrc(index) : onText(index));
    onRuns.push((sender, seq, sent) => count(index, sender, seq, sent));
    if (irc) {
      const nick = `w${options.run}${options.first + offset}`; // the run's token: 8 hex digits
      send(index, encoder.encode(`NICK ${nick}\r\nUSER bench 0 * :wirebox bench\r\n`));
    }
    if (options.paced) {
      const by = performance.now() + 5_000;
      while (!clients[index].greeted && performance.now() < by) pump(Math.min(100, by - performance.now()));
    }
  }
  const greetBy = performance.now() + 30_000;
  while (greeted < options.count && performance.now() < greetBy) pump(Math.min(100, greetBy - performance.now()));
  const connectMs = performance.now() - started;
  console.log(JSON.stringify({ ready: true, connectMs }));
  // Wait for the go line from the parent.
  const stdin = Deno.stdin.readable.getReader();
  await stdin.read();
  stdin.releaseLock();

  // Paced: the clients' first lines are spread over one interval, then each keeps the pace.
  const start = now();
  for (const [offset, client] of clients.entries()) {
    client.due = start + (options.intervalMs * (options.first + offset)) / options.total;
    if (client.closed || options.messages === 0) client.stopped = true;
  }
  let endBy = Infinity;
  // Whether `client` may send line `seq` now; gives up on it once its lines have stopped arriving for `waitMs`.
  const roomFor = (client: Client, index: number, at: number) => {
    if (client.seq - seen[index] <= window) return true;
    if (client.waitingSince === 0) client.waitingSince = at;
    else if (at - client.waitingSince > options.waitMs) abandon(client);
    return false;
  };
  const sendLine = (client: Client, index: number) => {
    send(index, line(client.id, client.seq, options.lineBytes, options.protocol));
    client.seq++;
    client.due += options.intervalMs;
    if (client.seq === options.messages) client.stopped = true; // what waits still goes out
  };
  // One turn of the loop: sends what is due (when anything may be), then takes input until more is.
  const turn = () => {
    const at = performance.now();
    if (at >= scanAt) {
      const wall = now();
      if (options.intervalMs === 0) {
        // One line per client per pass, as separate clients would send them:
        // a server then reads each client's lines one or a few at a time.
        for (let pass = 0, sent = true; pass < FLOOD_BURST && sent; pass++) {
          sent = false;
          for (let index = 0; index < clients.length; index++) {
            const client = clients[index];
            if (client.stopped || client.out.length > 0 || !roomFor(client, index, at)) continue;
            sendLine(client, index);
            sent = true;
          }
        }
      }
      let wake = 100; // at least this often: waiting clients give up after waitMs
      let sending = 0;
      for (let index = 0; index < clients.length; index++) {
        const client = clients[index];
        if (client.stopped) continue;
        if (client.outSince > 0 && at - client.outSince > options.waitMs) {
          abandon(client); // the server stopped reading it
          continue;
        }
        if (options.intervalMs > 0 && client.due <= wall && client.out.length === 0 && roomFor(client, index, at)) {
          sendLine(client, index);
        }
        if (client.stopped) continue;
        sending++;
        // A client that may send again is looked at again: at once when flooding, when its next line is due if not.
        if (client.out.length === 0 && client.waitingSince === 0) {
          wake = Math.min(wake, options.intervalMs === 0 ? 0 : client.due - wall);
        }
      }
      if (sending === 0 && endBy === Infinity) endBy = at + options.waitMs;
      scanAt = at + Math.max(0, wake);
    }
    // Bounded: the wait for the last lines ends at endBy.
    pump(Math.max(0, Math.min(scanAt, endBy) - at));
    return finished < clients.length && performance.now() < endBy;
  };
  while (turn());
  sockets.close();
  const result: WorkerResult = {
    received,
    expected: perReceiver * clients.length,
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
  /** Whether each client waits for the server's greeting before the next
   * connects: a gentler arrival, for runs whose connect time is not a figure.
   * @default {false} */
  paced?: boolean;
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
          paced: options.paced ?? false,
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
