/**
 * `daemon --kubernetes` end to end: the real daemon (in-process, so backoffs can be short) reads
 * Flux objects from the fake apiserver over HTTPS with a kubeconfig, and sets the roll-up pair
 * on the fake GitHub, checked against GitHub's API description.
 */
import assert from "node:assert/strict";
import { startDaemon } from "../../daemon.ts";
import { daemonConfig } from "../../src/config/config.ts";
import { startFakeGitHub } from "../../dev/fakes/github.ts";
import { type KubeApiserver, startKubeApiserver } from "../../dev/fakes/kube_apiserver.ts";
import { tempDir } from "../_helpers.ts";
import { flux2Fixture, postFlux2Event } from "../../dev/fakes/notification_controller.ts";
import { C1, C2, FLEET_URL, flux, gitRepository, writeKubeconfig } from "../_kube.ts";

type GitHub = Awaited<ReturnType<typeof startFakeGitHub>>;

/** The fake GitHub, the fake apiserver and a daemon between them; restartable. */
async function setup(extra: Record<string, unknown> = {}) {
  const dir = await tempDir();
  const github = await startFakeGitHub({ repos: ["acme/fleet"] });
  const api = startKubeApiserver();
  const { kubeconfig } = await writeKubeconfig(api, dir.path);
  const config = daemonConfig({
    gitUrl: FLEET_URL,
    apiUrl: github.url,
    githubToken: "test-token",
    instance: "dev",
    store: `${dir.path}/kv.sqlite`,
    listen: "127.0.0.1:0",
    pollWorkloads: false,
    kubernetes: true,
    kubeconfig,
    ...extra,
  });
  const start = () =>
    startDaemon(config, { kubernetes: { env: {}, maxBackoffMs: 200, settleMs: 50 } });
  let daemon = await start();
  return {
    github,
    api,
    dir,
    get url() {
      return `http://127.0.0.1:${daemon.addr.port}`;
    },
    async restart(whileDown: () => void | Promise<void> = () => {}) {
      await daemon.stop();
      await whileDown();
      daemon = await start();
    },
    async [Symbol.asyncDispose]() {
      await daemon.stop();
      await api.close();
      await github.close();
      await dir[Symbol.asyncDispose]();
    },
  };
}

const show = (github: GitHub, sha: string, action: string) =>
  github.commitStatuses(sha).filter((s) => s.name === `flux-status/dev/${action}`)
    .map((s) => `${s.state}: ${s.description}`);

const landed = (github: GitHub, sha: string, action: string, state: string) =>
  github.waitFor(
    () => show(github, sha, action).some((s) => s.startsWith(`${state}:`)),
    `${action} ${state} on ${sha.slice(0, 7)}`,
  );

const writes = (github: GitHub) =>
  github.received.filter((r) => r.method === "POST" && r.path.includes("/statuses/")).length;

function fleet(api: KubeApiserver, sha: string, state: string, name = "apps"): void {
  api.apply(gitRepository(sha));
  api.apply(flux(`kustomization-apps-${state}`, { c1: sha, name }));
}

Deno.test("--kubernetes: live pending, then succeeded, as the roll-up pair", async () => {
  await using t = await setup();
  fleet(t.api, C1, "progressing");
  await landed(t.github, C1, "workload", "pending");
  await landed(t.github, C1, "sync", "succeeded");
  assert.deepEqual(show(t.github, C1, "sync"), ["succeeded: Applied at 1/1 objects"]);
  fleet(t.api, C1, "ready");
  await landed(t.github, C1, "workload", "succeeded");
  assert.deepEqual(show(t.github, C1, "workload"), [
    "pending: Ready at 0/1 objects; waiting: kustomization/flux-system/apps",
    "succeeded: Ready at 1/1 objects",
  ]);
  assert.deepEqual(t.github.violations, []);
});

Deno.test("--kubernetes: a verdict reached while the daemon was down lands after the restart, nothing repeated", async () => {
  await using t = await setup();
  fleet(t.api, C1, "progressing");
  await landed(t.github, C1, "workload", "pending");
  await landed(t.github, C1, "sync", "succeeded");
  await t.restart(() => fleet(t.api, C1, "ready"));
  await landed(t.github, C1, "workload", "succeeded");
  assert.deepEqual(show(t.github, C1, "sync"), ["succeeded: Applied at 1/1 objects"]);
  assert.equal(show(t.github, C1, "workload").length, 2);
});

