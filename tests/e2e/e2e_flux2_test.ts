/**
 * The end-to-end suite on Flux v2 input: the real daemon through cli.ts, notification-controller's
 * signed POSTs (fixture bytes, re-timed where a scenario needs it), and the provider's fake.
 */
import assert from "node:assert/strict";
import { PROVIDERS } from "../_providers.ts";
import { runCli, startDaemonProcess } from "../_cli.ts";
import { tempDir } from "../_helpers.ts";
import { flux2Fixture, postFlux2Event } from "../../dev/fakes/notification_controller.ts";

const GOOD = "3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39";
const BAD = "9b1e4d7a2c5f8e0b3d6a9c2f5e8b1d4a7c0f3e62";
const KEY = "SENTINEL_hmac_k3y_must_not_leak_71b0";
const SENTINEL = "SENTINEL_t0ken_must_not_leak_5c1f";
const APPS = "kustomization/flux-system/apps";

const fixture = flux2Fixture;
const post = (url: string, body: Uint8Array<ArrayBuffer>, key = KEY) =>
  postFlux2Event(`${url}/flux2/events`, body, key);

const args = (store: string, extra: string[] = []) => [
  "--instance",
  "dev",
  "--store",
  `${store}/kv.sqlite`,
  "--poll-workloads=false",
  ...extra,
];

