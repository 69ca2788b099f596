/**
 * docs/flux2-state.md's verdict tables, row by row, on the fixtures of dev/fixtures/kubernetes
 * (each an alternative state of the same objects, served as the apiserver serves them).
 */
import assert from "node:assert/strict";
import {
  type ClusterObjects,
  type FluxObject,
  judgeCluster,
  slimFluxObject,
} from "../../src/sources/flux2/cluster_state.ts";
import { kubeFixture } from "../_helpers.ts";

const C1 = "3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39";
const C2 = "9b1e4d7a2c5f8e0b3d6a9c2f5e8b1d4a7c0f3e62";
const OURS = (url: string) => /github\.com[:/]acme\/fleet(\.git)?\/?$/.test(url);

function cluster(...names: string[]): ClusterObjects {
  const out: Record<keyof ClusterObjects, FluxObject[]> = {
    gitRepositories: [],
    ociRepositories: [],
    helmCharts: [],
    kustomizations: [],
    helmReleases: [],
  };
  for (const name of names) {
    const o = kubeFixture(name);
    const kind = ({
      GitRepository: "gitRepositories",
      OCIRepository: "ociRepositories",
      HelmChart: "helmCharts",
      Kustomization: "kustomizations",
      HelmRelease: "helmReleases",
    } as const)[o.kind as "GitRepository"];
    out[kind].push(o);
  }
  return out;
}

const judge = (...names: string[]) =>
  judgeCluster(cluster(...names), OURS).map(({ past: _, ...v }) => v);

Deno.test("a Kustomization applied and healthy at the source's commit: both succeeded", () => {
  assert.deepEqual(judge("gitrepository-flux-system-ready", "kustomization-apps-ready"), [{
    object: "kustomization/flux-system/apps",
    sha: C1,
    sync: "succeeded",
    workload: "succeeded",
    why: "Applied",
    checked: true,
  }]);
});

Deno.test("a Kustomization running health checks: applied, workload pending", () => {
  const [v] = judge("gitrepository-flux-system-ready", "kustomization-apps-progressing");
  assert.deepEqual([v?.sha, v?.sync, v?.workload], [C1, "succeeded", "pending"]);
});

/** Each fixture, beside the GitRepository at C2, gets `[sync, workload, why]` at C2. */
function assertAtBadCommit(
  cases: [fixture: string, sync: string, workload: string, why: string][],
) {
  for (const [name, sync, workload, why] of cases) {
    const [v] = judge("gitrepository-flux-system-ready-bad-commit", name);
    assert.deepEqual([v?.sha, v?.sync, v?.workload, v?.why], [C2, sync, workload, why], name);
  }
}

Deno.test("Kustomization failures at the new commit, each with its reason", () => {
  assertAtBadCommit([
    ["kustomization-apps-healthcheck-failed", "succeeded", "failed", "HealthCheckFailed"],
    ["kustomization-apps-build-failed", "failed", "canceled", "BuildFailed"],
    ["kustomization-apps-reconciliation-failed", "failed", "canceled", "ReconciliationFailed"],
    ["kustomization-apps-dependency-not-ready", "pending", "pending", "DependencyNotReady"],
  ]);
});

Deno.test("a Kustomization's history says what an earlier commit got", () => {
  const [v] = judgeCluster(
    cluster("gitrepository-flux-system-ready-bad-commit", "kustomization-apps-healthcheck-failed"),
    OURS,
  );
  assert.deepEqual(v?.past[0], {
    sha: C1,
    sync: "succeeded",
    workload: "succeeded",
    why: "ReconciliationSucceeded",
  });
});

Deno.test("a suspended Kustomization is named, with no verdict", () => {
  const [v] = judge("gitrepository-flux-system-ready", "kustomization-apps-suspended");
  assert.equal(v?.suspended, true);
  assert.equal(v?.sync, undefined);
});

Deno.test("a Kustomization with no source fetch yet of the new commit is pending at it", () => {
  const k = kubeFixture("kustomization-apps-ready");
  const repo = kubeFixture("gitrepository-flux-system-ready-bad-commit");
  const [v] = judgeCluster({ ...cluster(), gitRepositories: [repo], kustomizations: [k] }, OURS);
  assert.deepEqual([v?.sha, v?.sync, v?.workload], [C2, "pending", "pending"]);
  assert.equal(v?.past[0]?.sha, C1);
});

