/**
 * TFTP: wirebox's server against tftpd-hpa and atftpd with the same clients
 * (curl, atftp), downloads and uploads; the no-collapse sweep at blksize
 * 65464; and wirebox's client with its server against iperf3's UDP figure.
 *
 * @module
 */

import { join } from "node:path";
import { formatAddress, type HostPort } from "../../../lib/net/address.ts";
import { type PeerServer, settledSha256, startPeerServer } from "../../../tests/tftp/_support.ts";
import { type Case, type Contender, type Figures, type Scenario, targets } from "../harness.ts";
import { randomFile, sha256File, verifyFile } from "../files.ts";
import { freePort, runTimed, spawn, waitForPort } from "../processes.ts";
import { startWirebox, WIREBOX, type WireboxServer } from "../wirebox.ts";

const MB = 1e6;

/** A TFTP client invocation: how to fetch or store one file. */
interface Client {
  label: string;
  needs: string;
  get(server: HostPort, remote: string, local: string): [string, string[]];
  put(server: HostPort, local: string, remote: string): [string, string[]];
}

function curl(blksize: number): Client {
  const url = (server: HostPort, name: string) => `tftp://${formatAddress(server)}/${name}`;
  return {
    label: `curl blksize ${blksize}`,
    needs: "curl",
    get: (server, remote, local) => ["curl", ["-sS", "--tftp-blksize", `${blksize}`, "-o", local, url(server, remote)]],
    put: (server, local, remote) => ["curl", ["-sS", "--tftp-blksize", `${blksize}`, "-T", local, url(server, remote)]],
  };
}

function atftp(blksize: number, windowsize: number): Client {
  const options = [
    "--option",
    `blksize ${blksize}`,
    ...(windowsize > 1 ? ["--option", `windowsize ${windowsize}`] : []),
  ];
  return {
    label: `atftp blksize ${blksize} windowsize ${windowsize}`,
    needs: "atftp",
    get: (server, remote, local) => [
      "atftp",
      ["-g", "-r", remote, "-l", local, ...options, server.hostname, `${server.port}`],
    ],
    put: (server, local, remote) => [
      "atftp",
      ["-p", "-l", local, "-r", remote, ...options, server.hostname, `${server.port}`],
    ],
  };
}

/** wirebox on its default UDP backend (ffi where it can run), and forced onto the deno backend. */
const DENO_BACKEND = "wirebox (deno backend)";

/** The servers, all up for a whole case so that rounds can alternate. */
class Servers {
  root: string;
  wirebox: WireboxServer | undefined;
  wireboxDeno: WireboxServer | undefined;
  peers = new Map<string, PeerServer>();

  constructor(root: string) {
    this.root = root;
  }

  async start(kinds: ("tftpd-hpa" | "atftpd")[]): Promise<void> {
    const serve = [
      "tftp",
      "serve",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--root",
      this.root,
      "--create",
      "--overwrite",
    ];
    this.wirebox = await startWirebox([...serve, "-q"]);
    this.wireboxDeno = await startWirebox([...serve, "-q", "--udp-backend", "deno"]);
    for (const kind of kinds) {
      const program = kind === "tftpd-hpa" ? "in.tftpd" : "atftpd";
      if (await onPath(program)) this.peers.set(kind, await startPeerServer(kind, this.root));
    }
  }

  address(name: string): HostPort {
    if (name === "wirebox") return this.wirebox!.endpoints.udp;
    if (name === DENO_BACKEND) return this.wireboxDeno!.endpoints.udp;
    return this.peers.get(name)!.address;
  }

  async stop(): Promise<void> {
    await this.wirebox?.process.stop();
    await this.wireboxDeno?.process.stop();
    for (const peer of this.peers.values()) await peer[Symbol.asyncDispose]();
    this.peers.clear();
  }
}

/** A contender's name as part of a file name ("wirebox (deno backend)" -> "wirebox-deno-backend"). */
function slug(name: string): string {
  return name.replace(/[^A-Za-z0-9]+/g, "-").replace(/-$/, "");
}

async function onPath(program: string): Promise<boolean> {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if ((await Deno.stat(join(dir, program))).isFile) return true;
    } catch { /* not here */ }
  }
  return false;
}

