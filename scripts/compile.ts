/**
 * `deno task compile`: release binaries for every platform with `deno compile --target`, the
 * daemon's permissions baked in (never -A), the git commit stamped into src/build_info.ts for the
 * build and restored after, and a SHA256SUMS file. `deno compile` downloads a runtime per target,
 * so this runs on a machine with network (the release workflow); tests check the command lines.
 *
 * @module
 */
import { VERSION } from "../src/version.ts";

/** One release target. */
export interface Target {
  /** Rust target triple `deno compile --target` takes. */
  triple: string;
  /** Short name in the binary's file name. */
  name: string;
  /** File extension. */
  ext: string;
}

/** Every platform a release ships. */
export const TARGETS: readonly Target[] = [
  { triple: "x86_64-unknown-linux-gnu", name: "linux-x64", ext: "" },
  { triple: "aarch64-unknown-linux-gnu", name: "linux-arm64", ext: "" },
  { triple: "x86_64-apple-darwin", name: "darwin-x64", ext: "" },
  { triple: "aarch64-apple-darwin", name: "darwin-arm64", ext: "" },
  { triple: "x86_64-pc-windows-msvc", name: "windows-x64", ext: ".exe" },
];

/**
 * What flux-status needs and nothing more: network (fluxd's socket and events, the provider, fluxd's
 * API), files (the KV store, token files), env (configuration). The test suite runs the CLI with
 * exactly these, so a missing one fails a test, not a release.
 */
export const PERMISSIONS: readonly string[] = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--unstable-kv",
];

/** The binary's file name for a target. */
export function binaryName(target: Target, version = VERSION): string {
  return `flux-status-${version}-${target.name}${target.ext}`;
}

/** The `deno` arguments that compile one target into `outDir`. */
export function compileArgs(target: Target, outDir: string, version = VERSION): string[] {
  return [
    "compile",
    ...PERMISSIONS,
    "--no-check",
    "--target",
    target.triple,
    "--output",
    `${outDir}/${binaryName(target, version)}`,
    "cli.ts",
  ];
}

/** A SHA256SUMS line per file (`sha256sum` format: hash, two spaces, name). */
export async function sha256sums(files: { name: string; bytes: Uint8Array }[]): Promise<string> {
  const lines: string[] = [];
  for (const f of files) {
    const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", f.bytes as BufferSource));
    lines.push(`${[...hash].map((b) => b.toString(16).padStart(2, "0")).join("")}  ${f.name}`);
  }
  return lines.join("\n") + "\n";
}

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "inherit" }).output();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed with code ${out.code}`);
  return new TextDecoder().decode(out.stdout).trim();
}

if (import.meta.main) {
  const outDir = Deno.args[0] ?? "dist";
  await Deno.mkdir(outDir, { recursive: true });
  const commit = await run("git", ["rev-parse", "HEAD"]);
  const buildInfo = new URL("../src/build_info.ts", import.meta.url);
  const original = await Deno.readTextFile(buildInfo);
  await Deno.writeTextFile(buildInfo, original.replace(/"unknown"/, JSON.stringify(commit)));
  const files: { name: string; bytes: Uint8Array }[] = [];
  try {
    for (const target of TARGETS) {
      console.log(`compiling ${binaryName(target)}`);
      await run(Deno.execPath(), compileArgs(target, outDir));
      const name = binaryName(target);
      files.push({ name, bytes: await Deno.readFile(`${outDir}/${name}`) });
    }
  } finally {
    await Deno.writeTextFile(buildInfo, original);
  }
  await Deno.writeTextFile(`${outDir}/SHA256SUMS`, await sha256sums(files));
  console.log(`wrote ${files.length} binaries and ${outDir}/SHA256SUMS`);
}
