/**
 * Chat: wirebox's chat server against `ncat --chat` and the IRC server ngIRCd
 * under fan-out floods, at a steady 100 messages/s, and with a client that
 * never reads.
 *
 * @module
 */

import { join } from "node:path";
import { type ChatProtocol, runChatLoad } from "../chat_load.ts";
import { type Case, type Contender, DataLossError, type Figures, type Scenario, targets } from "../harness.ts";
import { RssSampler } from "../proc.ts";
import { freePort, type Process, spawn, waitForPort } from "../processes.ts";
import { startWirebox } from "../wirebox.ts";

/** A chat server under test. */
interface ChatServer {
  process: Process;
  port: number;
  /** Whether it sends a client its own lines back. */
  selfEcho: boolean;
  protocol: ChatProtocol;
}

async function startWireboxChat(): Promise<ChatServer> {
  const { process, endpoints } = await startWirebox([
    "chat",
    "serve",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--rate",
    "0", // flood control off: the load is the point
    "--history",
    "0",
    "--max-clients",
    "2000",
    "--no-console",
    "-q",
  ]);
  return { process, port: endpoints.tcp.port, selfEcho: true, protocol: "text" };
}

async function startNcatChat(): Promise<ChatServer> {
  const port = freePort("tcp");
  const process = spawn("ncat --chat", "ncat", ["--chat", "-l", "127.0.0.1", `${port}`, "--max-conns", "2000"]);
  await waitForPort("tcp", port);
  return { process, port, selfEcho: false, protocol: "text" };
}

/**
 * ngIRCd, in the foreground, on loopback, with its flood protection off as far
 * as it goes. By default it stops reading a client for a second whenever that
 * client sends more than 256 bytes in a second or more commands than it handles
 * in one pass (3): flooding clients then get about 3 lines a second through
 * (measured: 10 clients, 284 lines/s delivered), and the bench would time the
 * throttle. "MaxPenaltyTime = 0" makes every such penalty 0 seconds; user mode
 * F (which only an IRC operator may set, given to every client here through
 * DefaultUserModes) exempts a client from throttling and lets a pass handle 10
 * of its commands. What stays: a client whose unparsed input reaches 2 KiB is
 * disconnected, so the IRC load keeps less than 2 KiB of a client's lines in
 * flight (chat_load.ts); and a client with 32 KiB of output pending is
 * disconnected, which the bench would report as lost lines.
 */
async function startNgircd(workdir: string): Promise<ChatServer> {
  const port = freePort("tcp");
  const dir = await Deno.makeTempDir({ dir: workdir, prefix: "ngircd-" });
  const includes = join(dir, "conf.d"); // empty: keeps out the system's /etc/ngircd/ngircd.conf.d
  await Deno.mkdir(includes);
  const config = join(dir, "ngircd.conf");
  await Deno.writeTextFile(
    config,
    [
      "[Global]",
      "Name = bench.wirebox.invalid",
      "Info = wirebox bench",
      "AdminInfo1 = wirebox bench",
      "AdminInfo2 = loopback",
      "AdminEMail = bench@wirebox.invalid",
      "Listen = 127.0.0.1",
      `Ports = ${port}`,
      "MotdPhrase = bench",
      "[Limits]",
      "MaxConnections = 2100",
      "MaxConnectionsIP = 0",
      "MaxJoins = 10",
      "MaxNickLength = 20",
      "MaxPenaltyTime = 0",
      "PingTimeout = 300",
      "PongTimeout = 60",
      "[Options]",
      "DNS = no",
      "Ident = no",
      "PAM = no",
      "DefaultUserModes = F",
      `IncludeDir = ${includes}`,
      "",
    ].join("\n"),
  );
  const process = spawn("ngircd", "ngircd", ["--nodaemon", "--config", config]);
  await waitForPort("tcp", port);
  return { process, port, selfEcho: false, protocol: "irc" };
}

interface ChatServerKind {
  name: string;
  needs: string[];
  start: (workdir: string) => Promise<ChatServer>;
}

const WIREBOX: ChatServerKind = { name: "wirebox", needs: [], start: startWireboxChat };
const NCAT: ChatServerKind = { name: "ncat --chat", needs: ["ncat"], start: startNcatChat };
const NGIRCD: ChatServerKind = { name: "ngircd", needs: ["ngircd"], start: startNgircd };

type Load = Parameters<typeof runChatLoad>[0];

/** One run: a fresh server, one load, figures; loss or reordering fails the run. */
async function measure(
  server: ChatServer,
  load: Omit<Load, "port" | "pid" | "selfEcho">,
  quick: boolean,
): Promise<Figures> {
  const rss = new RssSampler(server.process.pid);
  const result = await runChatLoad({
    waitMs: quick ? 3_000 : 15_000,
    ...load,
    port: server.port,
    pid: server.process.pid,
    selfEcho: server.selfEcho,
    protocol: server.protocol,
  });
  const figures: Figures = {
    linesPerSecond: result.linesPerSecond,
    p50: result.p50Ms,
    p99: result.p99Ms,
    cpuPerLine: result.serverCpuUsPerLine,
    connect: result.connectAllMs,
    rss: rss.stop() / 1e6,
    lost: result.lost,
    generatorCpu: result.generatorCpuMs,
  };
  if (result.lost > 0 || result.reordered > 0) {
    const said = result.serverErrors.length > 0 ? `; the server said: ${result.serverErrors.join(" / ")}` : "";
    throw new DataLossError(
      `${result.lost} of ${result.lost + result.delivered} lines undelivered, ${result.reordered} out of order ` +
        `(p99 ${result.p99Ms} ms, ${result.seconds} s)${said}`,
      figures,
    );
  }
  return figures;
}

