/**
 * Flux's CRDs (dev/fixtures/specs/flux-crds) as the fake apiserver serves them: each CRD's group,
 * plural, kind and storage version, and a validator of its storage-version schema, so every object
 * a test stores is one the real apiserver would admit (CEL rules are not checked).
 *
 * @module
 */
import { Ajv, type ValidateFunction } from "ajv";
import { parse } from "yaml";

/** One served custom resource. */
export interface ServedCrd {
  group: string;
  version: string;
  plural: string;
  kind: string;
  /** Checks an object against the storage version's schema; returns the errors. */
  validate(object: unknown): string[];
}

const DIR = new URL("../fixtures/specs/flux-crds/", import.meta.url);

interface Crd {
  spec: {
    group: string;
    names: { kind: string; plural: string };
    versions: { name: string; storage: boolean; schema: { openAPIV3Schema: object } }[];
  };
}

let loaded: ServedCrd[] | undefined;

/** Every Flux CRD of dev/fixtures/specs/flux-crds, at its storage version. */
export function fluxCrds(): ServedCrd[] {
  if (loaded) return loaded;
  const ajv = new Ajv({ strict: false, allErrors: true, logger: false });
  loaded = [];
  for (const entry of Deno.readDirSync(DIR)) {
    if (!entry.name.endsWith(".yaml")) continue;
    const crd = parse(Deno.readTextFileSync(new URL(entry.name, DIR))) as Crd;
    const storage = crd.spec.versions.find((v) => v.storage)!;
    let check: ValidateFunction | undefined;
    loaded.push({
      group: crd.spec.group,
      version: storage.name,
      plural: crd.spec.names.plural,
      kind: crd.spec.names.kind,
      validate(object) {
        check ??= ajv.compile(storage.schema.openAPIV3Schema);
        return check(object)
          ? []
          : (check.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}`);
      },
    });
  }
  return loaded;
}
