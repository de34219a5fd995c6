/**
 * Upload: a large file into wirebox's upload server (verified, atomic) against
 * a raw `nc -l > file` (no integrity at all) and `nc | tee file | sha256sum`.
 *
 * @module
 */

import { join } from "node:path";
import { formatAddress } from "../../../lib/net/address.ts";
import { type Case, type Figures, type Scenario, targets } from "../harness.ts";
import { RssSampler } from "../proc.ts";
import { freePort, runTimed, spawn, waitForPort } from "../processes.ts";
import { randomFile, sha256File, verifyFile } from "../files.ts";
import { startWirebox, WIREBOX } from "../wirebox.ts";

const MB = 1e6;

export const upload: Scenario = {
  name: "upload",
  description: "one large file over TCP on loopback: wirebox upload vs nc pipes",
  needs: ["nc", "sha256sum", "tee", "sh"],
  cases({ quick, workdir }) {
    const size = quick ? 64 * 2 ** 20 : 2 ** 30;
    const source = join(workdir, "upload-source.bin");
    const inbox = join(workdir, "upload-inbox");
    let expected = "";
    const throughput = (ms: number): Figures["x"] => size / MB / (ms / 1000);

    async function wirebox(extra: string[]): Promise<Figures> {
      await Deno.remove(inbox, { recursive: true }).catch(() => {});
      await Deno.mkdir(inbox);
      const server = await startWirebox([
        "upload",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--dir",
        inbox,
        "-q",
        ...extra,
      ]);
      const rss = new RssSampler(server.process.pid);
      try {
        const { ms } = await runTimed(Deno.execPath(), [
          ...WIREBOX,
          "upload",
          "send",
          source,
          "--to",
          formatAddress(server.endpoints.tcp),
        ]);
        const peak = rss.stop();
        await verifyFile(join(inbox, "upload-source.bin"), expected, "wirebox upload");
        return { throughput: throughput(ms), rss: peak / MB };
      } finally {
        rss.stop();
        await server.process.stop();
      }
    }

    async function ncPipe(pipeline: (port: number, out: string) => string): Promise<Figures> {
      const out = join(workdir, "upload-nc.bin");
      await Deno.remove(out).catch(() => {});
      const port = freePort("tcp");
      const receiver = spawn("nc receiver", "sh", ["-c", pipeline(port, out)], { group: true });
      const rss = new RssSampler(receiver.pid);
      try {
        await waitForPort("tcp", port);
        const started = performance.now();
        await runTimed("sh", ["-c", `nc -N 127.0.0.1 ${port} < '${source}'`]);
        // The transfer is done when the receiving pipeline has written everything and exited.
        const { code } = await receiver.child.status;
        const ms = performance.now() - started;
        if (code !== 0) throw new Error(`receiving pipeline exited ${code}`);
        const peak = rss.stop();
        await verifyFile(out, expected, "nc");
        return { throughput: throughput(ms), rss: peak / MB };
      } finally {
        rss.stop();
        await receiver.stop();
        await Deno.remove(out).catch(() => {});
      }
    }

    const benchCase: Case = {
      scenario: "upload",
      name: `${size / 2 ** 20} MiB file`,
      metrics: [
        { key: "throughput", unit: "MB/s", higherIsBetter: true },
        { key: "rss", unit: "MB server RSS", higherIsBetter: false },
      ],
      targets: [
        targets.atLeast("throughput", "nc -l > file", 0.6),
        targets.atLeast("throughput", "nc -l > file", 0.6, "wirebox --no-fsync"),
        targets.atLeast("throughput", "nc + tee + sha256sum", 2),
        targets.absolute("rss", "<=", 100, "MB"),
      ],
      async setup() {
        await randomFile(source, size);
        expected = await sha256File(source);
      },
      async teardown() {
        await Deno.remove(source).catch(() => {});
        await Deno.remove(inbox, { recursive: true }).catch(() => {});
      },
      contenders: [
        { name: "wirebox", run: () => wirebox([]) },
        { name: "wirebox --no-fsync", run: () => wirebox(["--no-fsync"]) },
        {
          name: "nc -l > file",
          needs: ["nc"],
          run: () => ncPipe((port, out) => `nc -l 127.0.0.1 ${port} > '${out}'`),
        },
        {
          name: "nc + tee + sha256sum",
          needs: ["nc", "tee", "sha256sum"],
          run: () => ncPipe((port, out) => `nc -l 127.0.0.1 ${port} | tee '${out}' | sha256sum > /dev/null`),
        },
      ],
    };
    return [benchCase];
  },
};
