/**
 * /metrics, /healthz and /readyz through the real HTTP endpoints of a daemon started in-process,
 * and the Grafana dashboard and alert rules checked against the metrics that daemon exports.
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { startDaemon } from "../../daemon.ts";
import { daemonConfig } from "../../src/config/config.ts";
import { fixture, tempDir } from "../_helpers.ts";
import { startFakeGitLab } from "../../dev/fakes/gitlab.ts";
import { flux2Fixture, postFlux2Event } from "../../dev/fakes/notification_controller.ts";

async function daemonWith(extra: Record<string, unknown> = {}, projects = ["acme/app"]) {
  const dir = await tempDir();
  const gl = await startFakeGitLab({ projects });
  const daemon = await startDaemon(daemonConfig({
    gitUrl: "https://gitlab.example.com/acme/app.git",
    provider: "gitlab",
    apiUrl: gl.url,
    gitlabToken: "test-token",
    listen: "127.0.0.1:0",
    store: `${dir.path}/kv.sqlite`,
    pollWorkloads: "false",
    ...extra,
  }));
  const url = `http://127.0.0.1:${daemon.addr.port}`;
  return {
    gl,
    url,
    async get(path: string, headers: Record<string, string> = {}) {
      const res = await fetch(`${url}${path}`, { headers });
      return { status: res.status, text: await res.text(), type: res.headers.get("content-type") };
    },
    /** /readyz once the start-up self-check has answered. */
    async readyzAfterCheck(): Promise<{ status: number; reasons: string[] }> {
      await gl.waitFor(() => gl.received.some((r) => r.path.includes("0".repeat(40))), "check");
      for (let i = 0;; i++) {
        assert.ok(i < 1_000, "the self-check answered but /readyz still says checking");
        const res = await fetch(`${url}/readyz`);
        const body = await res.json();
        const reasons: string[] = body.reasons ?? [];
        if (!reasons.some((r) => r.startsWith("checking"))) return { status: res.status, reasons };
      }
    },
    async [Symbol.asyncDispose]() {
      await daemon.stop(1_000);
      await gl.close();
      await dir[Symbol.asyncDispose]();
    },
  };
}

