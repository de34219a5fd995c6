import assert from "node:assert/strict";
import { DatagramReader, listenUdp, udpAddress } from "../../lib/net/udp.ts";

Deno.test("DatagramReader: a receive that times out does not lose the next datagram", async () => {
  const server = listenUdp({ hostname: "127.0.0.1" });
  const client = listenUdp({ hostname: "127.0.0.1" });
  const reader = new DatagramReader(server);
  try {
    assert.equal(await reader.receive(20), null, "nothing sent yet");
    assert.equal(await reader.receive(20), null, "still nothing");
    await client.send(new TextEncoder().encode("late"), { transport: "udp", ...udpAddress(server) });
    const datagram = await reader.receive(5000);
    assert.equal(new TextDecoder().decode(datagram?.data), "late");
    assert.deepEqual(datagram?.from, udpAddress(client));
  } finally {
    server.close();
    client.close();
    await reader.closed;
  }
});

Deno.test("DatagramReader: abort and close end the wait with null", async () => {
  const socket = listenUdp({ hostname: "127.0.0.1" });
  const reader = new DatagramReader(socket, { reuseBuffer: 2048 });
  const controller = new AbortController();
  const waiting = reader.receive(undefined, controller.signal);
  controller.abort();
  assert.equal(await waiting, null);
  const forever = reader.receive();
  socket.close();
  assert.equal(await forever, null);
  assert.equal(await reader.receive(10), null, "closed stays closed");
  await reader.closed;
});

Deno.test("listenUdp: a taken port gives a clear error", () => {
  const taken = listenUdp({ hostname: "127.0.0.1" });
  try {
    const { port } = udpAddress(taken);
    assert.throws(
      () => listenUdp({ hostname: "127.0.0.1", port }),
      (error: Error) =>
        error instanceof Deno.errors.AddrInUse &&
        error.message === `Cannot bind to udp 127.0.0.1:${port}: address already in use`,
    );
  } finally {
    taken.close();
  }
});
