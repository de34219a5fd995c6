import assert from "node:assert/strict";
import { join } from "node:path";
import { checkName, isInside, resolveInside } from "../../lib/fs/safe_path.ts";

Deno.test("checkName accepts ordinary relative names and normalises nothing away silently", () => {
  assert.equal(checkName("photo.jpg"), "photo.jpg");
  assert.equal(checkName("a/b/c.txt"), "a/b/c.txt");
  assert.equal(checkName("名前 with spaces.txt"), "名前 with spaces.txt");
  assert.equal(checkName("..hidden"), "..hidden"); // a name that starts with dots is not ".."
  assert.equal(checkName("boot\\pxelinux.0", { backslashIsSeparator: true }), "boot/pxelinux.0");
  assert.equal(checkName("/pxelinux.0", { allowLeadingSlash: true }), "pxelinux.0");
});

Deno.test("checkName refuses hostile names with the reason", () => {
  const refused: [string, RegExp][] = [
    ["", /empty/],
    ["../etc/passwd", /"\.\." is not allowed/],
    ["a/../../b", /"\.\." is not allowed/],
    ["/etc/passwd", /absolute paths/],
    ["C:/Windows/system.ini", /drive letters/],
    ["a//b", /empty or "\." path components/],
    ["a/./b", /empty or "\." path components/],
    ["dir/", /empty or "\." path components/],
    ["nul\x00byte", /control characters/],
    ["new\nline", /control characters/],
    ["esc\x1b[2J", /control characters/],
    ["a\\..\\b", /"\\" is not allowed/],
    ["x".repeat(256), /longer than 255 bytes/],
    [("d/").repeat(2100) + "f", /longer than 4096 bytes/],
  ];
  for (const [name, reason] of refused) {
    assert.throws(() => checkName(name), (error: Error) => {
      assert.ok(error instanceof Deno.errors.PermissionDenied, `${JSON.stringify(name)}: ${error}`);
      assert.match(error.message, reason);
      return true;
    });
  }
  assert.throws(() => checkName("..\\..\\x", { backslashIsSeparator: true }), /"\.\." is not allowed/);
});

Deno.test("resolveInside refuses symbolic links that lead out of the root", async () => {
  const outside = await Deno.makeTempDir({ prefix: "wirebox-outside-" });
  const root = await Deno.makeTempDir({ prefix: "wirebox-root-" });
  try {
    await Deno.writeTextFile(join(outside, "secret"), "do not serve");
    await Deno.symlink(outside, join(root, "escape"));
    await Deno.symlink(join(outside, "secret"), join(root, "secret-link"));
    await Deno.symlink(join(root, "missing-target"), join(root, "dangling"));
    await Deno.mkdir(join(root, "inner"));
    await Deno.writeTextFile(join(root, "inner", "ok.txt"), "fine");
    await Deno.symlink(join(root, "inner"), join(root, "inner-link"));

    for (const name of ["escape/secret", "secret-link", "escape/new-file", "dangling"]) {
      await assert.rejects(resolveInside(root, name), /leads out of the served folder/, name);
    }
    // A link that stays inside the root is fine.
    const inside = await resolveInside(root, "inner-link/ok.txt");
    assert.equal(await Deno.readTextFile(inside.path), "fine");
    // A file in the way of a directory.
    await assert.rejects(resolveInside(root, "inner/ok.txt/x"), /is a file/);
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("resolveInside creates parents inside the root only when asked", async () => {
  const root = await Deno.makeTempDir({ prefix: "wirebox-root-" });
  try {
    const plain = await resolveInside(root, "new/dir/file.txt");
    assert.equal(plain.path, join(await Deno.realPath(root), "new/dir/file.txt"));
    await assert.rejects(Deno.stat(join(root, "new")), Deno.errors.NotFound);
    const created = await resolveInside(root, "new/dir/file.txt", { createParents: true });
    assert.equal(created.name, "new/dir/file.txt");
    assert.ok((await Deno.stat(join(root, "new/dir"))).isDirectory);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("isInside", () => {
  assert.ok(isInside("/srv/tftp", "/srv/tftp"));
  assert.ok(isInside("/srv/tftp", "/srv/tftp/boot/x"));
  assert.ok(isInside("/srv/tftp", "/srv/tftp/..hidden"));
  assert.ok(!isInside("/srv/tftp", "/srv/tftp-other"));
  assert.ok(!isInside("/srv/tftp", "/srv"));
  assert.ok(!isInside("/srv/tftp", "/etc/passwd"));
});

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
