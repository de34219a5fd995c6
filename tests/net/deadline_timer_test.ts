import assert from "node:assert/strict";
import { DeadlineTimer } from "../../lib/net/timeout.ts";
import { DatagramReader, listenUdp, udpAddress } from "../../lib/net/udp.ts";

Deno.test("DeadlineTimer: a wait resolves no earlier than its deadline", async () => {
  const timer = new DeadlineTimer();
  try {
    const start = performance.now();
    await timer.expiry(start + 30);
    assert.ok(performance.now() - start >= 29, "resolved before the deadline");
  } finally {
    timer.stop();
  }
});

Deno.test("DeadlineTimer: a later deadline replaces the earlier one and the timer re-arms", async () => {
  const timer = new DeadlineTimer();
  try {
    const start = performance.now();
    let firstSettled = false;
    timer.expiry(start + 10).then(() => firstSettled = true);
    await timer.expiry(start + 40);
    assert.ok(performance.now() - start >= 39, "the moved deadline fired early");
    assert.equal(firstSettled, false, "a replaced wait must never settle");
  } finally {
    timer.stop();
  }
});

Deno.test("DeadlineTimer: an earlier deadline re-arms the timer sooner", async () => {
  const timer = new DeadlineTimer();
  try {
    const start = performance.now();
    timer.expiry(start + 60_000);
    await timer.expiry(start + 5);
    assert.ok(performance.now() - start < 60_000);
  } finally {
    timer.stop();
  }
});

Deno.test("DatagramReader.receiveUntil: a datagram arriving after the stop goes to the next call", async () => {
  const socket = listenUdp({ hostname: "127.0.0.1" });
  const sender = listenUdp({ hostname: "127.0.0.1" });
  const reader = new DatagramReader(socket);
  const timer = new DeadlineTimer();
  try {
    assert.equal(await reader.receiveUntil(timer.expiry(performance.now() + 5)), null);
    await sender.send(new Uint8Array([1, 2, 3]), { transport: "udp", ...udpAddress(socket) });
    const datagram = await reader.receiveUntil(timer.expiry(performance.now() + 5000));
    assert.deepEqual(datagram?.data, new Uint8Array([1, 2, 3]));
    assert.equal(datagram?.from.port, udpAddress(sender).port);
    assert.equal(await reader.receiveUntil(Promise.resolve()), null);
  } finally {
    timer.stop();
    socket.close();
    sender.close();
    await reader.closed;
  }
});

Deno.test("DeadlineTimer.expireNow wakes the live wait at once", async () => {
  const timer = new DeadlineTimer();
  try {
    const wait = timer.expiry(performance.now() + 60_000);
    timer.expireNow();
    await wait;
  } finally {
    timer.stop();
  }
});
