/**
 * Transfers through a proxy that drops, duplicates and reorders 10-15% of
 * the datagrams in both directions (seeded, so a failure replays): they
 * still complete, byte for byte.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { downloadFile, uploadFile } from "../../lib/tftp/client.ts";
import { type Faults, UdpFaultProxy } from "../_helpers/udp_fault_proxy.ts";
import { backendTest, makeFile, runPeer, sha256, startOurServer, tempDir } from "./_support.ts";

const FAULTS: Faults = { drop: 0.15, duplicate: 0.1, reorder: 0.1, holdMs: 5, seed: 1 };

for (const [blksize, windowsize] of [[512, 1], [1428, 8]]) {
  backendTest(
    `faults: our client and server, blksize ${blksize} windowsize ${windowsize}, get and put`,
    async (backend) => {
      await using dir = await tempDir();
      const root = join(dir.path, "root");
      await Deno.mkdir(root);
      await using ours = startOurServer(root, { udpBackend: backend, create: true });
      await using proxy = new UdpFaultProxy(ours.address, { ...FAULTS, seed: blksize });
      const size = 150_000;
      const original = await makeFile(root, "lossy.bin", size);
      const options = { blksize, windowsize, retries: 20 };
      const got = join(dir.path, "got.bin");
      const result = await downloadFile(proxy.address, "lossy.bin", got, { ...options, udpBackend: backend });
      assert.equal(await sha256(got), await sha256(original));
      assert.equal(result.settings.windowsize, windowsize);
      const upload = await makeFile(dir.path, "up.bin", size, 99);
      await uploadFile(proxy.address, upload, "up.bin", { ...options, udpBackend: backend });
      assert.equal(await sha256(join(root, "up.bin")), await sha256(upload));
      assert.ok(proxy.stats.dropped > 0 && proxy.stats.duplicated > 0 && proxy.stats.reordered > 0, "faults happened");
    },
  );
}

backendTest("faults: netascii survives loss and reordering (CR LF split across blocks)", async (backend) => {
  await using dir = await tempDir();
  const root = join(dir.path, "root");
  await Deno.mkdir(root);
  await using ours = startOurServer(root, { udpBackend: backend, create: true });
  await using proxy = new UdpFaultProxy(ours.address, { ...FAULTS, seed: 42 });
  const text = "line\r\nbare\rcr\n".repeat(400);
  await Deno.writeTextFile(join(root, "text.txt"), text);
  const got = join(dir.path, "text.txt");
  await downloadFile(proxy.address, "text.txt", got, {
    udpBackend: backend,
    mode: "netascii",
    blksize: 100,
    windowsize: 4,
    retries: 20,
  });
  assert.equal(await Deno.readTextFile(got), text);
});

backendTest("faults: tftp-hpa and curl download from our server through the lossy proxy", async (backend) => {
  await using dir = await tempDir();
  const root = join(dir.path, "root");
  await Deno.mkdir(root);
  // curl asks for a 6 s timeout, which a server granting it must honour: each loss would cost 6 s.
  await using ours = startOurServer(root, { udpBackend: backend, acceptTimeout: false });
  const original = await makeFile(root, "lossy.bin", 100_000);
  // Seeds chosen so that the client's own request gets through: these clients wait 1-5 s to repeat it.
  for (const [client, seed] of [["tftp", 1], ["curl", 8]] as const) {
    await using proxy = new UdpFaultProxy(ours.address, { ...FAULTS, seed });
    const local = join(dir.path, `${client}.bin`);
    const port = String(proxy.address.port);
    if (client === "tftp") await runPeer("tftp", ["-m", "octet", "127.0.0.1", port, "-c", "get", "lossy.bin", local]);
    else await runPeer("curl", ["-sS", "-o", local, `tftp://127.0.0.1:${port}/lossy.bin`]);
    assert.equal(await sha256(local), await sha256(original), client);
  }
}, ["tftp", "curl"]);
