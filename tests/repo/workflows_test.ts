/**
 * The GitHub workflows cannot run here; they are parsed, and the release's supply-chain steps are
 * checked: binaries and images signed keyless with cosign, an SBOM, SLSA provenance.
 */
import assert from "node:assert/strict";
import { parse } from "yaml";

interface Step {
  uses?: string;
  run?: string;
  id?: string;
  with?: Record<string, unknown>;
}
interface Job {
  permissions?: Record<string, string>;
  steps: Step[];
  needs?: string;
}
interface Workflow {
  on: unknown;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

async function workflow(name: string): Promise<Workflow> {
  const text = await Deno.readTextFile(new URL(`../../.github/workflows/${name}`, import.meta.url));
  return parse(text) as Workflow;
}

Deno.test("every workflow parses, runs .ci/run, and pins each action to a version", async () => {
  for (const name of ["ci.yml", "release.yml"]) {
    const wf = await workflow(name);
    const steps = Object.values(wf.jobs).flatMap((j) => j.steps);
    assert.ok(steps.some((s) => s.run?.includes("bash .ci/run")), `${name} runs the suite`);
    for (const s of steps) {
      if (s.uses) assert.match(s.uses, /^[\w.-]+\/[\w.-]+@v\d+/, `${name}: ${s.uses}`);
    }
  }
});

Deno.test("a release signs SHA256SUMS and the image keyless, with an SBOM and SLSA provenance", async () => {
  const wf = await workflow("release.yml");
  assert.equal(wf.permissions?.contents, "read", "least privilege by default");
  const { binaries, image } = wf.jobs;
  assert.ok(binaries && image);
  for (const job of [binaries, image]) {
    assert.equal(job.permissions?.["id-token"], "write", "Sigstore's keyless signing needs OIDC");
    assert.equal(job.permissions?.attestations, "write");
    assert.ok(job.steps.some((s) => s.uses?.startsWith("sigstore/cosign-installer@")));
    assert.ok(job.steps.some((s) => s.uses?.startsWith("actions/attest-build-provenance@")));
  }
  const runs = binaries.steps.map((s) => s.run ?? "").join("\n");
  assert.match(
    runs,
    /cosign sign-blob --yes --bundle dist\/SHA256SUMS\.sigstore\.json dist\/SHA256SUMS/,
  );
  const order = binaries.steps.map((s) => s.run ?? s.uses ?? "");
  const compiled = order.findIndex((s) => s.includes("deno task compile"));
  const signed = order.findIndex((s) => s.includes("cosign sign-blob"));
  const published = order.findIndex((s) => s.includes("gh release create"));
  assert.ok(compiled < signed && signed < published, "signed after compiling, before publishing");
  // deno task compile writes the SBOM into dist/ and SHA256SUMS (tests/repo/compile_test.ts).
  assert.match(runs, /gh release create "\$\{GITHUB_REF_NAME\}" dist\/\* /);
  const attest = binaries.steps.find((s) => s.uses?.startsWith("actions/attest-build-provenance@"));
  assert.equal(attest?.with?.["subject-path"], "dist/flux-status-*");

  const build = image.steps.find((s) => s.uses?.startsWith("docker/build-push-action@"));
  assert.equal(build?.id, "build");
  assert.equal(build?.with?.provenance, "mode=max");
  assert.equal(build?.with?.sbom, true);
  const sign = image.steps.find((s) => s.run?.includes("cosign sign --yes"));
  assert.match(sign?.run ?? "", /@\$\{\{ steps\.build\.outputs\.digest \}\}/, "signed by digest");
});