Deno.test("an OCI-sourced Kustomization without health checks: applied at the origin commit, no workload", () => {
  const [v] = judge("ocirepository-fleet-manifests-ready", "kustomization-fleet-oci-ready");
  assert.deepEqual([v?.sha, v?.sync, v?.workload, v?.checked], [C1, "succeeded", undefined, false]);
});

Deno.test("a HelmRelease's +sha12 chart version lands on the full SHA", () => {
  assert.deepEqual(
    judge(
      "gitrepository-flux-system-ready",
      "helmchart-apps-webapp-ready",
      "helmrelease-webapp-ready",
    ),
    [{
      object: "helmrelease/apps/webapp",
      sha: C1,
      sync: "succeeded",
      workload: "succeeded",
      why: "UpgradeSucceeded",
      checked: true,
    }],
  );
});

Deno.test("HelmRelease failures: upgrade failed and rolled back, stalled, test failed", () => {
  assertAtBadCommit([
    ["helmrelease-webapp-upgrade-failed-rolled-back", "failed", "failed", "UpgradeFailed"],
    ["helmrelease-webapp-stalled", "failed", "failed", "UpgradeFailed"],
    ["helmrelease-checkout-test-failed", "succeeded", "failed", "TestFailed"],
  ]);
});

Deno.test("a short chart SHA nothing in the cluster knows is not guessed", () => {
  const hr = kubeFixture("helmrelease-webapp-ready");
  const repo = kubeFixture("gitrepository-flux-system-ready");
  hr.spec.chart.spec.reconcileStrategy = "ChartVersion";
  repo.status.artifact.revision = `main@sha1:${"a".repeat(40)}`;
  const objects = { ...cluster(), gitRepositories: [repo], helmReleases: [hr] };
  assert.deepEqual(judgeCluster(objects, OURS), []);
  // …but a SHA the store has seen expands it.
  assert.equal(judgeCluster(objects, OURS, [C1])[0]?.sha, C1);
});

Deno.test("objects of another repository get nothing", () => {
  const repo = kubeFixture("gitrepository-flux-system-ready");
  repo.spec.url = "ssh://git@github.com/acme/other";
  const objects = cluster(
    "kustomization-apps-ready",
    "helmchart-apps-webapp-ready",
    "helmrelease-webapp-ready",
  );
  assert.deepEqual(judgeCluster({ ...objects, gitRepositories: [repo] }, OURS), []);
});

Deno.test("slimFluxObject keeps every field a verdict reads: the same verdicts, a third of the size", () => {
  const sets = [
    ["gitrepository-flux-system-ready", "kustomization-apps-ready"],
    ["gitrepository-flux-system-ready", "kustomization-apps-progressing"],
    ["gitrepository-flux-system-ready", "kustomization-apps-suspended"],
    ["ocirepository-fleet-manifests-ready", "kustomization-fleet-oci-ready"],
    ["gitrepository-flux-system-ready", "helmchart-apps-webapp-ready", "helmrelease-webapp-ready"],
    ...[
      "kustomization-apps-healthcheck-failed",
      "kustomization-apps-build-failed",
      "kustomization-apps-reconciliation-failed",
      "kustomization-apps-dependency-not-ready",
      "helmrelease-webapp-upgrade-failed-rolled-back",
      "helmrelease-webapp-stalled",
      "helmrelease-checkout-test-failed",
    ].map((name) => ["gitrepository-flux-system-ready-bad-commit", name]),
  ];
  for (const names of sets) {
    const objects = cluster(...names);
    const slim = Object.fromEntries(
      Object.entries(objects).map(([k, list]) => [k, [...list].map(slimFluxObject)]),
    ) as unknown as ClusterObjects;
    assert.deepEqual(judgeCluster(slim, OURS), judgeCluster(objects, OURS), names.join(" + "));
  }
  const full = kubeFixture("kustomization-apps-ready");
  const slim = slimFluxObject(full);
  assert.equal(slim.status.inventory, undefined);
  assert.ok(JSON.stringify(slim).length < JSON.stringify(full).length / 2);
});
