/**
 * The end-to-end suite, written once and run for every provider: the real daemon through
 * cli.ts, the fluxd double, and the provider's fake validating every request.
 */
import assert from "node:assert/strict";
import { type ControllerStatus, FakeFluxd } from "../../dev/fakes/fluxd.ts";
import { PROVIDERS } from "../_providers.ts";
import { runCli, startDaemonProcess } from "../_cli.ts";
import { fixture, tempDir } from "../_helpers.ts";

const HEAD = "2f0ab35ccef1a06269ce618a6f1b01e7332b69b9";
const OLDER = "1d9fd104169fb875fa75a6b09b3a1ebc9aec6dd4";
const FAILED = "a754de1d22760f279bebcc2697928d14d90cbc38";
const SENTINEL = "SENTINEL_t0ken_must_not_leak_5c1f";
const CONNECT = "SENTINEL_connect_t0ken_9d2e";

async function services(name: string): Promise<ControllerStatus[]> {
  return ((await fixture(name)).result as { Result: ControllerStatus[] | null }).Result ?? [];
}

const daemonArgs = (store: string, extra: string[] = []) => [
  "--instance",
  "dev",
  "--store",
  `${store}/kv.sqlite`,
  "--poll-interval",
  "20ms",
  "--flux-url",
  "http://127.0.0.1:9",
  ...extra,
];

