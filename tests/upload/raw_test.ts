import assert from "node:assert/strict";
import { join } from "node:path";
import { peerTest } from "../_helpers/peers.ts";
import { listTree, randomBytes, RawClient, sha256, waitFor, withServer } from "./_setup.ts";

const RAW_NAME = /^raw-\d{8}-\d{6}-127\.0\.0\.1-\d+\.bin$/;

Deno.test("raw: a plain socket client's bytes are stored until EOF under a generated name", async () => {
  await withServer({}, async ({ dir, address, logs }) => {
    const data = randomBytes(1_500_000);
    const client = await RawClient.connect(address);
    try {
      // What the tutorials' client does: send everything, then close.
      await client.send(data);
      await client.closeWrite();
      const [reply] = await client.ended();
      const tree = await listTree(dir);
      assert.equal(tree.length, 1);
      assert.match(tree[0], RAW_NAME);
      assert.equal(reply, `OK ${data.length} ${sha256(data)} ${tree[0]}`);
      assert.deepEqual(await Deno.readFile(join(dir, tree[0])), data);
      assert.ok(logs.some((line) => line.includes(`stored raw upload as "${tree[0]}" 1.43 MiB`)));
    } finally {
      await client.close();
    }
  });
});

Deno.test("raw: bytes that begin like the header but are not it are raw; an empty connection stores nothing", async () => {
  await withServer({}, async ({ dir, address, logs }) => {
    for (const text of ["WIRE", "WIREBOX-UPLOADX", "W"]) {
      const client = await RawClient.connect(address);
      try {
        await client.send(text);
        await client.closeWrite();
        assert.match((await client.ended())[0], /^OK /);
      } finally {
        await client.close();
      }
    }
    const empty = await RawClient.connect(address);
    await empty.closeWrite();
    assert.deepEqual(await empty.ended(), []);
    await empty.close();
    const stored = await Promise.all((await listTree(dir)).map((name) => Deno.readTextFile(join(dir, name))));
    assert.deepEqual(stored.sort(), ["W", "WIRE", "WIREBOX-UPLOADX"]);
    assert.ok(logs.some((line) => line.endsWith("closed without sending anything; nothing stored")));
  });
});

Deno.test("raw: a sender that never closes stores nothing and is told why", async () => {
  await withServer({ idleTimeoutMs: 300 }, async ({ dir, address, logs }) => {
    const client = await RawClient.connect(address);
    try {
      await client.send("data without an end");
      const [reply] = await client.ended();
      assert.match(reply, /^ERROR timeout no data for 300 ms$/);
    } finally {
      await client.close();
    }
    assert.deepEqual(await listTree(dir), []);
    assert.ok(
      logs.some((line) => line.includes("a raw upload ends only when the sender closes (nc needs -N or -q 0)")),
    );
  });
});

Deno.test("raw: --max-size and --no-raw refuse raw uploads, storing nothing", async () => {
  await withServer({ maxSize: 1000 }, async ({ dir, address }) => {
    const client = await RawClient.connect(address);
    try {
      await client.send(randomBytes(5000));
      await client.closeWrite();
      assert.match((await client.ended())[0], /^ERROR too-large more than the 1000 B allowed$/);
    } finally {
      await client.close();
    }
    assert.deepEqual(await listTree(dir), []);
  });
  await withServer({ raw: false }, async ({ dir, address }) => {
    const client = await RawClient.connect(address);
    try {
      await client.send("hello");
      await client.closeWrite();
      assert.match((await client.ended())[0], /^ERROR bad-request raw uploads are off on this server/);
    } finally {
      await client.close();
    }
    assert.deepEqual(await listTree(dir), []);
  });
});

/** Runs `command` with `input` on stdin and returns its stdout (killing it after 15 s). */
async function run(command: string[], input: Uint8Array): Promise<string> {
  const child = new Deno.Command(command[0], {
    args: command.slice(1),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const killer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  try {
    const writer = child.stdin.getWriter();
    await writer.write(input);
    await writer.close();
    const output = await child.output();
    return new TextDecoder().decode(output.stdout);
  } finally {
    clearTimeout(killer);
  }
}

// The peers people send raw uploads with; each closes its side on EOF with these flags.
const PEERS: [string, string, (host: string, port: string) => string[]][] = [
  ["OpenBSD netcat (nc -N)", "nc", (host, port) => ["nc", "-N", host, port]],
  ["ncat --send-only", "ncat", (host, port) => ["ncat", "--send-only", host, port]],
  ["busybox nc", "busybox", (host, port) => ["busybox", "nc", host, port]],
  ["socat", "socat", (host, port) => ["socat", "-u", "STDIN", `TCP:${host}:${port}`]],
];

for (const [label, program, command] of PEERS) {
  peerTest(`raw: ${label} uploads a file byte for byte`, [program], async () => {
    await withServer({ idleTimeoutMs: 10_000 }, async ({ dir, address, logs }) => {
      const data = randomBytes(3 * 1024 * 1024 + 7);
      await run(command(address.hostname, String(address.port)), data);
      // Some peers exit as soon as they have sent, before the server has stored the file.
      await waitFor(() => logs.some((line) => line.includes("stored raw upload")));
      const tree = await listTree(dir);
      assert.equal(tree.length, 1, `stored: ${tree}`);
      assert.match(tree[0], RAW_NAME);
      assert.equal(sha256(await Deno.readFile(join(dir, tree[0]))), sha256(data));
    });
  });
}

peerTest("raw: the classic Python tutorial client (sendall, close)", ["python3"], async () => {
  await withServer({}, async ({ dir, address, logs }) => {
    const data = randomBytes(200_000);
    const script = `
import socket, sys
data = sys.stdin.buffer.read()
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.connect(("${address.hostname}", ${address.port}))
s.sendall(data)
s.close()
`;
    await run(["python3", "-c", script], data);
    // The tutorial client closes without reading the reply; the file is stored all the same.
    await waitFor(() => logs.some((line) => line.includes("stored raw upload")));
    const tree = await listTree(dir);
    assert.equal(tree.length, 1);
    assert.equal(sha256(await Deno.readFile(join(dir, tree[0]))), sha256(data));
  });
});
