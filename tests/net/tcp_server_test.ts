import assert from "node:assert/strict";
import { connectTcp } from "../../lib/net/tcp_connect.ts";
import { serveTcp } from "../../lib/net/tcp_server.ts";
import { writeAll } from "../../lib/net/io.ts";
import { waitUntil } from "../_helpers/wait.ts";

const LOOPBACK = "127.0.0.1";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function readAll(conn: Deno.Conn): Promise<string> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(4096);
  while (true) {
    const n = await conn.read(buffer).catch(() => null);
    if (n === null) break;
    chunks.push(buffer.slice(0, n));
  }
  return decoder.decode(new Uint8Array(chunks.flatMap((chunk) => [...chunk])));
}

Deno.test("serveTcp: one task per connection, many clients served at once", async () => {
  const controller = new AbortController();
  const clients = 50;
  let arrived = 0;
  let releaseAll!: () => void;
  const allArrived = new Promise<void>((resolve) => releaseAll = resolve);
  const server = serveTcp(async (conn) => {
    // Every handler waits until all clients are connected: this only finishes
    // if the connections are served concurrently.
    if (++arrived === clients) releaseAll();
    await allArrived;
    await writeAll(conn, encoder.encode(`served ${arrived}\n`));
  }, { hostname: LOOPBACK, port: 0, signal: controller.signal });
  const replies = await Promise.all(
    Array.from({ length: clients }, async () => {
      const conn = await connectTcp(server.addr);
      try {
        return await readAll(conn);
      } finally {
        conn.close();
      }
    }),
  );
  assert.deepEqual(new Set(replies), new Set([`served ${clients}\n`]));
  controller.abort();
  await server.finished;
});

Deno.test("serveTcp: the connection limit refuses the next client with a message", async () => {
  const controller = new AbortController();
  let release!: () => void;
  const held = new Promise<void>((resolve) => release = resolve);
  const server = serveTcp(() => held, {
    hostname: LOOPBACK,
    port: 0,
    maxConnections: 2,
    signal: controller.signal,
    onRefused: (conn) => writeAll(conn, encoder.encode("server full\n")),
  });
  const first = await connectTcp(server.addr);
  const second = await connectTcp(server.addr);
  // Wait until both are being served (the server counts them) before the third comes.
  await waitUntil(() => server.connections === 2, "both clients to be served");
  const third = await connectTcp(server.addr);
  assert.equal(await readAll(third), "server full\n");
  third.close();
  release();
  first.close();
  second.close();
  controller.abort();
  await server.finished;
  assert.equal(server.connections, 0);
});

Deno.test("serveTcp: shutdown tells handlers through the signal and waits for them", async () => {
  const controller = new AbortController();
  let connected!: () => void;
  const ready = new Promise<void>((resolve) => connected = resolve);
  const server = serveTcp(async (conn, info) => {
    connected();
    await new Promise((resolve) => info.signal.addEventListener("abort", resolve, { once: true }));
    await writeAll(conn, encoder.encode(`bye: ${info.signal.reason}\n`));
  }, { hostname: LOOPBACK, port: 0, signal: controller.signal });
  const conn = await connectTcp(server.addr);
  await ready;
  controller.abort("server stopping");
  assert.equal(await readAll(conn), "bye: server stopping\n");
  conn.close();
  await server.finished;
  // The port is free again: the listener was closed.
  const again = Deno.listen({ hostname: LOOPBACK, port: server.addr.port });
  again.close();
});

Deno.test("serveTcp: handlers that ignore shutdown are closed after the grace period", async () => {
  const controller = new AbortController();
  let connected!: () => void;
  const ready = new Promise<void>((resolve) => connected = resolve);
  let handlerError: unknown;
  const server = serveTcp(async (conn) => {
    connected();
    try {
      await conn.read(new Uint8Array(16)); // blocks: the client never writes
    } catch (error) {
      handlerError = error;
    }
  }, { hostname: LOOPBACK, port: 0, gracePeriodMs: 50, signal: controller.signal });
  const conn = await connectTcp(server.addr);
  await ready;
  controller.abort();
  await server.finished;
  assert.ok(handlerError instanceof Error, "the stuck read ended because its socket was closed");
  assert.equal(await readAll(conn), "");
  conn.close();
});

Deno.test("serveTcp: a failing handler is reported and does not disturb the others", async () => {
  const controller = new AbortController();
  const errors: string[] = [];
  const server = serveTcp(async (conn) => {
    const buffer = new Uint8Array(16);
    const n = await conn.read(buffer);
    const text = decoder.decode(buffer.subarray(0, n ?? 0));
    if (text === "boom") throw new Error("handler exploded");
    await writeAll(conn, encoder.encode(`ok ${text}`));
  }, { hostname: LOOPBACK, port: 0, signal: controller.signal, onError: (e) => errors.push((e as Error).message) });
  const bad = await connectTcp(server.addr);
  await writeAll(bad, encoder.encode("boom"));
  assert.equal(await readAll(bad), "");
  bad.close();
  const good = await connectTcp(server.addr);
  await writeAll(good, encoder.encode("fine"));
  assert.equal(await readAll(good), "ok fine");
  good.close();
  controller.abort();
  await server.finished;
  assert.deepEqual(errors, ["handler exploded"]);
});

Deno.test("serveTcp: abrupt client resets are cleaned up", async () => {
  const controller = new AbortController();
  let ended = 0;
  let done!: () => void;
  const allEnded = new Promise<void>((resolve) => done = resolve);
  const server = serveTcp(async (conn) => {
    try {
      const buffer = new Uint8Array(1024);
      while (await conn.read(buffer) !== null) { /* drain */ }
    } finally {
      if (++ended === 10) done();
    }
  }, { hostname: LOOPBACK, port: 0, signal: controller.signal });
  for (let i = 0; i < 10; i++) {
    const conn = await connectTcp(server.addr);
    await writeAll(conn, encoder.encode("partial data"));
    conn.close();
  }
  await allEnded;
  await waitUntil(() => server.connections === 0, "the server to forget the reset connections");
  controller.abort();
  await server.finished;
});

Deno.test("serveTcp: binding a used port fails at once with a clear message", () => {
  const taken = Deno.listen({ hostname: LOOPBACK, port: 0 });
  try {
    assert.throws(
      () => serveTcp(() => {}, { hostname: LOOPBACK, port: (taken.addr as Deno.NetAddr).port }),
      (error: Error) =>
        error instanceof Deno.errors.AddrInUse &&
        error.message === `Cannot bind to tcp 127.0.0.1:${(taken.addr as Deno.NetAddr).port}: address already in use`,
    );
  } finally {
    taken.close();
  }
});

Deno.test("connectTcp: refused and unresolvable hosts give one clear message", async () => {
  const probe = Deno.listen({ hostname: LOOPBACK, port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  await assert.rejects(
    connectTcp({ hostname: LOOPBACK, port }),
    (error: Error) =>
      error instanceof Deno.errors.ConnectionRefused &&
      error.message === `Cannot connect to 127.0.0.1:${port}: connection refused`,
  );
  await assert.rejects(connectTcp({ hostname: "no-such-host.invalid", port: 9 }), /host not found/);
});
