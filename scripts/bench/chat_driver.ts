/**
 * Drives a chat load: starts chat_load.ts workers, waits until every client
 * is connected, starts them together, and aggregates what they saw.
 *
 * @module
 */

import { LineFramer } from "../../lib/net/line_stream.ts";
import type { HostPort } from "../../lib/net/address.ts";
import { percentile } from "./harness.ts";

/** Options for {@linkcode runChatLoad}. */
export interface ChatLoadOptions {
  /** Chat clients in all. */
  clients: number;
  /** Messages per second per sending client. */
  rate: number;
  /** Seconds of sending. */
  durationS: number;
  /** Clients that send (the rest only read); default all readers. */
  senders?: number;
  /** Clients that connect and never read (the last worker holds them). */
  silent?: number;
  /** Whether the server echoes a message to its sender (wirebox: yes, ncat: no). */
  echoToSender: boolean;
  /** Worker processes. */
  workers?: number;
  /** Called once every client is connected and before "go" (to start measuring the server). */
  onReady?: () => void;
}

/** What a chat load run saw. */
export interface ChatLoadResult {
  connectMs: number;
  sent: number;
  received: number;
  expected: number;
  lost: number;
  p50Us: number;
  p99Us: number;
  generatorCpu: number;
  sendingMs: number;
}

interface Worker {
  child: Deno.ChildProcess;
  lines: AsyncIterator<string>;
  stdin: WritableStreamDefaultWriter<Uint8Array>;
}

const SCRIPT = new URL("./chat_load.ts", import.meta.url).pathname;

async function* linesOf(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const framer = new LineFramer({ maxLineBytes: 64 << 20 });
  const out: string[] = [];
  for await (const chunk of stream) {
    framer.push(chunk, (line) => typeof line === "string" && out.push(line));
    yield* out.splice(0);
  }
}

const WORKER_TIMEOUT_MS = 120_000;

async function nextJson(worker: Worker, what: string): Promise<Record<string, unknown>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) =>
    timer = setTimeout(() => reject(new Error(`chat load worker silent for 120 s while ${what}`)), WORKER_TIMEOUT_MS)
  );
  const { value, done } = await Promise.race([worker.lines.next(), expired]).finally(() => clearTimeout(timer));
  if (done) {
    const status = await worker.child.status;
    throw new Error(`chat load worker ended (exit ${status.code}) before ${what}`);
  }
  const message = JSON.parse(value);
  if (message.error) throw new Error(`chat load worker: ${message.error}`);
  return message;
}

/** Runs one load against the chat server at `address`. */
export async function runChatLoad(address: HostPort, options: ChatLoadOptions): Promise<ChatLoadResult> {
  const workers = Math.max(1, Math.min(options.workers ?? Math.ceil(options.clients / 150), options.clients));
  const silent = options.silent ?? 0;
  const readers = options.clients - silent;
  const senders = options.senders ?? readers;
  const spawned: Worker[] = [];
  let given = 0;
  let sendersGiven = 0;
  for (let w = 0; w < workers; w++) {
    const last = w === workers - 1;
    const share = last ? options.clients - given : Math.floor(options.clients / workers);
    const workerSilent = last ? silent : 0;
    const workerSenders = last ? senders - sendersGiven : Math.min(share, Math.floor(senders / workers));
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-q",
        "--allow-net",
        "--allow-read",
        SCRIPT,
        `--host=${address.hostname}`,
        `--port=${address.port}`,
        `--clients=${share}`,
        `--first=${given}`,
        `--rate=${options.rate}`,
        `--duration=${options.durationS}`,
        `--senders=${workerSenders}`,
        `--silent=${workerSilent}`,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    spawned.push({ child, lines: linesOf(child.stdout)[Symbol.asyncIterator](), stdin: child.stdin.getWriter() });
    given += share;
    sendersGiven += workerSenders;
  }
  try {
    const ready = await Promise.all(spawned.map((worker) => nextJson(worker, "connecting")));
    const connectMs = Math.max(...ready.map((message) => Number(message.connectMs)));
    options.onReady?.();
    const started = performance.now();
    await Promise.all(spawned.map((worker) => worker.stdin.write(new TextEncoder().encode("go\n"))));
    const reports = await Promise.all(spawned.map((worker) => nextJson(worker, "reporting")));
    const sendingMs = performance.now() - started;
    const sent = reports.reduce((sum, report) => sum + Number(report.sent), 0);
    const received = reports.reduce((sum, report) => sum + Number(report.received), 0);
    const latencies = reports.flatMap((report) => report.latencyUs as number[]);
    const expected = sent * (options.echoToSender ? readers : readers - 1);
    return {
      connectMs,
      sent,
      received,
      expected,
      lost: expected - received,
      p50Us: percentile(latencies, 50),
      p99Us: percentile(latencies, 99),
      generatorCpu: reports.reduce((sum, report) => sum + Number(report.cpu), 0),
      sendingMs,
    };
  } finally {
    for (const worker of spawned) {
      await worker.stdin.close().catch(() => {});
      try {
        worker.child.kill("SIGKILL");
      } catch { /* already done */ }
      await worker.child.status;
      for (;;) if ((await worker.lines.next()).done) break;
    }
  }
}
