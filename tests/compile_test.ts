import assert from "node:assert/strict";
import { binaryName, compileArgs, PERMISSIONS, sha256sums, TARGETS } from "../scripts/compile.ts";

Deno.test("compileArgs() builds one deno compile per target with explicit permissions", () => {
  const all = TARGETS.map((t) => compileArgs(t, "dist", "1.2.3"));
  assert.deepEqual(all[0], [
    "compile",
    "--allow-net",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--unstable-kv",
    "--no-check",
    "--target",
    "x86_64-unknown-linux-gnu",
    "--output",
    "dist/flux-status-1.2.3-linux-x64",
    "cli.ts",
  ]);
  for (const args of all) {
    assert.ok(!args.includes("-A") && !args.includes("--allow-all"), args.join(" "));
    for (const p of PERMISSIONS) assert.ok(args.includes(p), p);
  }
  assert.deepEqual(
    TARGETS.map((t) => t.triple).sort(),
    [
      "aarch64-apple-darwin",
      "aarch64-unknown-linux-gnu",
      "x86_64-apple-darwin",
      "x86_64-pc-windows-msvc",
      "x86_64-unknown-linux-gnu",
    ],
  );
  assert.equal(new Set(all.map((a) => a[a.indexOf("--output") + 1])).size, TARGETS.length);
  assert.equal(
    binaryName(TARGETS.find((t) => t.name === "windows-x64")!, "1.2.3"),
    "flux-status-1.2.3-windows-x64.exe",
  );
});

Deno.test("sha256sums() writes sha256sum's format", async () => {
  const text = await sha256sums([{ name: "a", bytes: new TextEncoder().encode("abc") }]);
  assert.equal(text, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  a\n");
});
