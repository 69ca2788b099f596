/**
 * The layout's directions, enforced: sources (fluxd, notification-controller) → intake → outbox →
 * notifiers, with the configuration read only by the composition roots and the CLI, and nothing
 * in notifiers/ knowing Flux.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);

/** One import: the importing file and the imported one, both repository paths. */
interface Edge {
  from: string;
  to: string;
  typeOnly: boolean;
}

/** Every relative import of every .ts file under `dir` (a repository path). */
async function imports(dir: string): Promise<Edge[]> {
  const out: Edge[] = [];
  for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...await imports(path));
    else if (entry.name.endsWith(".ts")) {
      const text = await Deno.readTextFile(new URL(path, ROOT));
      for (
        const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^;]*?from\s+"(\.[^"]+)"/gms)
      ) {
        const to = new URL(m[3]!, new URL(path, ROOT)).pathname.slice(ROOT.pathname.length);
        out.push({ from: path, to, typeOnly: m[2] !== undefined });
      }
    }
  }
  return out;
}

/** The folder of src/ a path is in (`sources/flux` for src/sources/flux/rpc.ts). */
function layer(path: string): string {
  const m = /^src\/(sources\/[^/]+|[^/]+)\//.exec(path);
  return m ? m[1]! : path;
}

/** What each folder of src/ may import besides itself (type-only imports listed apart). */
const ALLOWED: Record<string, { imports: string[]; types?: string[] }> = {
  runtime: { imports: ["deno.json"] },
  notifiers: { imports: ["runtime"] },
  "sources/flux": { imports: [], types: ["src/notifiers/notifier.ts"] },
  "sources/flux2": { imports: ["sources/flux"], types: ["src/notifiers/notifier.ts"] },
  "sources/kubernetes": { imports: [], types: ["src/runtime/clock.ts"] },
  outbox: { imports: ["runtime", "notifiers"] },
  intake: {
    imports: [
      "runtime",
      "notifiers",
      "outbox",
      "sources/flux",
      "sources/flux2",
      "sources/kubernetes",
    ],
  },
  server: { imports: ["runtime", "sources/flux", "sources/flux2"] },
  config: { imports: ["runtime", "notifiers", "cli", "sources/flux2"] },
  cli: { imports: ["runtime", "notifiers"] },
};

Deno.test("every folder of src/ imports only the folders its role allows", async () => {
  const wrong: string[] = [];
  for (const e of await imports("src")) {
    const from = layer(e.from), to = layer(e.to);
    if (from === to) continue;
    const rule = ALLOWED[from];
    assert.ok(rule, `${e.from}: src/${from}/ has no rule in ALLOWED`);
    if (rule.imports.includes(to)) continue;
    if (e.typeOnly && rule.types?.includes(e.to)) continue;
    wrong.push(`${e.from} imports ${e.typeOnly ? "type " : ""}${e.to}`);
  }
  assert.deepEqual(wrong, []);
});

Deno.test("the configuration is imported only by the composition roots and the CLI", async () => {
  for (const e of await imports("src")) {
    if (!e.to.startsWith("src/config/") || e.from.startsWith("src/config/")) continue;
    assert.ok(e.from.startsWith("src/cli/"), `${e.from} imports ${e.to}`);
  }
});

Deno.test("nothing in notifiers/ knows Flux: no Flux word outside comments", async () => {
  for await (const entry of Deno.readDir(new URL("src/notifiers", ROOT))) {
    const text = await Deno.readTextFile(new URL(`src/notifiers/${entry.name}`, ROOT));
    const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
    assert.doesNotMatch(
      code,
      /fluxd|Kustomization|HelmRelease|notification-controller/,
      entry.name,
    );
  }
});

Deno.test("only cli.ts and daemon.ts read Deno.env, Deno.args or signals", async () => {
  for await (const file of walk("src")) {
    const text = await Deno.readTextFile(new URL(file, ROOT));
    assert.doesNotMatch(text, /Deno\.(env|args|addSignalListener)/, file);
  }
});

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* walk(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

Deno.test("every store key is built in src/runtime/store_keys.ts: no key literal elsewhere", async () => {
  const literal =
    /(?:kv|op|atomic\(\))\s*\.(?:get|set|delete|list|check)\s*(?:<[^>]*>)?\(\s*(?:\{\s*prefix:\s*)?\[\s*"/;
  for await (const file of walk("src")) {
    if (file === "src/runtime/store_keys.ts") continue;
    const text = await Deno.readTextFile(new URL(file, ROOT));
    assert.doesNotMatch(text, literal, file);
    assert.doesNotMatch(text, /:\s*Deno\.KvKey\s*=>\s*\[/, `${file} builds a key of its own`);
  }
  const daemon = await Deno.readTextFile(new URL("daemon.ts", ROOT));
  assert.doesNotMatch(daemon, literal, "daemon.ts");
});
