import assert from "node:assert/strict";

/** Reads the relative import specifiers of every .ts file under a folder. */
async function imports(dir: string): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for await (const entry of Deno.readDir(new URL(dir, import.meta.url))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...await imports(path));
    else if (entry.name.endsWith(".ts")) {
      const text = await Deno.readTextFile(new URL(path, import.meta.url));
      for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^;]*?from\s+"([^"]+)"/gms)) {
        out.push([path, `${m[2] ? "type " : ""}${m[3]}`]);
      }
    }
  }
  return out;
}

Deno.test("src/notifiers imports nothing from src/flux", async () => {
  for (const [file, spec] of await imports("../src/notifiers")) {
    assert.ok(!spec.includes("/flux/"), `${file} imports ${spec}`);
  }
});

Deno.test("src/flux imports nothing of ours outside it but types from src/notifiers/notifier.ts", async () => {
  for (const [file, spec] of await imports("../src/flux")) {
    const target = spec.replace(/^type /, "");
    if (!target.startsWith("../")) continue; // npm packages and siblings in src/flux
    assert.equal(spec, "type ../notifiers/notifier.ts", `${file} imports ${spec}`);
  }
});

Deno.test("only cli.ts and daemon.ts read Deno.env, Deno.args or signals", async () => {
  for await (const file of walk("../src")) {
    const text = await Deno.readTextFile(new URL(file, import.meta.url));
    assert.doesNotMatch(text, /Deno\.(env|args|addSignalListener)/, file);
  }
});

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(new URL(dir, import.meta.url))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* walk(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

Deno.test("src/flux2 imports nothing of ours but src/flux and types from src/notifiers/notifier.ts", async () => {
  for (const [file, spec] of await imports("../src/flux2")) {
    const target = spec.replace(/^type /, "");
    if (!target.startsWith("../")) continue;
    assert.ok(
      target.startsWith("../flux/") || spec === "type ../notifiers/notifier.ts",
      `${file} imports ${spec}`,
    );
  }
});

Deno.test("src/notifiers imports nothing from src/flux2 or src/config.ts", async () => {
  for (const [file, spec] of await imports("../src/notifiers")) {
    assert.ok(!spec.includes("/flux2/") && !spec.endsWith("config.ts"), `${file} imports ${spec}`);
  }
});
