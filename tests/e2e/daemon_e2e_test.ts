import assert from "node:assert/strict";
import { FakeFluxd } from "../../dev/fakes/fluxd.ts";
import { startFakeGitHub } from "../../dev/fakes/github.ts";
import { startFakeGitea } from "../../dev/fakes/gitea.ts";
import { startDaemonProcess } from "../_cli.ts";
import { fixture, tempDir } from "../_helpers.ts";

const TOKEN = "test-token";

function daemonArgs(apiUrl: string, store: string, extra: string[] = []): string[] {
  return [
    "--instance",
    "dev",
    "--git-url",
    "git@github.com:acme/app.git",
    "--api-url",
    apiUrl,
    "--github-token",
    TOKEN,
    "--store",
    `${store}/kv.sqlite`,
    "--poll-workloads=false",
    ...extra,
  ];
}

Deno.test("daemon treats an error-level sync event as a failure, never a success", async () => {
  await using dir = await tempDir();
  await using gh = await startFakeGitHub();
  await using daemon = await startDaemonProcess(daemonArgs(gh.url, dir.path));
  await using fluxd = new FakeFluxd({ connect: daemon.connect });
  const event = {
    ...await fixture("event-sync.json"),
    logLevel: "error",
    message: "git clone failed: timeout",
  };
  assert.ok((await fluxd.postEvent(event)).delivered);
  const sha = "2f0ab35ccef1a06269ce618a6f1b01e7332b69b9";
  await gh.waitFor(() => gh.statusesOf(sha).length > 0, "status");
  assert.equal(gh.statusesOf(sha)[0]?.state, "failure");
  assert.equal(gh.statusesOf(sha)[0]?.description, "Sync failed: git clone failed: timeout");
});

Deno.test("daemon accepts release, autorelease and commit events with 2xx and sets nothing", async () => {
  await using dir = await tempDir();
  await using gh = await startFakeGitHub();
  await using daemon = await startDaemonProcess(daemonArgs(gh.url, dir.path));
  await using fluxd = new FakeFluxd({ connect: daemon.connect });
  for (const name of ["event-release.json", "event-autorelease.json", "event-commit.json"]) {
    const result = await fluxd.postEvent(await fixture(name));
    assert.ok(result.delivered, `${name}: ${result.status} ${result.body}`);
  }
  // A sync after them is still delivered, and is the only thing GitHub saw.
  assert.ok((await fluxd.postEvent(await fixture("event-sync-errors.json"))).delivered);
  const posts = () => gh.received.filter((r) => r.method === "POST");
  await gh.waitFor(() => posts().length > 0, "a request");
  assert.deepEqual(posts().map((r) => r.path), [
    "/api/v3/repos/acme/app/statuses/a754de1d22760f279bebcc2697928d14d90cbc38",
  ]);
});

Deno.test("daemon answers bad events with a 4xx naming the problem and still takes the next one", async () => {
  await using dir = await tempDir();
  await using gh = await startFakeGitHub();
  await using daemon = await startDaemonProcess(
    daemonArgs(gh.url, dir.path, ["--max-event-bytes", "10000"]),
  );
  await using fluxd = new FakeFluxd({ connect: daemon.connect });
  const sync = await fixture("event-sync.json");
  const cases: [string, unknown, number, RegExp][] = [
    ["malformed JSON", '{"type": "sync",', 400, /Cannot decode event as JSON/],
    ["wrong type", { ...sync, type: 7 }, 400, /"path":"type"/],
    ["missing type", { ...sync, type: undefined }, 400, /"path":"type"/],
    [
      "bad revision",
      { ...sync, metadata: { commits: [{ revision: "nope" }] } },
      400,
      /metadata\.commits\.0\.revision/,
    ],
    ["no commits", { ...sync, metadata: { commits: [] } }, 400, /metadata\.commits/],
    ["too large", { ...sync, message: "x".repeat(20_000) }, 413, /over 10000 bytes/],
  ];
  for (const [name, body, status, pattern] of cases) {
    const result = await fluxd.postEvent(body);
    assert.equal(result.status, status, name);
    assert.match(result.body, pattern, name);
    JSON.parse(result.body);
  }
  assert.ok((await fluxd.postEvent(sync)).delivered);
  await gh.waitFor(() => gh.received.length >= 2, "statuses after bad input");
});