Deno.test("--kubernetes: an older commit left pending is canceled when the objects move on; a failure lands", async () => {
  await using t = await setup();
  fleet(t.api, C1, "progressing");
  await landed(t.github, C1, "workload", "pending");
  // C2 fetched and being built: C1 never finished.
  const building = flux("kustomization-apps-progressing", { c1: C2 });
  const reconciling = building.status.conditions.find((c: { type: string }) =>
    c.type === "Reconciling"
  );
  reconciling.message = reconciling.message.replace("Running health checks", "Building manifests");
  t.api.apply(gitRepository(C2));
  t.api.apply(building);
  await landed(t.github, C1, "workload", "canceled");
  assert.match(show(t.github, C1, "workload").at(-1)!, /^canceled: Superseded by 9b1e4d7/);
  await landed(t.github, C2, "workload", "pending");
  t.api.apply(flux("kustomization-apps-build-failed"));
  await landed(t.github, C2, "sync", "failed");
  assert.deepEqual(
    show(t.github, C2, "sync").at(-1),
    "failed: Failed at 1/1: kustomization/flux-system/apps (BuildFailed)",
  );
});

Deno.test("--kubernetes: what an object's history says of a commit it left counts for that commit", async () => {
  await using t = await setup();
  fleet(t.api, C1, "progressing");
  await landed(t.github, C1, "workload", "pending");
  // Down while the object became healthy at C1 and then failed at C2: only its history says C1.
  await t.restart(() => {
    t.api.apply(gitRepository(C2));
    t.api.apply(flux("kustomization-apps-healthcheck-failed"));
  });
  await landed(t.github, C1, "workload", "succeeded");
  await landed(t.github, C2, "workload", "failed");
  await landed(t.github, C2, "sync", "succeeded");
  assert.deepEqual(show(t.github, C2, "sync"), ["succeeded: Applied at 1/1 objects"]);
});

Deno.test("--kubernetes: a 410 after compaction and a 4 s apiserver outage lose nothing", async () => {
  await using t = await setup();
  fleet(t.api, C1, "progressing");
  await landed(t.github, C1, "workload", "pending");
  // Compacted: the re-watch from the old resourceVersion gets 410 and the reflectors list again.
  t.api.compact();
  t.api.apply(flux("kustomization-apps-progressing", { c1: C1, name: "infra" }));
  t.api.dropWatches();
  await t.api.waitFor(() => t.api.watchers === 5, "the watches back after the 410");
  assert.ok(t.api.requests.some((r) => r.query.get("watch") === "true" && r.status === 200));
  // Down for 4 s; meanwhile both objects become ready.
  await t.api.pause();
  fleet(t.api, C1, "ready");
  fleet(t.api, C1, "ready", "infra");
  await new Promise((r) => setTimeout(r, 4_000));
  await t.api.resume();
  await landed(t.github, C1, "workload", "succeeded");
  assert.deepEqual(show(t.github, C1, "workload").at(-1), "succeeded: Ready at 2/2 objects");
});

Deno.test("--kubernetes: a 403 shows in /readyz, is retried with backoff, and recovers", async () => {
  await using t = await setup();
  t.api.forbid("list", "helmreleases");
  fleet(t.api, C1, "ready");
  await t.api.waitFor(
    () => t.api.requests.filter((r) => r.status === 403).length >= 3,
    "three refused lists",
  );
  const res = await fetch(`${t.url}/readyz`);
  const body = await res.json();
  assert.equal(res.status, 503);
  assert.match(
    body.reason,
    /Cannot list helmreleases\.helm\.toolkit\.fluxcd\.io: 403 Forbidden: .*cannot list resource "helmreleases"/,
  );
  // Nothing is judged while a kind cannot be read: a HelmRelease might be missing.
  assert.deepEqual(show(t.github, C1, "sync"), []);
  const metrics = await (await fetch(`${t.url}/metrics`)).text();
  assert.match(
    metrics,
    /flux_status_kubernetes_errors_total\{resource="helmreleases.helm.toolkit.fluxcd.io",verb="list",code="403"\} [3-9]/,
  );
  t.api.allow("list", "helmreleases");
  await landed(t.github, C1, "workload", "succeeded");
  assert.equal((await fetch(`${t.url}/readyz`)).status, 200);
});

