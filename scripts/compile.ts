/**
 * `deno task compile`: release binaries for every platform with `deno compile --target`, the
 * daemon's permissions baked in (never -A), the git commit stamped into src/runtime/build_info.ts for the
 * build and restored after, and a SHA256SUMS file. `deno compile` downloads a runtime per target,
 * so this runs on a machine with network (the release workflow); tests check the command lines
 * and compile for the host against the local runtime (`DENORT_BIN`) to bound what is embedded.
 *
 * `deno task compile --image TRIPLE OUTPUT` builds the container image's one binary, with the
 * image's narrower permissions (the Dockerfile runs it).
 *
 * Every binary embeds only what runs ({@linkcode leanFlags}): the npm packages `cli.ts` reaches,
 * taken from the npm cache rather than the project's `node_modules` (which also holds the test-only
 * packages), less the packages that hold nothing but type declarations. The release also gets a
 * CycloneDX SBOM of exactly those packages ({@linkcode sbom}), listed in SHA256SUMS with the
 * binaries, so the signature over SHA256SUMS covers it.
 *
 * @module
 */
import { VERSION } from "../src/runtime/version.ts";

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

/**
 * The runtime flags of every daemon we ship or launch: the release binaries and the image bake them
 * in (`deno compile` keeps runtime flags), `deno task start` passes them, the benchmark and the
 * chaos runs measure with them. V8 without its optimizing compilers (TurboFan, Maglev: their code
 * and their compilations cost the daemon ~6 MiB, and it is idle nearly always; Sparkplug and inline
 * caches stay), and no V8 code cache (`deno run`'s cache is a shared SQLite file mapped into the
 * process). Idle RSS with `--kubernetes` and 1,000 Flux objects: ~71 MiB without, ~62 with
 * (ARCHITECTURE.md, "Decisions").
 */
export const RUNTIME_FLAGS: readonly string[] = [
  "--v8-flags=--no-turbofan,--no-maglev",
  "--no-code-cache",
];

/**
 * The image's permissions: reads only of the store volume (/data), mounted Secrets
 * (/var/run/secrets) and /tmp, writes only of /data and /tmp. Net is not narrowed: the provider's
 * host is only known at run time.
 */
export const IMAGE_PERMISSIONS: readonly string[] = [
  "--allow-net",
  "--allow-env",
  "--unstable-kv",
  "--allow-read=/data,/var/run/secrets,/tmp",
  "--allow-write=/data,/tmp",
];

/** What `deno info --json` says of one npm package. */
interface NpmPackage {
  name: string;
  version: string;
  dependencies?: string[];
  localPath?: string;
}

/** What `deno info --json` says of a module graph. */
interface ModuleGraph {
  modules?: { kind?: string; npmPackage?: string }[];
  npmPackages?: Record<string, NpmPackage>;
}

/** An npm package `cli.ts` reaches, as found in the npm cache. */
export interface RuntimePackage {
  name: string;
  version: string;
  /** Its folder in the npm cache. */
  localPath: string;
  /** Its package.json `license`, an SPDX expression as npm asks. */
  license?: string;
  /** Whether it holds code that can run; false for type declarations only. */
  code: boolean;
}

/** Whether a package folder holds code that can run (and not only `.d.ts`, docs and metadata). */
async function holdsCode(dir: string): Promise<boolean> {
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name === "node_modules") continue;
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory ? await holdsCode(path) : /\.(c|m)?js$|\.node$/.test(entry.name)) {
      return true;
    }
  }
  return false;
}

/**
 * The npm packages reachable from `entry` (what `deno compile --exclude-unused-npm` embeds),
 * fetched into the npm cache if they are not there.
 */