for (const provider of PROVIDERS.filter((p) => p.name !== "azure-devops")) {
  type Fake = Awaited<ReturnType<typeof provider.start>>;
  const show = (p: Fake, sha: string, action: string) =>
    p.statuses(sha).filter((s) => s.name === `flux-status/dev/${APPS}/${action}`).map((s) =>
      `${s.state}: ${s.description}`
    );
  const landed = (p: Fake, sha: string, action: string, state: string) =>
    p.waitFor(
      () => show(p, sha, action).some((s) => s.startsWith(`${state}:`)),
      `${action} ${state} on ${sha.slice(0, 7)}`,
    );
  const env = (p: Fake, token = "test-token") => ({
    ...p.tokenEnv(token),
    FLUX_STATUS_FLUX2_HMAC_KEY: KEY,
  });

  Deno.test(`[${provider.name}] Flux v2: applied then healthy, read back per object by the CLI`, async () => {
    await using dir = await tempDir();
    await using p = await provider.start();
    await using daemon = await startDaemonProcess([...p.args, ...args(dir.path)], env(p));
    assert.equal(await post(daemon.url, fixture("kustomization-progressing.json")), 200);
    await landed(p, GOOD, "workload", "pending");
    assert.equal(await post(daemon.url, fixture("kustomization-applied.json")), 200);
    await landed(p, GOOD, "workload", "succeeded");
    assert.deepEqual(show(p, GOOD, "sync"), ["succeeded: Applied"]);
    assert.deepEqual(show(p, GOOD, "workload"), [
      "pending: Applied, waiting for the reconciliation to finish",
      "succeeded: Healthy",
    ]);
    const read = await runCli([
      "status",
      ...p.args,
      "--instance",
      "dev",
      "--commit-id",
      GOOD,
      "--object",
      APPS,
      "--action",
      "all",
      "--wait",
      "--timeout",
      "10s",
    ], p.tokenEnv("test-token"));
    assert.equal(read.code, 0, read.stderr);
    assert.deepEqual(
      read.stdout.trim().split("\n").map((l) => JSON.parse(l).state),
      ["succeeded", "succeeded"],
    );
    assert.deepEqual(p.violations, []);
  });

  Deno.test(`[${provider.name}] Flux v2: a failed apply and a failed health check are failed`, async () => {
    await using dir = await tempDir();
    await using p = await provider.start();
    await using daemon = await startDaemonProcess([...p.args, ...args(dir.path)], env(p));
    assert.equal(await post(daemon.url, fixture("kustomization-reconciliation-failed.json")), 200);
    await landed(p, BAD, "sync", "failed");
    assert.match(
      show(p, BAD, "sync")[0]!,
      /^failed: ReconciliationFailed: Deployment\/apps\/podinfo dry-run failed/,
    );
    // kustomize-controller retried, applied, and then the health check failed.
    const later = { timestamp: "2026-08-10T10:21:00Z", revision: `main@sha1:${BAD}` };
    assert.equal(await post(daemon.url, fixture("kustomization-progressing.json", later)), 200);
    await landed(p, BAD, "sync", "succeeded");
    const failed = { timestamp: "2026-08-10T10:26:00Z" };
    assert.equal(
      await post(daemon.url, fixture("kustomization-healthcheck-failed.json", failed)),
      200,
    );
    await p.waitFor(
      () => show(p, BAD, "workload").at(-1)?.startsWith("failed: HealthCheckFailed") ?? false,
      "the health check failure",
    );
    assert.match(
      show(p, BAD, "workload").at(-1)!,
      /^failed: HealthCheckFailed: health check failed after 5m/,
    );
  });

  Deno.test(`[${provider.name}] Flux v2: duplicates and out-of-order events change nothing`, async () => {
    await using dir = await tempDir();
    await using p = await provider.start();
    await using daemon = await startDaemonProcess([...p.args, ...args(dir.path)], env(p));
    for (const name of ["kustomization-applied.json", "kustomization-progressing.json"]) {
      assert.equal(await post(daemon.url, fixture(name)), 200);
    }
    assert.equal(await post(daemon.url, fixture("kustomization-applied.json")), 200);
    await landed(p, GOOD, "workload", "succeeded");
    await landed(p, GOOD, "sync", "succeeded");
    assert.equal(await daemon.terminate(), 0); // drains the outbox
    assert.deepEqual(show(p, GOOD, "workload"), ["succeeded: Healthy"]);
    assert.deepEqual(show(p, GOOD, "sync"), ["succeeded: Applied"]);
  });

  Deno.test(`[${provider.name}] Flux v2: a pending status with no verdict fails at the pending timeout`, async () => {
    await using dir = await tempDir();
    await using p = await provider.start();
    await using daemon = await startDaemonProcess(
      [...p.args, ...args(dir.path, ["--flux2-pending-timeout", "300ms"])],
      env(p),
    );
    assert.equal(await post(daemon.url, fixture("kustomization-progressing.json")), 200);
    await landed(p, GOOD, "workload", "failed");
    assert.equal(show(p, GOOD, "workload").at(-1), "failed: No verdict from Flux within 300ms");
  });

  Deno.test(`[${provider.name}] Flux v2: statuses survive an outage and a kill -9; no token or key is printed`, async () => {
    await using dir = await tempDir();
    await using p = await provider.start([SENTINEL]);
    const unreachable = p.args.map((a, i) =>
      p.args[i - 1] === "--api-url" ? "http://127.0.0.1:9" : a
    );
    const first = await startDaemonProcess(
      [...unreachable, ...args(dir.path, ["--log-level", "debug"])],
      env(p, SENTINEL),
    );
    assert.equal(await post(first.url, fixture("kustomization-applied.json"), "wrong key"), 401);
    assert.equal(await post(first.url, fixture("kustomization-applied.json")), 200);
    await first.waitForLine(/Pausing every call to .*could not be reached/);
    await first.kill();
    await using second = await startDaemonProcess(
      [...p.args, ...args(dir.path, ["--log-level", "debug"])],
      env(p, SENTINEL),
    );
    await landed(p, GOOD, "workload", "succeeded");
    await landed(p, GOOD, "sync", "succeeded");
    assert.equal(await second.terminate(), 0);
    const output = first.output() + second.output();
    for (const secret of [SENTINEL, KEY]) {
      assert.ok(!output.includes(secret), `printed a secret:\n${output}`);
    }
  });
}