Deno.test("--kubernetes: objects of another repository get nothing; a HelmRelease's +sha12 lands on the full SHA", async () => {
  await using t = await setup();
  const OTHER = "1111111111111111111111111111111111111111";
  t.api.apply(gitRepository(C1));
  t.api.apply(flux("helmchart-apps-webapp-ready"));
  t.api.apply(flux("helmrelease-webapp-ready"));
  t.api.apply({
    ...gitRepository(OTHER, "https://github.com/acme/other"),
    metadata: { name: "other", namespace: "flux-system" },
  });
  t.api.apply({
    ...flux("kustomization-apps-ready", { c1: OTHER }),
    spec: {
      ...flux("kustomization-apps-ready").spec,
      sourceRef: { kind: "GitRepository", name: "other" },
    },
  });
  await landed(t.github, C1, "workload", "succeeded");
  await landed(t.github, C1, "sync", "succeeded");
  assert.deepEqual(show(t.github, C1, "sync"), ["succeeded: Applied at 1/1 objects"]);
  assert.deepEqual(t.github.commitStatuses(OTHER), []);
  assert.ok(
    t.github.received.every((r) => !r.path.includes(OTHER) && !r.path.includes("3f2a9c1d8e7b/")),
  );
});

Deno.test("--kubernetes: 200 Kustomizations on one commit cost the roll-up pair, ≤ 6 writes", async () => {
  await using t = await setup();
  t.api.apply(gitRepository(C1));
  for (let i = 0; i < 200; i++) {
    t.api.apply(flux("kustomization-apps-progressing", { name: `app-${i}` }));
  }
  await landed(t.github, C1, "workload", "pending");
  for (let i = 0; i < 200; i++) t.api.apply(flux("kustomization-apps-ready", { name: `app-${i}` }));
  await landed(t.github, C1, "workload", "succeeded");
  assert.ok(writes(t.github) <= 6, `${writes(t.github)} writes`);
  assert.deepEqual(show(t.github, C1, "workload").at(-1), "succeeded: Ready at 200/200 objects");
});

Deno.test("--kubernetes --object-statuses: one pair per object besides the roll-up", async () => {
  await using t = await setup({ objectStatuses: true });
  fleet(t.api, C1, "ready");
  await landed(t.github, C1, "workload", "succeeded");
  await t.github.waitFor(
    () => show(t.github, C1, "kustomization/flux-system/apps/workload").length > 0,
    "the object's workload",
  );
  assert.deepEqual(show(t.github, C1, "kustomization/flux-system/apps/sync"), [
    "succeeded: Applied",
  ]);
  assert.deepEqual(show(t.github, C1, "kustomization/flux-system/apps/workload"), [
    "succeeded: Healthy",
  ]);
});

Deno.test("--kubernetes: a missing CRD shows in /readyz as not served, holds nothing up, and a fluxd route is gone", async () => {
  await using t = await setup();
  t.api.unserve("ocirepositories");
  // The second refusal comes after the backoff the first one began: its reason is set by then.
  await t.api.waitFor(
    () =>
      t.api.requests.filter((r) => r.path.endsWith("/ocirepositories") && r.status === 404)
        .length >= 2,
    "two refused lists",
  );
  const body = await (await fetch(`${t.url}/readyz`)).json();
  assert.match(
    body.reason,
    /Cannot list ocirepositories\.source\.toolkit\.fluxcd\.io: the apiserver does not serve source\.toolkit\.fluxcd\.io\/v1 ocirepositories \(is its CRD installed\?\)/,
  );
  // A kind that is not installed has no objects: the others' statuses still land.
  fleet(t.api, C1, "ready");
  await landed(t.github, C1, "workload", "succeeded");
  // No fluxd in this mode: its event route does not exist, so nothing posted there sets a status.
  const res = await fetch(`${t.url}/v6/events`, { method: "POST", body: "{}" });
  await res.body?.cancel();
  assert.equal(res.status, 404);
});

Deno.test("--kubernetes: a notification-controller event is a hint: the object is read at once, never trusted", async () => {
  await using t = await setup();
  fleet(t.api, C1, "progressing");
  await landed(t.github, C1, "workload", "pending");
  // The event says applied and healthy; the cluster says otherwise: nothing changes but a GET.
  const status = await postFlux2Event(
    `${t.url}/flux2/events`,
    flux2Fixture("kustomization-applied.json"),
  );
  assert.equal(status, 200);
  assert.ok(
    t.api.requests.some((r) => r.path.endsWith("/namespaces/flux-system/kustomizations/apps")),
    "the object was read",
  );
  assert.deepEqual(show(t.github, C1, "workload"), [
    "pending: Ready at 0/1 objects; waiting: kustomization/flux-system/apps",
  ]);
});

Deno.test("--kubernetes --namespace: every list and watch is of those namespaces only", async () => {
  await using t = await setup({ namespace: "flux-system,apps" });
  fleet(t.api, C1, "ready");
  await landed(t.github, C1, "workload", "succeeded");
  const calls = t.api.requests.filter((r) => r.path.startsWith("/apis/"));
  assert.ok(calls.length >= 10);
  for (const r of calls) assert.match(r.path, /\/namespaces\/(flux-system|apps)\//, r.path);
});