export async function runtimePackages(
  entry: string = new URL("../cli.ts", import.meta.url).pathname,
): Promise<RuntimePackage[]> {
  const info = JSON.parse(
    await run(Deno.execPath(), ["info", "--json", "--frozen", "--node-modules-dir=none", entry]),
  ) as ModuleGraph;
  // The packages the graph imports, and theirs: npmPackages is the lockfile's whole snapshot.
  const all = info.npmPackages ?? {};
  const reached = new Set<string>();
  const visit = (id: string) => {
    if (reached.has(id) || !all[id]) return;
    reached.add(id);
    for (const dep of all[id].dependencies ?? []) visit(dep);
  };
  for (const m of info.modules ?? []) if (m.kind === "npm" && m.npmPackage) visit(m.npmPackage);
  const packages: RuntimePackage[] = [];
  for (const pkg of [...reached].map((id) => all[id]!)) {
    if (!pkg.localPath) continue;
    const manifest = JSON.parse(await Deno.readTextFile(`${pkg.localPath}/package.json`));
    packages.push({
      name: pkg.name,
      version: pkg.version,
      localPath: pkg.localPath,
      ...(typeof manifest.license === "string" ? { license: manifest.license } : {}),
      code: await holdsCode(pkg.localPath),
    });
  }
  return packages.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The `deno compile` flags that embed only what runs: no local `node_modules` folder (it holds the
 * test-only packages too), only the npm packages reachable from `cli.ts`, and none of the
 * reachable packages that are type declarations only (`@octokit/openapi-types`, 9.6 MB of `.d.ts`,
 * comes in through `@octokit/core`).
 *
 * @param packages what {@linkcode runtimePackages} found
 */
export async function leanFlags(
  packages: readonly RuntimePackage[] | Promise<RuntimePackage[]> = runtimePackages(),
): Promise<string[]> {
  const excludes = (await packages).filter((p) => !p.code).flatMap((p) => [
    "--exclude",
    p.localPath,
  ]);
  return ["--node-modules-dir=none", "--exclude-unused-npm", ...excludes];
}

/**
 * A CycloneDX 1.5 SBOM of what a binary embeds: flux-status itself, and each npm package that
 * holds code, by package URL and licence.
 *
 * @param packages what {@linkcode runtimePackages} found
 * @param commit the git commit built
 */
export function sbom(
  packages: readonly RuntimePackage[],
  version: string = VERSION,
  commit = "unknown",
): Record<string, unknown> {
  const purl = (name: string, v: string) =>
    `pkg:npm/${name.replace(/^@/, "%40")}@${encodeURIComponent(v)}`;
  return {
    bomFormat: "CycloneDX",
    specVersion: "1.5",
    version: 1,
    metadata: {
      component: {
        type: "application",
        "bom-ref": "flux-status",
        name: "flux-status",
        version,
        licenses: [{ expression: "MIT" }],
        ...(commit === "unknown" ? {} : {
          externalReferences: [{
            type: "vcs",
            url: `git+https://github.com/flux-status/flux-status@${commit}`,
          }],
        }),
      },
    },
    components: packages.filter((p) => p.code).map((p) => ({
      type: "library",
      "bom-ref": purl(p.name, p.version),
      name: p.name,
      version: p.version,
      purl: purl(p.name, p.version),
      ...(p.license ? { licenses: [{ expression: p.license }] } : {}),
    })),
  };
}

/** The binary's file name for a target. */
export function binaryName(target: Target, version = VERSION): string {
  return `flux-status-${version}-${target.name}${target.ext}`;
}

/** The `deno` arguments that compile one target into `outDir`, with {@linkcode leanFlags}. */
export function compileArgs(
  target: Target,
  outDir: string,
  version = VERSION,
  lean: readonly string[] = [],
): string[] {
  return [
    "compile",
    ...RUNTIME_FLAGS,
    ...PERMISSIONS,
    "--no-check",
    ...lean,
    "--target",
    target.triple,
    "--output",
    `${outDir}/${binaryName(target, version)}`,
    "cli.ts",
  ];
}

/** The `deno` arguments that compile the image's binary for `triple` into `output`. */
export function imageCompileArgs(
  triple: string,
  output: string,
  lean: readonly string[],
): string[] {
  return [
    "compile",
    ...RUNTIME_FLAGS,
    ...IMAGE_PERMISSIONS,
    "--no-check",
    ...lean,
    "--target",
    triple,
    "--output",
    output,
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

async function image(triple: string | undefined, output: string | undefined): Promise<void> {
  if (!triple || !output) throw new Error("usage: compile.ts --image TRIPLE OUTPUT");
  await run(Deno.execPath(), imageCompileArgs(triple, output, await leanFlags()));
  console.log(`wrote ${output}`);
}

if (import.meta.main && Deno.args[0] === "--image") {
  await image(Deno.args[1], Deno.args[2]);
} else if (import.meta.main) {
  const outDir = Deno.args[0] ?? "dist";
  await Deno.mkdir(outDir, { recursive: true });
  const commit = await run("git", ["rev-parse", "HEAD"]);
  const buildInfo = new URL("../src/runtime/build_info.ts", import.meta.url);
  const original = await Deno.readTextFile(buildInfo);
  await Deno.writeTextFile(buildInfo, original.replace(/"unknown"/, JSON.stringify(commit)));
  const files: { name: string; bytes: Uint8Array }[] = [];
  const packages = await runtimePackages();
  const lean = await leanFlags(packages);
  try {
    for (const target of TARGETS) {
      console.log(`compiling ${binaryName(target)}`);
      await run(Deno.execPath(), compileArgs(target, outDir, VERSION, lean));
      const name = binaryName(target);
      files.push({ name, bytes: await Deno.readFile(`${outDir}/${name}`) });
    }
  } finally {
    await Deno.writeTextFile(buildInfo, original);
  }
  const bom = `flux-status-${VERSION}.cdx.json`;
  const bomBytes = new TextEncoder().encode(
    JSON.stringify(sbom(packages, VERSION, commit), null, 2),
  );
  await Deno.writeFile(`${outDir}/${bom}`, bomBytes);
  files.push({ name: bom, bytes: bomBytes });
  await Deno.writeTextFile(`${outDir}/SHA256SUMS`, await sha256sums(files));
  console.log(`wrote ${files.length - 1} binaries, the SBOM ${bom} and ${outDir}/SHA256SUMS`);
}
