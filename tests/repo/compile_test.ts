import assert from "node:assert/strict";
import {
  binaryName,
  compileArgs,
  imageCompileArgs,
  leanFlags,
  PERMISSIONS,
  RUNTIME_FLAGS,
  runtimePackages,
  sbom,
  sha256sums,
  TARGETS,
} from "../../scripts/compile.ts";

Deno.test("compileArgs() builds one deno compile per target with the runtime flags and explicit permissions", () => {
  const all = TARGETS.map((t) => compileArgs(t, "dist", "1.2.3"));
  assert.deepEqual(all[0], [
    "compile",
    "--v8-flags=--no-turbofan,--no-maglev",
    "--no-code-cache",
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

/** The bound on what a binary embeds beyond the Deno runtime. */
const PAYLOAD_LIMIT = 25 * 1024 * 1024;

/** The test-only packages (deno.json imports no product file reaches). */
const TEST_ONLY = ["ajv", "yaml"];

Deno.test("the compiled binary embeds only what runs: at most 25 MiB beyond the runtime", async () => {
  // deno compile runs offline when DENORT_BIN names a local runtime; with this deno as the runtime
  // the output is not runnable, but its size less the runtime's is exactly what was embedded.
  const dir = await Deno.makeTempDir();
  try {
    const host = TARGETS.find((t) => t.triple === Deno.build.target) ?? {
      triple: Deno.build.target,
      name: "host",
      ext: "",
    };
    const args = compileArgs(host, dir, "test", await leanFlags());
    const out = await new Deno.Command(Deno.execPath(), {
      args,
      cwd: new URL("../..", import.meta.url).pathname,
      env: { DENORT_BIN: Deno.execPath(), NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const listing = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.ok(out.success, listing);
    const payload = (await Deno.stat(`${dir}/${binaryName(host, "test")}`)).size -
      (await Deno.stat(Deno.execPath())).size;
    assert.ok(
      payload <= PAYLOAD_LIMIT,
      `embeds ${(payload / 2 ** 20).toFixed(1)} MiB (limit 25 MiB):\n${listing}`,
    );
    for (const name of TEST_ONLY) {
      assert.doesNotMatch(listing, new RegExp(`[─ ]${name}[@/]`), `${name} is embedded`);
    }
    assert.doesNotMatch(listing, /openapi-types/, "type-only packages are left out");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("leanFlags() drops the node_modules folder and every type-only package", async () => {
  const flags = await leanFlags();
  assert.deepEqual(flags.slice(0, 2), ["--node-modules-dir=none", "--exclude-unused-npm"]);
  const excluded = flags.filter((_, i) => flags[i - 1] === "--exclude");
  assert.ok(excluded.some((p) => p.includes("@octokit/openapi-types")), excluded.join(" "));
  assert.ok(!excluded.some((p) => /@octokit\/core|valibot|@logtape/.test(p)), excluded.join(" "));
  const image = imageCompileArgs("aarch64-unknown-linux-gnu", "/out/flux-status", flags);
  assert.deepEqual(image.slice(-5), [
    "--target",
    "aarch64-unknown-linux-gnu",
    "--output",
    "/out/flux-status",
    "cli.ts",
  ]);
  for (const flag of flags) assert.ok(image.includes(flag), flag);
  for (const flag of RUNTIME_FLAGS) assert.ok(image.includes(flag), flag);
});

Deno.test("sbom() lists flux-status and each npm package a binary embeds, by package URL", async () => {
  const packages = await runtimePackages();
  const bom = sbom(packages, "1.2.3", "abc123") as {
    bomFormat: string;
    metadata: { component: { name: string; version: string } };
    components: { name: string; version: string; purl: string; licenses?: unknown[] }[];
  };
  assert.equal(bom.bomFormat, "CycloneDX");
  assert.deepEqual(bom.metadata.component.name, "flux-status");
  assert.equal(bom.metadata.component.version, "1.2.3");
  const purls = bom.components.map((c) => c.purl);
  const lock = JSON.parse(await Deno.readTextFile(new URL("../../deno.lock", import.meta.url)));
  const core = Object.keys(lock.npm).find((k) => k.startsWith("@octokit/core@"))!;
  assert.ok(purls.includes(`pkg:npm/%40octokit/core@${core.split("@")[2]}`), purls.join("\n"));
  assert.ok(purls.some((p) => p.startsWith("pkg:npm/valibot@")));
  for (const name of [...TEST_ONLY, "@octokit/openapi-types"]) {
    assert.ok(!bom.components.some((c) => c.name === name), `${name} is not embedded`);
  }
  assert.ok(bom.components.every((c) => c.licenses), "every package names its licence");
});