Deno.test("daemon requires fluxd's token on the socket and on events when --connect-token is set", async () => {
  await using dir = await tempDir();
  await using gh = await startFakeGitHub();
  await using daemon = await startDaemonProcess(
    daemonArgs(gh.url, dir.path, ["--connect-token", "s3cret-connect"]),
  );
  await using wrong = new FakeFluxd({ connect: daemon.connect, token: "wrong", redialMs: 60_000 });
  wrong.start();
  await wrong.waitFor(() => wrong.dials.length > 0, "a dial");
  assert.deepEqual(wrong.dials, [401]);
  assert.equal((await wrong.postEvent(await fixture("event-sync.json"))).status, 401);
  await using none = new FakeFluxd({ connect: daemon.connect, redialMs: 60_000 });
  assert.equal((await none.postEvent(await fixture("event-sync.json"))).status, 401);

  await using right = new FakeFluxd({ connect: daemon.connect, token: "s3cret-connect" });
  right.start();
  await right.waitFor(() => right.requests.some((r) => r.method === "RPCServer.Ping"), "Ping");
  assert.deepEqual(right.dials, [101]);
  // Ready once the start-up self-check's read of the provider (a GET) has been answered.
  await gh.waitFor(() => gh.received.some((r) => r.method === "GET" && r.status === 200), "check");
  let ready = { status: 0, body: "" };
  for (let i = 0; i < 200 && ready.status !== 200; i++) {
    const res = await fetch(`${daemon.url}/readyz`);
    ready = { status: res.status, body: await res.text() };
  }
  assert.equal(ready.status, 200, ready.body);
  assert.ok((await right.postEvent(await fixture("event-sync.json"))).delivered);
});

Deno.test("daemon upgrades every /vN/daemon path fluxd versions dial and never answers 410", async () => {
  await using dir = await tempDir();
  await using gh = await startFakeGitHub();
  await using daemon = await startDaemonProcess(daemonArgs(gh.url, dir.path));
  for (const version of [6, 7, 8, 9, 10, 11]) {
    await using fluxd = new FakeFluxd({
      connect: daemon.connect,
      daemonPath: `/v${version}/daemon`,
    });
    fluxd.start();
    await fluxd.waitFor(() => fluxd.requests.length > 0, `Ping on v${version}`);
    assert.deepEqual(fluxd.dials, [101]);
    assert.equal(fluxd.requests[0]?.method, "RPCServer.Ping");
    assert.deepEqual(fluxd.requests[0]?.params, [{}]);
  }
});

Deno.test("daemon whose --api-url reaches no repository pauses calls from its start-up check, durably", async () => {
  await using dir = await tempDir();
  await using gt = await startFakeGitea({ repos: ["acme/app"] });
  const args = (apiUrl: string) => [
    "--instance",
    "dev",
    "--git-url",
    "https://git.example.org/acme/app.git",
    "--provider",
    "gitea",
    "--api-url",
    apiUrl,
    "--gitea-token",
    TOKEN,
    "--store",
    `${dir.path}/kv.sqlite`,
    "--poll-workloads=false",
  ];
  {
    await using daemon = await startDaemonProcess(args(`${gt.url}/gitea/api/v1`));
    const line = await daemon.waitForLine(/Pausing every call to \\"gitea\\"/);
    assert.match(line, /answered 404.*the repository itself cannot be read/);
    await using fluxd = new FakeFluxd({ connect: daemon.connect });
    assert.ok((await fluxd.postEvent(await fixture("event-sync.json"))).delivered);
    await daemon.kill();
  }
  assert.equal(gt.received.filter((r) => r.method === "POST").length, 0, "nothing sent");
  // Fixed: the stored statuses arrive.
  await using daemon = await startDaemonProcess(args(gt.url));
  const sha = "2f0ab35ccef1a06269ce618a6f1b01e7332b69b9";
  await gt.waitFor(() => gt.commitStatuses(sha).length > 0, "the stored status");
  await daemon.terminate();
});
