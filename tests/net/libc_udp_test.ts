import assert from "node:assert/strict";
import { BlockingUdpSocket, SocketAddress, TIMED_OUT, Waker, WOKEN } from "../../lib/net/libc_udp.ts";
import { DatagramReader, listenUdp, udpAddress } from "../../lib/net/udp.ts";
import { libcTest } from "../_helpers/ffi.ts";

const text = (s: string) => new TextEncoder().encode(s);

for (const hostname of ["127.0.0.1", "::1"]) {
  libcTest(`libc udp: datagrams both ways with a Deno socket over ${hostname}`, async () => {
    const socket = BlockingUdpSocket.bind({ hostname, port: 0 });
    const peer = listenUdp({ hostname });
    const reader = new DatagramReader(peer);
    try {
      assert.equal(socket.address.hostname, hostname);
      assert.ok(socket.address.port > 0);
      assert.equal(socket.family, hostname.includes(":") ? 6 : 4);
      // Sent first, then received: a blocking receive would stall this thread's own sends.
      await peer.send(text("hello"), { transport: "udp", ...socket.address });
      const buffer = new Uint8Array(100);
      const length = socket.receive(buffer, 5000);
      assert.equal(new TextDecoder().decode(buffer.subarray(0, length)), "hello");
      assert.deepEqual(socket.sender, udpAddress(peer));
      assert.ok(socket.receivedFrom(socket.addressFor(udpAddress(peer))));
      assert.ok(!socket.receivedFrom(socket.addressFor({ ...udpAddress(peer), port: udpAddress(peer).port ^ 1 })));
      socket.sendTo(text("back"), socket.addressFor(udpAddress(peer)));
      const answer = await reader.receive(5000);
      assert.equal(new TextDecoder().decode(answer!.data), "back");
      assert.deepEqual(answer!.from, socket.address);
    } finally {
      socket.close();
      peer.close();
      await reader.closed;
    }
  });
}

libcTest("libc udp: a receive waits its timeout, keeps a longer datagram cut to fit, and wakes at once", async () => {
  const socket = BlockingUdpSocket.bind({ hostname: "127.0.0.1", port: 0 });
  const peer = listenUdp({ hostname: "127.0.0.1" });
  const waker = new Waker();
  try {
    const buffer = new Uint8Array(4);
    const started = performance.now();
    assert.equal(socket.receive(buffer, 30), TIMED_OUT);
    const waited = performance.now() - started;
    assert.ok(waited >= 29 && waited < 1000, `waited ${waited} ms`);
    assert.equal(socket.receive(buffer, 0), TIMED_OUT, "a zero timeout only looks");
    await peer.send(text("0123456789"), { transport: "udp", ...socket.address });
    assert.equal(socket.receive(buffer, 5000), 4);
    assert.equal(new TextDecoder().decode(buffer), "0123");
    waker.wake();
    const before = performance.now();
    assert.equal(socket.receive(buffer, 10_000, waker.fd), WOKEN);
    assert.ok(performance.now() - before < 1000);
    assert.equal(socket.receive(buffer, 10_000, waker.fd), WOKEN, "a waker stays readable");
  } finally {
    waker.close();
    socket.close();
    peer.close();
  }
});

libcTest("libc udp: sendAll sends a burst in order, whatever the sizes, beyond one batch", async () => {
  const socket = BlockingUdpSocket.bind({ hostname: "127.0.0.1", port: 0 });
  const peer = listenUdp({ hostname: "127.0.0.1" });
  const reader = new DatagramReader(peer);
  try {
    const to = socket.addressFor(udpAddress(peer));
    // 100 datagrams: more than one sendmmsg batch (64), sizes from 1 to 1500 bytes.
    const packets = Array.from({ length: 100 }, (_, i) => new Uint8Array(1 + ((i * 97) % 1500)).fill(i));
    socket.sendAll(packets, packets.length, to);
    socket.sendAll(packets, 0, to);
    socket.sendAll([text("single")], 1, to);
    for (const packet of packets) assert.deepEqual((await reader.receive(5000))!.data, packet);
    assert.equal(new TextDecoder().decode((await reader.receive(5000))!.data), "single");
    assert.equal(await reader.receive(50), null, "nothing more");
  } finally {
    socket.close();
    peer.close();
    await reader.closed;
  }
});

libcTest("libc udp: bind failures say why with Deno's error classes; names are refused", () => {
  const taken = listenUdp({ hostname: "127.0.0.1" });
  try {
    assert.throws(() => BlockingUdpSocket.bind(udpAddress(taken)), Deno.errors.AddrInUse);
    assert.throws(
      () => BlockingUdpSocket.bind({ hostname: "192.0.2.1", port: 0 }),
      (error: Error) =>
        error instanceof Deno.errors.AddrNotAvailable &&
        error.message === "Cannot bind to udp 192.0.2.1:0: address not available on this machine",
    );
    assert.throws(() => BlockingUdpSocket.bind({ hostname: "localhost", port: 0 }), TypeError);
  } finally {
    taken.close();
  }
});

libcTest("libc udp: socket addresses: IPv4-mapped for an IPv6 socket, and back", () => {
  const mapped = SocketAddress.of({ hostname: "127.0.0.1", port: 69 }, 6);
  assert.equal(mapped.family, 6);
  assert.deepEqual(mapped.hostPort, { hostname: "::ffff:127.0.0.1", port: 69 });
  const plain = SocketAddress.of({ hostname: "::ffff:10.1.2.3", port: 6969 }, 4);
  assert.equal(plain.family, 4);
  assert.deepEqual(plain.hostPort, { hostname: "10.1.2.3", port: 6969 });
  assert.throws(() => SocketAddress.of({ hostname: "::1", port: 69 }, 4), /from an IPv4 socket/);
  assert.ok(mapped.matches(SocketAddress.of({ hostname: "::ffff:127.0.0.1", port: 69 }).bytes));
  assert.ok(!mapped.matches(SocketAddress.of({ hostname: "::ffff:127.0.0.1", port: 70 }).bytes));
});
