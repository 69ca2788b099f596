/**
 * The repository stands on its own: a clone with nothing beside it runs its tests, demo and
 * scripts. Nothing reads a folder outside the repository, and every document the code cites exists.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);
const SKIP = new Set([".git", "node_modules", "dist", ".demo"]);

async function* files(dir: URL, rel = ""): AsyncGenerator<[string, URL]> {
  for await (const entry of Deno.readDir(dir)) {
    if (SKIP.has(entry.name)) continue;
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) yield* files(url, `${rel}${entry.name}/`);
    else if (/\.(ts|json|ya?ml|sh)$|^(run|Dockerfile)$/.test(entry.name)) {
      yield [`${rel}${entry.name}`, url];
    }
  }
}

// Built from parts so that this file does not match itself.
const OUTSIDE = new RegExp(["\\.\\./", "(\\.\\./)*", "shared", "/"].join(""));

Deno.test("no code, script or configuration reads a folder beside the repository", async () => {
  const offenders: string[] = [];
  for await (const [path, url] of files(ROOT)) {
    if (path.startsWith("dev/fixtures/")) continue;
    if (OUTSIDE.test(await Deno.readTextFile(url))) offenders.push(path);
  }
  assert.deepEqual(offenders, []);
});

Deno.test("every docs/ page and dev/fixtures/ file that code cites is in the repository", async () => {
  const missing: string[] = [];
  for await (const [path, url] of files(ROOT)) {
    if (!path.endsWith(".ts")) continue;
    const text = await Deno.readTextFile(url);
    for (
      const m of text.matchAll(
        /\b((?:docs|dev\/fixtures|dev\/fakes)\/[\w./-]+\.(?:md|json|ya?ml|pem))/g,
      )
    ) {
      try {
        await Deno.stat(new URL(m[1]!, ROOT));
      } catch {
        missing.push(`${path} cites ${m[1]}`);
      }
    }
  }
  assert.deepEqual(missing, []);
});
