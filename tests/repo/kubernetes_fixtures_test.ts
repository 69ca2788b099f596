/**
 * The Kubernetes fixtures (dev/fixtures/kubernetes) are objects the apiserver would serve: each
 * validates against its Flux CRD's storage-version schema (dev/fixtures/specs/flux-crds), as the
 * fake apiserver checks every object a test stores.
 */
import assert from "node:assert/strict";
import { fluxCrds } from "../../dev/fakes/flux_crds.ts";

const DIR = new URL("../../dev/fixtures/kubernetes/", import.meta.url);

Deno.test("every Kubernetes fixture validates against its Flux CRD schema", async () => {
  let checked = 0;
  for await (const entry of Deno.readDir(DIR)) {
    const object = JSON.parse(await Deno.readTextFile(new URL(entry.name, DIR)));
    const crd = fluxCrds().find((c) =>
      `${c.group}/${c.version}` === object.apiVersion && c.kind === object.kind
    );
    assert.ok(crd, `${entry.name}: no CRD serves ${object.apiVersion} ${object.kind}`);
    assert.deepEqual(crd.validate(object), [], entry.name);
    checked++;
  }
  assert.equal(checked, 16);
});

Deno.test("a fixture with a field of the wrong type is refused", () => {
  const crd = fluxCrds().find((c) => c.kind === "Kustomization")!;
  const object = JSON.parse(
    Deno.readTextFileSync(new URL("kustomization-apps-ready.json", DIR)),
  );
  object.spec.wait = "yes";
  assert.match(crd.validate(object).join("\n"), /\/spec\/wait must be boolean/);
});
