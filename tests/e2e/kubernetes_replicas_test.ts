/**
 * Two replicas of `daemon --kubernetes` (in-process, each with its own store) on one fake
 * apiserver and one fake GitHub: one holds the Lease and writes, the other follows with its watches
 * warm; when the leader stops, the follower takes over and neither loses nor repeats a status.
 */
import assert from "node:assert/strict";
import { type Daemon, startDaemon } from "../../daemon.ts";
import { daemonConfig } from "../../src/config/config.ts";
import { startFakeGitHub } from "../../dev/fakes/github.ts";
import { startKubeApiserver } from "../../dev/fakes/kube_apiserver.ts";
import { tempDir } from "../_helpers.ts";
import { C1, FLEET_URL, flux, gitRepository, writeKubeconfig } from "../_kube.ts";

Deno.test("--kubernetes replicas: one writer; a takeover on a graceful stop neither loses nor repeats a status", async () => {
  await using dir = await tempDir();
  await using github = await startFakeGitHub({ repos: ["acme/fleet"] });
  const api = startKubeApiserver();
  const { kubeconfig } = await writeKubeconfig(api, dir.path);
  const replica = (name: string) =>
    startDaemon(
      daemonConfig({
        gitUrl: FLEET_URL,
        apiUrl: github.url,
        githubToken: "test-token",
        instance: "dev",
        store: `${dir.path}/${name}/kv.sqlite`,
        listen: "127.0.0.1:0",
        pollWorkloads: false,
        kubernetes: true,
        kubeconfig,
      }),
      { kubernetes: { env: {}, maxBackoffMs: 200, settleMs: 50 } },
    );
  const ready = async (d: Daemon) =>
    await (await fetch(`http://127.0.0.1:${d.addr.port}/readyz`)).json();
  const shown = (action: string) =>
    github.commitStatuses(C1).filter((s) => s.name === `flux-status/dev/${action}`)
      .map((s) => s.state);
  const a = await replica("a");
  let b: Daemon | undefined;
  try {
    await api.waitFor(() => api.lease("flux-system", "flux-status-dev") !== undefined, "a Lease");
    const holder = api.lease("flux-system", "flux-status-dev")!.spec.holderIdentity;
    b = await replica("b");
    api.apply(gitRepository(C1));
    api.apply(flux("kustomization-apps-progressing"));
    await github.waitFor(() => shown("workload").includes("pending"), "workload pending");
    await github.waitFor(() => shown("sync").includes("succeeded"), "sync succeeded");
    assert.deepEqual((await ready(a)).leading, true);
    assert.deepEqual(await ready(b), { status: "ready", leading: false, leader: holder });
    // The follower queued the same statuses in its own store, and sent none.
    assert.equal(github.received.filter((r) => r.method === "POST").length, 2);

    await a.stop();
    await api.waitFor(
      () => api.lease("flux-system", "flux-status-dev")!.spec.holderIdentity !== holder,
      "the follower to take over",
    );
    api.apply(flux("kustomization-apps-ready"));
    await github.waitFor(() => shown("workload").includes("succeeded"), "workload succeeded");
    assert.deepEqual(shown("workload"), ["pending", "succeeded"], "nothing lost, nothing repeated");
    assert.deepEqual(shown("sync"), ["succeeded"]);
    assert.equal((await ready(b)).leading, true);
    const metrics = await (await fetch(`http://127.0.0.1:${b.addr.port}/metrics`)).text();
    assert.match(metrics, /^flux_status_leader 1$/m);
    assert.deepEqual(github.violations, []);
  } finally {
    await b?.stop();
    await a.stop();
    await api.close();
  }
});
