import assert from "node:assert/strict";
import { TcpClients, WOULD_BLOCK } from "../../scripts/bench/libc_tcp.ts";
import { libcTest } from "../_helpers/ffi.ts";

const text = (s: string) => new TextEncoder().encode(s);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

for (const hostname of ["127.0.0.1", "::1"]) {
  libcTest(`libc tcp: lines both ways with a Deno listener over ${hostname}, then the end of the stream`, async () => {
    const listener = Deno.listen({ hostname, port: 0 });
    const clients = new TcpClients();
    try {
      // connect returns once the kernel has established the connection; accept takes it afterwards.
      const first = clients.connect(listener.addr);
      const second = clients.connect(listener.addr);
      assert.deepEqual([first, second, clients.size], [0, 1, 2]);
      const [one, two] = [await listener.accept(), await listener.accept()];
      assert.equal(clients.send(first, text("hello\n")), 6);
      const buffer = new Uint8Array(new ArrayBuffer(64));
      const length = await one.read(buffer);
      assert.equal(decode(buffer.subarray(0, length!)), "hello\n");

      assert.equal(clients.receive(second, buffer), WOULD_BLOCK);
      await two.write(text("back\n"));
      assert.equal(clients.wait(5000), 1);
      assert.equal(clients.readyIndex(0), second);
      assert.ok(!clients.readyWritable(0));
      assert.equal(decode(buffer.subarray(0, clients.receive(second, buffer))), "back\n");

      clients.watchWritable(first, true);
      assert.equal(clients.wait(5000), 1);
      assert.deepEqual([clients.readyIndex(0), clients.readyWritable(0)], [first, true]);
      clients.watchWritable(first, false);

      two.close();
      assert.equal(clients.wait(5000), 1);
      assert.equal(clients.receive(second, buffer), 0);
      clients.closeOne(second);
      assert.equal(clients.receive(second, buffer), 0, "closed: nothing more");
      assert.throws(() => clients.send(second, text("x")), Deno.errors.BadResource);
      clients.closeOne(first);
      assert.equal(await one.read(buffer), null, "closed by closeOne()");
      one.close();
    } finally {
      clients.close();
      listener.close();
    }
  });
}

libcTest("libc tcp: a refused connection throws ConnectionRefused", () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  const clients = new TcpClients();
  try {
    assert.throws(() => clients.connect({ hostname: "127.0.0.1", port }), Deno.errors.ConnectionRefused);
    assert.equal(clients.size, 0);
  } finally {
    clients.close();
  }
});
