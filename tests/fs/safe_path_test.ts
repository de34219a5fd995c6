import assert from "node:assert/strict";
import { checkName } from "../../lib/fs/safe_path.ts";

Deno.test("safe path: bidirectional overrides are refused (a name must read as what it is)", () => {
  for (const name of ["\u202efdp.exe", "a\u2066b", "dir/x\u202a.txt", "\u2069"]) {
    assert.throws(() => checkName(name), (error: Error) => {
      assert.ok(error instanceof Deno.errors.PermissionDenied);
      assert.match(error.message, /bidirectional text overrides are not allowed/);
      return true;
    });
  }
  // Right-to-left text itself is a fine name.
  assert.equal(checkName("מסמך/تقرير.pdf"), "מסמך/تقرير.pdf");
});

Deno.test("safe path: a refusal quotes the name with its controls and overrides escaped", () => {
  assert.throws(() => checkName("\u202egpj.exe"), {
    message: 'Refused name "\\u202egpj.exe": bidirectional text overrides are not allowed',
  });
  assert.throws(() => checkName("a\x1b[2Jb"), {
    message: 'Refused name "a\\u001b[2Jb": control characters are not allowed',
  });
});
