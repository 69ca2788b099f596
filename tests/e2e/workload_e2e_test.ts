import assert from "node:assert/strict";
import { type ControllerStatus, FakeFluxd } from "../../dev/fakes/fluxd.ts";
import { startFakeFluxdApi } from "../../dev/fakes/fluxd_api.ts";
import { type FakeGitHub, startFakeGitHub } from "../../dev/fakes/github.ts";
import { startDaemonProcess } from "../_cli.ts";
import { fixture, tempDir } from "../_helpers.ts";

const HEAD = "2f0ab35ccef1a06269ce618a6f1b01e7332b69b9";
const OLDER = "1d9fd104169fb875fa75a6b09b3a1ebc9aec6dd4";
const NEWER = "3f2a9c1e5b7d4a6f8e0c2b4d6f8a0c2e4b6d8f0a";

async function services(name: string): Promise<ControllerStatus[]> {
  return ((await fixture(name)).result as { Result: ControllerStatus[] | null }).Result ?? [];
}

function args(gh: FakeGitHub, dir: string, extra: string[] = []) {
  return [
    "--instance",
    "dev",
    "--git-url",
    "https://github.com/acme/app",
    "--api-url",
    gh.url,
    "--github-token",
    "test-token",
    "--store",
    `${dir}/kv.sqlite`,
    "--poll-interval",
    "20ms",
    "--flux-url",
    "http://127.0.0.1:9",
    ...extra,
  ];
}

const workload = (gh: FakeGitHub, sha: string) =>
  gh.statusesOf(sha).filter((s) => s.context === "flux-status/dev/workload").reverse()
    .map((s) => `${s.state}: ${s.description}`);

function delivered(gh: FakeGitHub, sha: string, state: string) {
  return gh.waitFor(
    () => workload(gh, sha).some((s) => s.startsWith(`${state}:`)),
    `${state} on ${sha.slice(0, 7)}`,
  );
}

Deno.test("a newer sync cancels the older commit's watch: superseded, never left pending", async () => {
  await using dir = await tempDir();
  await using gh = await startFakeGitHub();
  const rolling = await services("rpc-list-services-reply-rolling.json");
  await using daemon = await startDaemonProcess(args(gh, dir.path));
  await using fluxd = new FakeFluxd({ connect: daemon.connect, services: () => rolling });
  fluxd.start();
  const first = await fixture("event-sync.json");
  assert.ok((await fluxd.postEvent(first)).delivered);
  await delivered(gh, HEAD, "pending");
  const second = { ...first, metadata: { commits: [{ revision: NEWER, message: "next" }] } };
  assert.ok((await fluxd.postEvent(second)).delivered);
  await delivered(gh, HEAD, "error");
  await delivered(gh, OLDER, "error");
  assert.equal(workload(gh, HEAD).at(-1), "error: Canceled: Superseded by 3f2a9c1");
  await delivered(gh, NEWER, "pending");
});

Deno.test("a failed sync sets workload to failed, and a re-sent sync changes nothing", async () => {
  await using dir = await tempDir();
  await using gh = await startFakeGitHub();
  await using daemon = await startDaemonProcess(args(gh, dir.path));
  await using fluxd = new FakeFluxd({ connect: daemon.connect });
  const event = await fixture("event-sync-errors.json");
  assert.ok((await fluxd.postEvent(event)).delivered);
  const sha = "a754de1d22760f279bebcc2697928d14d90cbc38";
  await delivered(gh, sha, "failure");
  assert.ok((await fluxd.postEvent(event)).delivered);
  assert.ok(
    (await fluxd.postEvent({
      ...event,
      metadata: { commits: [{ revision: NEWER }] },
      serviceIDs: [],
    })).delivered,
  );
  await delivered(gh, NEWER, "success");
  assert.deepEqual(workload(gh, sha), ["failure: Sync failed: not rolled out"]);
  assert.deepEqual(workload(gh, NEWER), ["success: No workloads to roll out"]);
});

