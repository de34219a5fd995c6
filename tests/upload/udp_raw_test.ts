import assert from "node:assert/strict";
import { join } from "node:path";
import { listenUdp } from "../../lib/net/udp.ts";
import { serveUpload } from "../../lib/upload/server.ts";
import { peerTest } from "../_helpers/peers.ts";
import { listTree, randomBytes, sha256, waitFor, withServer } from "./_setup.ts";

const encoder = new TextEncoder();

/** The tutorials' UDP client: the file in 1024-byte datagrams, then "bye". Returns the reply it gets. */
async function sendChunks(port: number, data: Uint8Array, bye = true): Promise<string | undefined> {
  const socket = listenUdp({ hostname: "127.0.0.1", port: 0 });
  try {
    const target = { transport: "udp" as const, hostname: "127.0.0.1", port };
    for (let offset = 0; offset < data.length; offset += 1024) {
      await socket.send(data.subarray(offset, offset + 1024), target);
    }
    if (!bye) return undefined;
    await socket.send(encoder.encode("bye"), target);
    const [reply] = await socket.receive();
    return new TextDecoder().decode(reply);
  } finally {
    socket.close();
  }
}

Deno.test('udp raw: datagrams then "bye" are stored under a generated name; the sender is told', async () => {
  await withServer({ udpPort: 0 }, async ({ server, dir, logs }) => {
    const data = randomBytes(48 * 1024 + 100);
    const reply = await sendChunks(server.udp!.port, data);
    const tree = await listTree(dir);
    assert.equal(tree.length, 1);
    assert.match(tree[0], /^udp-\d{8}-\d{6}-127\.0\.0\.1-\d+\.bin$/);
    assert.equal(reply, `OK ${data.length} ${sha256(data)} ${tree[0]}\n`);
    assert.deepEqual(await Deno.readFile(join(dir, tree[0])), data);
    assert.ok(
      logs.some((line) =>
        /udp 127\.0\.0\.1:\d+ stored raw upload as "udp-.*" 48\.1 KiB in .+ \(.+\/s\), sha256 .*datagrams lost/.test(
          line,
        )
      ),
    );
  });
});

Deno.test("udp raw: two senders at once get a file each", async () => {
  await withServer({ udpPort: 0 }, async ({ server, dir }) => {
    const a = randomBytes(20_000);
    const b = randomBytes(30_000);
    await Promise.all([sendChunks(server.udp!.port, a), sendChunks(server.udp!.port, b)]);
    const stored = await Promise.all((await listTree(dir)).map((name) => Deno.readFile(join(dir, name))));
    assert.deepEqual(new Set(stored.map(sha256)), new Set([sha256(a), sha256(b)]));
  });
});

Deno.test('udp raw: a sender that goes quiet without "bye", or sends too much, is discarded', async () => {
  await withServer({ udpPort: 0, idleTimeoutMs: 200, maxSize: 10_000 }, async ({ server, dir, logs }) => {
    await sendChunks(server.udp!.port, randomBytes(5000), false);
    await waitFor(() => logs.some((line) => line.includes('no datagram for 200 ms and no "bye"')));
    await sendChunks(server.udp!.port, randomBytes(20_000), false);
    await waitFor(() => logs.some((line) => line.includes("more than the 9.77 KiB allowed")));
    assert.deepEqual(await listTree(dir), []);
  });
});

peerTest("udp raw: a Python tutorial client (sendto chunks, then b'bye')", ["python3"], async () => {
  await withServer({ udpPort: 0 }, async ({ server, dir, logs }) => {
    const data = randomBytes(30_000);
    const script = `
import socket, sys
data = sys.stdin.buffer.read()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(0, len(data), 1024):
    s.sendto(data[i:i + 1024], ("127.0.0.1", ${server.udp!.port}))
s.sendto(b"bye", ("127.0.0.1", ${server.udp!.port}))
s.close()
`;
    const child = new Deno.Command("python3", { args: ["-c", script], stdin: "piped" }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(data);
    await writer.close();
    assert.ok((await child.status).success);
    await waitFor(() => logs.some((line) => line.includes("stored raw upload")));
    const [name] = await listTree(dir);
    assert.equal(sha256(await Deno.readFile(join(dir, name))), sha256(data));
  });
});

Deno.test("udp raw: not offered with a token, which datagrams cannot carry", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(serveUpload({ port: 0, dir, token: "s3cret", udpPort: 0 }), TypeError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
