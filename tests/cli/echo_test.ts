import assert from "node:assert/strict";
import { formatAddress } from "../../lib/net/address.ts";
import { connectTcp } from "../../lib/net/tcp_connect.ts";
import { writeAll } from "../../lib/net/io.ts";
import { DatagramReader, listenUdp } from "../../lib/net/udp.ts";
import { runCli, startServer } from "../_helpers/cli.ts";
import { peerTest } from "../_helpers/peers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

Deno.test("echo serve: first line names both endpoints; TCP and UDP echo; SIGTERM stops it with exit 0", async () => {
  const { server, endpoints } = await startServer(["echo", "serve", "--host", "127.0.0.1", "--port", "0"]);
  assert.match(server.stdout[0], /^echo listening on tcp:\/\/127\.0\.0\.1:\d+ udp:\/\/127\.0\.0\.1:\d+$/);

  // Many TCP clients at once, each gets back exactly its own bytes.
  const replies = await Promise.all(Array.from({ length: 30 }, async (_, i) => {
    const conn = await connectTcp(endpoints.tcp);
    const payload = encoder.encode(`client ${i} `.repeat(1000));
    const writing = writeAll(conn, payload).then(() => conn.closeWrite());
    const received: number[] = [];
    const buffer = new Uint8Array(65536);
    for (let n; (n = await conn.read(buffer)) !== null;) received.push(...buffer.subarray(0, n));
    await writing;
    conn.close();
    return decoder.decode(Uint8Array.from(received)) === decoder.decode(payload);
  }));
  assert.ok(replies.every(Boolean));

  const socket = listenUdp({ hostname: "127.0.0.1" });
  const reader = new DatagramReader(socket);
  try {
    await socket.send(encoder.encode("datagram"), { transport: "udp", ...endpoints.udp });
    const reply = await reader.receive(5000);
    assert.equal(decoder.decode(reply?.data), "datagram");
    assert.equal(formatAddress(reply!.from), formatAddress(endpoints.udp));
  } finally {
    socket.close();
    await reader.closed;
  }

  await server.waitFor(/closed after 9000 bytes/); // "client 0 " x 1000
  const result = await server.stop("SIGTERM");
  assert.equal(result.code, 0);
  assert.equal(result.stderr, "");
});

Deno.test("echo serve --tcp: UDP is not served; --udp alone: TCP is not", async () => {
  const tcp = await startServer(["echo", "serve", "--host", "127.0.0.1", "--port", "0", "--tcp"]);
  assert.deepEqual(Object.keys(tcp.endpoints), ["tcp"]);
  assert.equal((await tcp.server.stop()).code, 0);
  const udp = await startServer(["echo", "serve", "--host", "127.0.0.1", "--port", "0", "--udp", "--quiet"]);
  assert.deepEqual(Object.keys(udp.endpoints), ["udp"]);
  assert.equal((await udp.server.stop()).code, 0);
});

Deno.test("echo serve on a taken port: exit 1, clear message", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const result = await runCli(["echo", "serve", "--host", `127.0.0.1:${(taken.addr as Deno.NetAddr).port}`]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^wirebox: Cannot bind to tcp 127\.0\.0\.1:\d+: address already in use\n/);
  } finally {
    taken.close();
  }
});

// The classic tutorial clients, unchanged: TCP send/recv/print and UDP sendto/recvfrom.
const PYTHON_CLIENTS = `
import socket, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.connect(("127.0.0.1", port))
s.send("Hello, server".encode("utf-8"))
data = s.recv(1024)
print("Received", repr(data.decode("utf-8")))
s.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(5)
u.sendto(b"Hello, UDP", ("127.0.0.1", port))
data, addr = u.recvfrom(1024)
print("Received", repr(data.decode("utf-8")), "from port", addr[1] == port)
`;

peerTest("echo serve: the classic Python echo clients work unchanged", ["python3"], async () => {
  const { server, endpoints } = await startServer(["echo", "serve", "--host", "127.0.0.1", "--port", "0"]);
  try {
    assert.equal(endpoints.tcp.port, endpoints.udp.port, "one port for both, as the tutorials assume");
    const output = await new Deno.Command("python3", {
      args: ["-c", PYTHON_CLIENTS, String(endpoints.tcp.port)],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(decoder.decode(output.stderr), "");
    assert.equal(decoder.decode(output.stdout), "Received 'Hello, server'\nReceived 'Hello, UDP' from port True\n");
  } finally {
    assert.equal((await server.stop()).code, 0);
  }
});