export const tftp: Scenario = {
  name: "tftp",
  description: "TFTP downloads and uploads on loopback: wirebox vs tftpd-hpa vs atftpd, same clients",
  needs: [],
  cases({ quick, workdir }) {
    const root = join(workdir, "tftp-root");
    const scratch = join(workdir, "tftp-scratch");
    const servers = new Servers(root);
    const sizes = quick ? [4 * 2 ** 20] : [32 * 2 ** 20, 100 * 2 ** 20];
    const sources = new Map<number, { name: string; sha: string }>();
    const cases: Case[] = [];
    let started = false;

    // The servers start with the first TFTP case and stop after the last one.
    async function setupShared(): Promise<void> {
      if (started) return;
      started = true;
      await Deno.mkdir(root, { recursive: true });
      await Deno.chmod(root, 0o777);
      await Deno.mkdir(scratch, { recursive: true });
      for (const size of sizes) {
        const name = `source-${size}.bin`;
        await randomFile(join(root, name), size);
        sources.set(size, { name, sha: await sha256File(join(root, name)) });
      }
      await servers.start(["tftpd-hpa", "atftpd"]);
    }

    function serverContenders(
      client: Client,
      run: (server: string, address: HostPort) => Promise<Figures>,
    ): Contender[] {
      return ["wirebox", DENO_BACKEND, "tftpd-hpa", "atftpd"].map((server) => ({
        name: server,
        needs: [client.needs, ...(server === "tftpd-hpa" ? ["in.tftpd"] : server === "atftpd" ? ["atftpd"] : [])],
        run: () => run(server, servers.address(server)),
      }));
    }

    const downloadClients = quick
      ? [curl(512), atftp(1468, 32)]
      : [curl(512), curl(1468), curl(65464), atftp(1468, 8), atftp(1468, 32)];
    for (const size of sizes) {
      // 100 MiB only where transfers are fast, to keep the full run within its time.
      const clients = size > 32 * 2 ** 20 ? [curl(65464), atftp(1468, 32)] : downloadClients;
      for (const client of clients) {
        cases.push({
          scenario: "tftp-download",
          name: `${size / 2 ** 20} MiB, ${client.label}`,
          metrics: [{ key: "throughput", unit: "MB/s", higherIsBetter: true }],
          targets: [targets.atLeastBestPeer("throughput", 1.0)],
          setup: setupShared,
          contenders: serverContenders(client, async (server, address) => {
            const source = sources.get(size)!;
            const local = join(scratch, `got-${slug(server)}`);
            await Deno.remove(local).catch(() => {});
            const [command, args] = client.get(address, source.name, local);
            const { ms } = await runTimed(command, args);
            await verifyFile(local, source.sha, `${client.label} from ${server}`);
            await Deno.remove(local);
            return { throughput: size / MB / (ms / 1000) };
          }),
        });
      }
    }

    const uploadSize = sizes[0];
    const uploadClients = quick ? [curl(1468)] : [curl(512), curl(1468), curl(65464), atftp(1468, 8), atftp(1468, 32)];
    for (const client of uploadClients) {
      cases.push({
        scenario: "tftp-upload",
        name: `${uploadSize / 2 ** 20} MiB, ${client.label}`,
        metrics: [{ key: "throughput", unit: "MB/s", higherIsBetter: true }],
        targets: [targets.atLeastBestPeer("throughput", 1.0)],
        setup: setupShared,
        contenders: serverContenders(client, async (server, address) => {
          const source = sources.get(uploadSize)!;
          const remote = `up-${slug(server)}-${crypto.randomUUID().slice(0, 8)}.bin`;
          const [command, args] = client.put(address, join(root, source.name), remote);
          const { ms } = await runTimed(command, args);
          // atftpd may acknowledge the last block before the file is written: wait for it to settle.
          const stored = await settledSha256(join(root, remote), source.sha, 10_000);
          if (stored !== source.sha) throw new Error(`${client.label} into ${server}: SHA-256 mismatch`);
          await Deno.remove(join(root, remote));
          return { throughput: uploadSize / MB / (ms / 1000) };
        }),
      });
    }

    // No collapse: blksize 65464 with growing windows must stay within 2x of the best.
    const windows = quick ? [1, 8] : [1, 2, 4, 8, 16, 32];
    cases.push({
      scenario: "tftp-no-collapse",
      name: `${uploadSize / 2 ** 20} MiB, atftp blksize 65464, windowsize ${windows.join("/")}`,
      metrics: windows.map((w) => ({ key: `ws${w}`, unit: "MB/s", higherIsBetter: true })),
      targets: [{
        metric: `ws${windows.at(-1)}`,
        text: "every wirebox window within 2× of its best",
        met: () => collapseOk,
      }],
      setup: setupShared,
      contenders: ["wirebox", "atftpd"].map((server) => ({
        name: server,
        needs: ["atftp", ...(server === "atftpd" ? ["atftpd"] : [])],
        async run() {
          const figures: Figures = {};
          const source = sources.get(uploadSize)!;
          for (const w of windows) {
            const local = join(scratch, `nc-${server}-${w}`);
            const [command, args] = atftp(65464, w).get(servers.address(server), source.name, local);
            // A collapsed window can take minutes; cap it and count it as what it is.
            const { ms } = await runTimed(command, args, { timeoutMs: 120_000 });
            await verifyFile(local, source.sha, `atftp ws${w} from ${server}`);
            await Deno.remove(local);
            figures[`ws${w}`] = uploadSize / MB / (ms / 1000);
          }
          if (server === "wirebox") {
            const values = Object.values(figures);
            collapseOk = Math.min(...values) * 2 >= Math.max(...values);
          }
          return figures;
        },
      })),
    });
    let collapseOk = false;

    /** wirebox's client getting from wirebox's server at each window; the best one is the figure. */
    async function pair(server: string, clientArgs: string[]): Promise<Figures> {
      const source = sources.get(uploadSize)!;
      const figures: Figures = { throughput: 0 };
      for (const w of clientWindows) {
        const local = join(scratch, `pair-${w}`);
        await Deno.remove(local).catch(() => {});
        const { stderr } = await runTimed(Deno.execPath(), [
          ...WIREBOX,
          "tftp",
          "get",
          formatAddress(servers.address(server)),
          source.name,
          local,
          "--blksize",
          "1468",
          "--windowsize",
          `${w}`,
          ...clientArgs,
        ]);
        await verifyFile(local, source.sha, `${server} get ws${w}`);
        await Deno.remove(local);
        // The client's own transfer time, comparable with iperf3's (neither counts start-up).
        const ms = Number(/ in (\d+(?:\.\d+)?) ms/.exec(stderr)?.[1] ?? NaN) ||
          Number(/ in (\d+(?:\.\d+)?) s/.exec(stderr)?.[1] ?? NaN) * 1000;
        figures[`ws${w}`] = uploadSize / MB / (ms / 1000);
        figures.throughput = Math.max(figures.throughput, figures[`ws${w}`]);
      }
      return figures;
    }

    // wirebox client with wirebox server vs iperf3's UDP figure for 1472-byte datagrams.
    const clientWindows = quick ? [32] : [8, 32, 64];
    cases.push({
      scenario: "tftp-wirebox-pair",
      name: `${uploadSize / 2 ** 20} MiB, wirebox get, blksize 1468, vs iperf3 UDP 1472-byte datagrams`,
      metrics: [
        { key: "throughput", unit: "MB/s", higherIsBetter: true },
        ...clientWindows.map((w) => ({ key: `ws${w}`, unit: "MB/s", higherIsBetter: true })),
      ],
      targets: [targets.atLeast("throughput", "iperf3 -u -l 1472", 0.8)],
      setup: setupShared,
      async teardown() {
        await servers.stop();
      },
      contenders: [
        { name: "wirebox", run: () => pair("wirebox", []) },
        { name: DENO_BACKEND, run: () => pair(DENO_BACKEND, ["--udp-backend", "deno"]) },
        {
          name: "iperf3 -u -l 1472",
          needs: ["iperf3"],
          async run() {
            const port = freePort("tcp");
            const server = spawn("iperf3", "iperf3", ["-s", "-1", "-B", "127.0.0.1", "-p", `${port}`]);
            try {
              await waitForPort("tcp", port);
              const { stdout } = await runTimed("iperf3", [
                "-u",
                "-c",
                "127.0.0.1",
                "-p",
                `${port}`,
                "-l",
                "1472",
                "-b",
                "0",
                "-t",
                quick ? "1" : "3",
                "-J",
              ]);
              const report = JSON.parse(stdout);
              // What arrived (bits/s at the receiver), not what was offered.
              const bits = report.end?.sum_received?.bits_per_second ?? report.end?.sum?.bits_per_second;
              return { throughput: bits / 8 / MB };
            } finally {
              await server.stop();
            }
          },
        },
      ],
    });
    return cases;
  },
};
