import assert from "node:assert/strict";
import { runCli } from "../_helpers/cli.ts";

Deno.test("cli serve: the help lists every server's port option, aligned with the other options", async () => {
  const { code, stdout } = await runCli(["serve", "--help"]);
  assert.equal(code, 0);
  const options = stdout.split("\n").filter((line) => /^ {2}-/.test(line));
  assert.ok(options.some((line) => line.startsWith("  --upload-port PORT")));
  const columns = new Set(options.map((line) => /^ {2}\S.*?\s{2,}(?=\S)/.exec(line)?.[0].length));
  assert.deepEqual([...columns], [27]);
});