function contenders(
  servers: ChatServerKind[],
  workdir: string,
  run: (server: ChatServer) => Promise<Figures>,
): Contender[] {
  return servers.map(({ name, needs, start }) => ({
    name,
    needs,
    async run() {
      const server = await start(workdir);
      try {
        return await run(server);
      } finally {
        await server.process.stop();
      }
    },
  }));
}

const FANOUT_METRICS = [
  { key: "linesPerSecond", unit: "lines/s delivered", higherIsBetter: true },
  { key: "cpuPerLine", unit: "µs server CPU per delivered line", higherIsBetter: false },
  { key: "p50", unit: "ms p50", higherIsBetter: false },
  { key: "p99", unit: "ms p99", higherIsBetter: false },
  { key: "connect", unit: "ms to connect all", higherIsBetter: false },
  { key: "generatorCpu", unit: "ms load-generator CPU", higherIsBetter: false },
];

export const chat: Scenario = {
  name: "chat",
  description: "group chat fan-out, steady latency and a slow consumer: wirebox chat vs ncat --chat and ngIRCd",
  needs: [],
  cases({ quick, workdir }) {
    const cases: Case[] = [];
    // Flood: every client sends `messages` lines as fast as the server takes them.
    const floods = quick
      ? [{ clients: 10, messages: 200 }, { clients: 100, messages: 5 }]
      : [{ clients: 10, messages: 2000 }, { clients: 100, messages: 100 }, { clients: 500, messages: 4 }];
    for (const { clients, messages } of floods) {
      cases.push({
        scenario: "chat-fanout",
        name: `C=${clients}, ${messages} 64-byte lines each, flooding`,
        metrics: FANOUT_METRICS,
        targets: [
          ...(clients === 100 ? [targets.absolute("cpuPerLine", "<=", 0.5, "µs")] : []),
          ...(clients === 500 ? [targets.absolute("connect", "<=", 2000, "ms")] : []),
        ],
        contenders: contenders(
          [WIREBOX, NCAT, NGIRCD],
          workdir,
          (server) => measure(server, { clients, messages, procs: clients > 50 ? 2 : 1 }, quick),
        ),
      });
    }

    // Steady: 100 clients, 100 messages per second in all.
    const seconds = quick ? 1 : 5;
    cases.push({
      scenario: "chat-latency",
      name: `C=100 at 100 messages/s for ${seconds} s`,
      metrics: FANOUT_METRICS.filter((metric) => ["p50", "p99", "cpuPerLine"].includes(metric.key)),
      targets: [targets.absolute("p99", "<=", 2, "ms")],
      contenders: contenders(
        [WIREBOX, NCAT, NGIRCD],
        workdir,
        (server) =>
          measure(
            server,
            { clients: 100, rate: 100, messages: Math.round((100 * seconds) / 100), procs: 2, paced: true },
            quick,
          ),
      ),
    });

    // A client that never reads, among 20 chatters: the others must not notice.
    // 1 KiB lines, so that what piles up for the stuck client outgrows its socket
    // buffers (several MB on loopback) within the run: only then does a server that
    // blocks on one client show it. ngIRCd sits this one out: IRC lines end at 512
    // bytes (RFC 2812; it disconnects a client that sends a longer one), so it
    // cannot carry this load, and it drops a client with 32 KiB of output pending
    // rather than keep serving it.
    const chatters = 20;
    const slowMessages = quick ? 200 : 1000; // each, at 2000 lines/s in all: 4 MB / 20 MB
    cases.push({
      scenario: "chat-slow-consumer",
      name: `${chatters} chatters, 1 KiB lines at 2000 lines/s, with and without one client that never reads`,
      metrics: [
        { key: "p99", unit: "ms p99 with the stuck client", higherIsBetter: false },
        { key: "p99Baseline", unit: "ms p99 without it", higherIsBetter: false },
        { key: "slowdown", unit: "× p99 with / without", higherIsBetter: false },
        { key: "rss", unit: "MB server peak RSS", higherIsBetter: false },
      ],
      targets: [targets.absolute("slowdown", "<=", 2, "×"), targets.absolute("rss", "<=", 100, "MB")],
      contenders: contenders([WIREBOX, NCAT], workdir, async (server) => {
        const load = { clients: chatters, messages: slowMessages, rate: 2000, procs: 1, lineBytes: 1024, paced: true };
        const baseline = await measure(server, load, quick);
        const stuck = await measure(server, { ...load, stuck: 1 }, quick);
        return {
          p99: stuck.p99,
          p99Baseline: baseline.p99,
          slowdown: stuck.p99 / baseline.p99,
          rss: stuck.rss,
        };
      }),
    });
    return cases;
  },
};