for (const provider of PROVIDERS) {
  const show = (p: Awaited<ReturnType<typeof provider.start>>, sha: string, action: string) =>
    p.statuses(sha).filter((s) => s.name === `flux-status/dev/${action}`).map((s) =>
      `${s.state}: ${s.description}`
    );
  const landed = (
    p: Awaited<ReturnType<typeof provider.start>>,
    sha: string,
    action: string,
    state: string,
  ) =>
    p.waitFor(
      () => show(p, sha, action).some((s) => s.startsWith(`${state}:`)),
      `${action} ${state} on ${sha.slice(0, 7)}`,
    );

  Deno.test(`[${provider.name}] a sync rolls out: sync succeeded, workload pending then succeeded, read back by the CLI`, async () => {
    await using dir = await tempDir();
    await using p = await provider.start();
    const [rolling, ready] = [
      await services("rpc-list-services-reply-rolling.json"),
      await services("rpc-list-services-reply-ready.json"),
    ];
    await using daemon = await startDaemonProcess(
      [...p.args, ...daemonArgs(dir.path)],
      p.tokenEnv("test-token"),
    );
    await using fluxd = new FakeFluxd({
      connect: daemon.connect,
      services: () => show(p, HEAD, "workload").length > 0 ? ready : rolling,
    });
    fluxd.start();
    assert.ok((await fluxd.postEvent(await fixture("event-sync.json"))).delivered);
    await landed(p, HEAD, "workload", "succeeded");
    await landed(p, OLDER, "workload", "succeeded");
    await landed(p, HEAD, "sync", "succeeded");
    assert.deepEqual(show(p, HEAD, "sync"), ["succeeded: Synced 2f0ab35 (2 commits)"]);
    assert.deepEqual(show(p, HEAD, "workload"), [
      "pending: Rolling out 2 workloads",
      "succeeded: Rolled out 2 workloads",
    ]);
    assert.deepEqual(p.violations, []);

    const read = await runCli(
      ["status", ...p.args, "--instance", "dev", "--commit-id", HEAD],
      p.tokenEnv("test-token"),
    );
    assert.equal(read.code, 0, read.stderr);
    const json = JSON.parse(read.stdout);
    assert.deepEqual([json.name, json.state, json.description], [
      "flux-status/dev/workload",
      "succeeded",
      "Rolled out 2 workloads",
    ]);
    const sync = await runCli([
      "status",
      ...p.args,
      "--instance",
      "dev",
      "--commit-id",
      OLDER,
      "--action",
      "sync",
    ], p.tokenEnv("test-token"));
    assert.equal(JSON.parse(sync.stdout).state, "succeeded");
  });

  Deno.test(`[${provider.name}] a failed sync and a failed rollout are reported as failed`, async () => {
    await using dir = await tempDir();
    await using p = await provider.start();
    const error = await services("rpc-list-services-reply-error.json");
    await using daemon = await startDaemonProcess(
      [...p.args, ...daemonArgs(dir.path)],
      p.tokenEnv("test-token"),
    );
    await using fluxd = new FakeFluxd({ connect: daemon.connect, services: () => error });
    fluxd.start();
    await fluxd.waitFor(() => fluxd.connected, "connection");
    assert.ok((await fluxd.postEvent(await fixture("event-sync-errors.json"))).delivered);
    await landed(p, FAILED, "workload", "failed");
    await landed(p, FAILED, "sync", "failed");
    assert.match(
      show(p, FAILED, "sync")[0]!,
      /^failed: Sync failed: 2 resources \(default:deployment\/podinfo, <cluster>:namespace\/payments\)/,
    );
    assert.deepEqual(show(p, FAILED, "workload"), ["failed: Sync failed: not rolled out"]);

    const event = {
      ...await fixture("event-sync.json"),
      serviceIDs: ["default:deployment/podinfo"],
    };
    assert.ok((await fluxd.postEvent(event)).delivered);
    await landed(p, HEAD, "workload", "failed");
    assert.match(
      show(p, HEAD, "workload").at(-1)!,
      /^failed: Rollout failed: default:deployment\/podinfo: ReplicaSet "podinfo-5d8f9c6b7" has timed out/,
    );
    // The older commit's watch was superseded when the newer sync came.
    assert.deepEqual(p.violations, []);
  });

  Deno.test(`[${provider.name}] a rollout that does not finish times out with what it waited for`, async () => {
    await using dir = await tempDir();
    await using p = await provider.start();
    const rolling = await services("rpc-list-services-reply-rolling.json");
    await using daemon = await startDaemonProcess([
      ...p.args,
      ...daemonArgs(dir.path, ["--poll-timeout", "300ms"]),
    ], p.tokenEnv("test-token"));
    await using fluxd = new FakeFluxd({ connect: daemon.connect, services: () => rolling });
    fluxd.start();
    await fluxd.waitFor(() => fluxd.connected, "connection");
    assert.ok((await fluxd.postEvent(await fixture("event-sync.json"))).delivered);
    await landed(p, HEAD, "workload", "failed");
    assert.equal(
      show(p, HEAD, "workload").at(-1),
      "failed: Rollout timed out after 300ms: default:deployment/podinfo 3/3 ready, 2 outdated, default:statefulset/redis 1/1 ready",
    );
  });

  Deno.test(`[${provider.name}] statuses survive a provider outage and a kill -9, and arrive after restart`, async () => {
    await using dir = await tempDir();
    await using p = await provider.start();
    for (let i = 0; i < 1000; i++) {
      p.faults.push({ status: 503, body: { message: "Service Unavailable" } });
    }
    {
      await using daemon = await startDaemonProcess([
        ...p.args,
        ...daemonArgs(dir.path, ["--poll-workloads=false"]),
      ], p.tokenEnv("test-token"));
      await using fluxd = new FakeFluxd({ connect: daemon.connect });
      assert.ok((await fluxd.postEvent(await fixture("event-sync.json"))).delivered);
      await p.waitFor(
        () => p.received.filter((r) => r.status === 503).length >= 2,
        "failed deliveries",
      );
      await daemon.kill();
    }
    p.faults.length = 0;
    await using daemon = await startDaemonProcess([
      ...p.args,
      ...daemonArgs(dir.path, ["--poll-workloads=false"]),
    ], p.tokenEnv("test-token"));
    await landed(p, HEAD, "sync", "succeeded");
    await landed(p, OLDER, "sync", "succeeded");
    assert.deepEqual(show(p, HEAD, "sync"), ["succeeded: Synced 2f0ab35 (2 commits)"]);
    assert.equal(await daemon.terminate(), 0);
  });

  Deno.test(`[${provider.name}] no token appears in anything the daemon or CLI prints`, async () => {
    await using dir = await tempDir();
    await using p = await provider.start([SENTINEL]);
    await using daemon = await startDaemonProcess([
      ...p.args,
      ...daemonArgs(dir.path, ["--log-level", "debug", "--poll-workloads=false"]),
    ], { ...p.tokenEnv(SENTINEL), FLUX_STATUS_CONNECT_TOKEN: CONNECT });
    await using fluxd = new FakeFluxd({ connect: daemon.connect, token: CONNECT });
    fluxd.start();
    const intruder = new FakeFluxd({ connect: daemon.connect, token: `${CONNECT}-wrong` });
    assert.equal((await intruder.postEvent(await fixture("event-sync.json"))).status, 401);
    assert.ok((await fluxd.postEvent(await fixture("event-sync.json"))).delivered);
    await landed(p, HEAD, "sync", "succeeded");
    p.faults.push({ status: 500, body: { message: "boom" } });
    assert.ok((await fluxd.postEvent(await fixture("event-sync-errors.json"))).delivered);
    await daemon.waitForLine(/Will retry .*500/);
    p.tokens.clear();
    await daemon.waitForLine(/Pausing every call to .*401/);
    assert.equal(await daemon.terminate(), 0);
    const cli = [
      await runCli(
        ["status", ...p.args, "--commit-id", HEAD, "--log-level", "debug"],
        p.tokenEnv(SENTINEL),
      ),
      await runCli([
        "status",
        ...p.args,
        "--commit-id",
        HEAD,
        "--log-level",
        "debug",
        "--instance",
        "x",
      ], p.tokenEnv(`${SENTINEL}-x`)),
    ];
    assert.equal(cli[0]!.code, 4);
    for (const text of [daemon.output(), ...cli.map((c) => c.stdout + c.stderr)]) {
      for (const secret of [SENTINEL, CONNECT]) {
        assert.ok(!text.includes(secret), `printed a token:\n${text}`);
      }
    }
  });
}