Deno.test("--poll-workloads=false never sets a workload status", async () => {
  await using dir = await tempDir();
  await using gh = await startFakeGitHub();
  await using daemon = await startDaemonProcess(args(gh, dir.path, ["--poll-workloads=false"]));
  await using fluxd = new FakeFluxd({ connect: daemon.connect });
  assert.ok((await fluxd.postEvent(await fixture("event-sync.json"))).delivered);
  await gh.waitFor(
    () => gh.statusesOf(HEAD).length > 0 && gh.statusesOf(OLDER).length > 0,
    "sync statuses",
  );
  assert.ok((await fluxd.postEvent(await fixture("event-sync-errors.json"))).delivered);
  await gh.waitFor(
    () => gh.statusesOf("a754de1d22760f279bebcc2697928d14d90cbc38").length > 0,
    "sync status",
  );
  assert.deepEqual(
    gh.received.filter((r) => r.method === "POST").map((r) =>
      (r.body as { context: string }).context
    ),
    Array(3).fill("flux-status/dev/sync"),
  );
});

Deno.test("without a WebSocket the watcher asks fluxd's HTTP API", async () => {
  await using dir = await tempDir();
  await using gh = await startFakeGitHub();
  const ready = await services("rpc-list-services-reply-ready.json");
  await using api = startFakeFluxdApi(() => ready);
  await using daemon = await startDaemonProcess(args(gh, dir.path, ["--flux-url", api.url]));
  const fluxd = new FakeFluxd({ connect: daemon.connect }); // posts only, never dials
  assert.ok((await fluxd.postEvent(await fixture("event-sync.json"))).delivered);
  await delivered(gh, HEAD, "success");
  assert.equal(
    api.requests[0],
    "/api/flux/v11/services?services=default%3Adeployment%2Fpodinfo%2Cdefault%3Astatefulset%2Fredis",
  );
});

Deno.test("when fluxd answers neither way for the whole timeout, the verdict says so", async () => {
  await using dir = await tempDir();
  await using gh = await startFakeGitHub();
  await using daemon = await startDaemonProcess(args(gh, dir.path, ["--poll-timeout", "200ms"]));
  const fluxd = new FakeFluxd({ connect: daemon.connect });
  assert.ok((await fluxd.postEvent(await fixture("event-sync.json"))).delivered);
  await delivered(gh, HEAD, "failure");
  assert.match(
    workload(gh, HEAD).at(-1)!,
    /^failure: Rollout timed out after 200ms: fluxd was unreachable/,
  );
});

Deno.test("a daemon killed mid-rollout resumes the watch after restart and reaches a verdict", async () => {
  await using dir = await tempDir();
  await using gh = await startFakeGitHub();
  const [rolling, ready] = [
    await services("rpc-list-services-reply-rolling.json"),
    await services("rpc-list-services-reply-ready.json"),
  ];
  let rolledOut = false;
  {
    await using daemon = await startDaemonProcess(args(gh, dir.path));
    await using fluxd = new FakeFluxd({ connect: daemon.connect, services: () => rolling });
    fluxd.start();
    assert.ok((await fluxd.postEvent(await fixture("event-sync.json"))).delivered);
    await delivered(gh, HEAD, "pending");
    await fluxd.waitFor(
      () => fluxd.requests.filter((r) => r.method === "RPCServer.ListServices").length >= 2,
      "polling",
    );
    await daemon.kill();
  }
  rolledOut = true;
  await using daemon = await startDaemonProcess(args(gh, dir.path));
  await using fluxd = new FakeFluxd({
    connect: daemon.connect,
    services: () => rolledOut ? ready : rolling,
  });
  fluxd.start();
  await delivered(gh, HEAD, "success");
  // Delivery is at least once: a kill -9 between GitHub's answer and the KV commit re-sends
  // the same status after restart, so repeats are folded before comparing.
  assert.deepEqual(workload(gh, HEAD).filter((s, k, all) => s !== all[k - 1]), [
    "pending: Rolling out 2 workloads",
    "success: Rolled out 2 workloads",
  ]);
});