/** `name{labels} value` lines of a Prometheus text exposition, as a map. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

Deno.test("/metrics counts events, deliveries and the outbox, labelled by provider and outcome", async () => {
  await using d = await daemonWith();
  const post = (body: unknown) =>
    fetch(`${d.url}/v6/events`, { method: "POST", body: JSON.stringify(body) }).then((r) =>
      r.body?.cancel()
    );
  await post(await fixture("event-sync.json"));
  await post(await fixture("event-commit.json"));
  await post({ type: "sync" });
  assert.equal(
    await postFlux2Event(`${d.url}/flux2/events`, flux2Fixture("kustomization-applied.json")),
    200,
  );
  await d.gl.waitFor(() => d.gl.received.filter((r) => r.method === "POST").length >= 4, "4");
  let m = new Map<string, number>();
  for (let i = 0; i < 50; i++) {
    m = samples((await d.get("/metrics")).text);
    if (m.get('flux_status_statuses_delivered_total{provider="gitlab"}') === 4) break;
  }
  const expected: [string, number][] = [
    ['flux_status_events_received_total{source="fluxd",outcome="accepted",code="200"}', 1],
    ['flux_status_events_received_total{source="fluxd",outcome="ignored",code="200"}', 1],
    ['flux_status_events_received_total{source="fluxd",outcome="rejected",code="400"}', 1],
    ['flux_status_events_received_total{source="flux2",outcome="accepted",code="200"}', 1],
    ['flux_status_statuses_delivered_total{provider="gitlab"}', 4],
    ['flux_status_delivery_duration_seconds_count{provider="gitlab"}', 4],
    ['flux_status_outbox_depth{provider="gitlab"}', 0],
    ['flux_status_outbox_oldest_age_seconds{provider="gitlab"}', 0],
    ['flux_status_provider_paused{provider="gitlab"}', 0],
    ["flux_status_fluxd_connected", 0],
    ["flux_status_rollout_watches", 0],
  ];
  for (const [name, value] of expected) assert.equal(m.get(name), value, name);
  for (const name of m.keys()) {
    assert.doesNotMatch(name, /[0-9a-f]{40}/, "no sha as a label");
  }
});

Deno.test("/metrics needs the --metrics-token when one is given, and never shows a secret", async () => {
  await using d = await daemonWith({
    metricsToken: "metrics-s3cret",
    connectToken: "connect-s3cret",
  });
  assert.equal((await d.get("/metrics")).status, 401);
  const ok = await d.get("/metrics", { authorization: "Bearer metrics-s3cret" });
  assert.equal(ok.status, 200);
  assert.match(ok.type!, /^text\/plain; version=0\.0\.4/);
  for (const secret of ["metrics-s3cret", "connect-s3cret", "test-token"]) {
    assert.ok(!ok.text.includes(secret));
  }
});

Deno.test("/healthz and /readyz answer small JSON bodies that say why not", async () => {
  await using d = await daemonWith();
  const health = await d.get("/healthz");
  assert.deepEqual([health.status, JSON.parse(health.text)], [200, { status: "ok" }]);
  const before = await d.readyzAfterCheck();
  assert.equal(before.status, 503);
  assert.deepEqual(before.reasons, [
    "fluxd has not connected yet (and no Flux v2 event has arrived)",
  ]);
  await postFlux2Event(`${d.url}/flux2/events`, flux2Fixture("kustomization-progressing.json"));
  const after = await d.get("/readyz");
  assert.deepEqual([after.status, JSON.parse(after.text)], [200, { status: "ready" }]);
});

Deno.test("the Grafana dashboard and the alert rules name only metrics the daemon exports", async () => {
  await using d = await daemonWith();
  const exported = new Set(
    [...(await d.get("/metrics")).text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!),
  );
  const dashboard = await Deno.readTextFile(
    new URL("../../deploy/monitoring/grafana-dashboard.json", import.meta.url),
  );
  const exprs = (JSON.parse(dashboard).panels as { targets: { expr: string }[] }[])
    .flatMap((p) => p.targets.map((t) => t.expr));
  const rules = parse(
    await Deno.readTextFile(
      new URL("../../deploy/monitoring/prometheus-rule.yaml", import.meta.url),
    ),
  );
  const alerts = rules.spec.groups.flatMap((g: { rules: { expr: string }[] }) =>
    g.rules.map((r) => r.expr)
  );
  assert.ok(exprs.length >= 8 && alerts.length >= 4);
  for (const expr of [...exprs, ...alerts]) {
    const names = [...expr.matchAll(/flux_status_[a-z_]+/g)].map((m) =>
      m[0].replace(/_(bucket|count|sum)$/, "")
    );
    assert.ok(names.length > 0, expr);
    for (const name of names) assert.ok(exported.has(name), `${name} is not exported (${expr})`);
  }
  for (
    const needed of [
      "flux_status_statuses_delivered_total",
      "flux_status_outbox_depth",
      "flux_status_outbox_oldest_age_seconds",
      "flux_status_provider_paused",
      "flux_status_fluxd_connected",
    ]
  ) assert.ok(exprs.some((e) => e.includes(needed)), `the dashboard shows ${needed}`);
});

Deno.test("the start-up self-check says in /readyz that the token cannot use the repository, and events are still taken", async () => {
  await using d = await daemonWith({}, ["acme/other"]);
  await postFlux2Event(`${d.url}/flux2/events`, flux2Fixture("kustomization-progressing.json"));
  const ready = await d.readyzAfterCheck();
  assert.equal(ready.status, 503);
  assert.equal(ready.reasons.length, 1);
  assert.match(
    ready.reasons[0]!,
    /^the gitlab check failed: Cannot read statuses of 0000000 as GitLab answered 404 404 Project Not Found/,
  );
  const res = await fetch(`${d.url}/v6/events`, {
    method: "POST",
    body: JSON.stringify(await fixture("event-sync.json")),
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
});
