/**
 * The Kubernetes fixtures (dev/fixtures/kubernetes) are objects the apiserver would serve: each
 * validates against its Flux CRD's storage-version schema (dev/fixtures/specs/flux-crds).
 */
import assert from "node:assert/strict";
import { Ajv } from "ajv";
import { parse } from "yaml";

const DIR = new URL("../../dev/fixtures/", import.meta.url);

interface Crd {
  spec: {
    group: string;
    names: { kind: string };
    versions: { name: string; storage: boolean; schema: { openAPIV3Schema: object } }[];
  };
}

async function schemas(): Promise<Map<string, object>> {
  const out = new Map<string, object>();
  for await (const entry of Deno.readDir(new URL("specs/flux-crds/", DIR))) {
    if (!entry.name.endsWith(".yaml")) continue;
    const crd = parse(
      await Deno.readTextFile(new URL(`specs/flux-crds/${entry.name}`, DIR)),
    ) as Crd;
    for (const v of crd.spec.versions) {
      out.set(`${crd.spec.group}/${v.name} ${crd.spec.names.kind}`, v.schema.openAPIV3Schema);
    }
  }
  return out;
}

Deno.test("every Kubernetes fixture validates against its Flux CRD schema", async () => {
  const byType = await schemas();
  const ajv = new Ajv({ strict: false, allErrors: true });
  let checked = 0;
  for await (const entry of Deno.readDir(new URL("kubernetes/", DIR))) {
    const object = JSON.parse(await Deno.readTextFile(new URL(`kubernetes/${entry.name}`, DIR)));
    const schema = byType.get(`${object.apiVersion} ${object.kind}`);
    assert.ok(schema, `${entry.name}: no CRD serves ${object.apiVersion} ${object.kind}`);
    const validate = ajv.compile(schema);
    assert.ok(validate(object), `${entry.name}: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
    checked++;
  }
  assert.equal(checked, 16);
});
