/**
 * The image's baked permissions fit the image's own layout and the deploy examples: its store
 * lives under the writable paths, every Secret the examples mount under the readable ones.
 */
import assert from "node:assert/strict";
import { parse, parseAllDocuments } from "yaml";
import { IMAGE_PERMISSIONS } from "../../scripts/compile.ts";

const dockerfile = await Deno.readTextFile(new URL("../../Dockerfile", import.meta.url));
const compile = IMAGE_PERMISSIONS.join(" ");
const list = (flag: string) => new RegExp(`--${flag}=(\\S+)`).exec(compile)?.[1]?.split(",") ?? [];
const within = (path: string, roots: string[]) =>
  roots.some((r) => path === r || path.startsWith(`${r}/`));

Deno.test("the image bakes explicit permissions: never -A, reads and writes only its volumes", () => {
  assert.match(dockerfile, /scripts\/compile\.ts \\\n\s+--image "\$triple" \/out\/flux-status/);
  assert.doesNotMatch(
    dockerfile,
    /(RUN|&&) deno (install|compile)/,
    "the image compiles through the script",
  );
  assert.doesNotMatch(compile, /(^|\s)(-A|--allow-all)(\s|$)/);
  assert.doesNotMatch(
    compile,
    /--allow-read(\s|$)|--allow-write(\s|$)/,
    "read and write are narrowed",
  );
  const store = /FLUX_STATUS_STORE=(\S+)/.exec(dockerfile)![1]!;
  assert.ok(within(store, list("allow-write")), `${store} is writable`);
  assert.ok(within("/tmp/deno", list("allow-write")), "DENO_DIR is writable");
});

Deno.test("every Secret the deploy examples mount is readable by the image", async () => {
  const mounts: string[] = [];
  const files = [
    "helm-values.yaml",
    "fluxd-patch.yaml",
    "flux2-webhook/flux-status.yaml",
    "flux2/statefulset.yaml",
  ];
  for (const file of files) {
    const text = await Deno.readTextFile(new URL(`../../deploy/${file}`, import.meta.url));
    const docs = file.includes("/") ? parseAllDocuments(text).map((d) => d.toJS()) : [parse(text)];
    const json = JSON.stringify(docs);
    for (const m of json.matchAll(/"(\/var\/run\/secrets[^"]*|\/data[^"]*)"/g)) mounts.push(m[1]!);
  }
  assert.ok(mounts.length > 0);
  for (const path of mounts) assert.ok(within(path, list("allow-read")), `${path} is readable`);
});
