import assert from "node:assert/strict";
import { runChatLoad } from "../../scripts/bench/chat_load.ts";
import { startWirebox } from "../../scripts/bench/wirebox.ts";
import { libcTest } from "../_helpers/ffi.ts";

for (const paced of [false, true]) {
  libcTest(
    `chat load: every line reaches every client once, in order (${paced ? "paced" : "burst"} arrival)`,
    async () => {
      const { process, endpoints } = await startWirebox([
        "chat",
        "serve",
        "--port",
        "0",
        "--rate",
        "0",
        "--history",
        "0",
        "--no-console",
        "-q",
      ]);
      try {
        const result = await runChatLoad({
          port: endpoints.tcp.port,
          pid: process.pid,
          clients: 6,
          messages: 4,
          rate: 600,
          procs: 2,
          paced,
          waitMs: 5_000,
        });
        // wirebox echoes a line to its sender too: 6 senders x 4 lines x 6 receivers.
        assert.deepEqual(
          { delivered: result.delivered, lost: result.lost, reordered: result.reordered },
          { delivered: 144, lost: 0, reordered: 0 },
        );
        assert.ok(result.p99Ms > 0 && result.p99Ms >= result.p50Ms, `p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms`);
      } finally {
        await process.stop();
      }
    },
  );
}
