import assert from "node:assert/strict";
import { FakeFluxd } from "./fakes/fluxd.ts";
import { startFakeGitHub } from "./fakes/github.ts";
import { fixture, runCli, startDaemonProcess, tempDir } from "./_cli.ts";

const SENTINEL = "ghp_SENTINEL_d0_not_leak_7f3a9";
const CONNECT = "connect_SENTINEL_91bc";
const SHA = "2f0ab35ccef1a06269ce618a6f1b01e7332b69b9";

function assertNoLeak(text: string, where: string) {
  for (const secret of [SENTINEL, CONNECT]) {
    assert.ok(!text.includes(secret), `${where} printed a token:\n${text}`);
  }
}

Deno.test("no token appears in anything the daemon prints, on success and failure paths", async () => {
  await using dir = await tempDir();
  await using gh = await startFakeGitHub({ tokens: [SENTINEL] });
  await using daemon = await startDaemonProcess([
    "--git-url",
    `https://x-access-token:${SENTINEL}@github.com/acme/app.git`,
    "--api-url",
    gh.url,
    "--store",
    `${dir.path}/kv.sqlite`,
    "--log-level",
    "debug",
    "--poll-workloads=false",
  ], { GITHUB_TOKEN: SENTINEL, FLUX_STATUS_CONNECT_TOKEN: CONNECT });
  await using fluxd = new FakeFluxd({ connect: daemon.connect, token: CONNECT });
  fluxd.start();
  await fluxd.waitFor(() => fluxd.requests.length > 0, "Ping");
  // success
  assert.ok((await fluxd.postEvent(await fixture("event-sync.json"))).delivered);
  await gh.waitFor(() => gh.statusesOf(SHA).length > 0, "delivery");
  // failures: 5xx, a revoked token, a rejected event, a wrong connect token
  gh.faults.push({ status: 500 });
  assert.ok((await fluxd.postEvent(await fixture("event-sync-errors.json"))).delivered);
  await daemon.waitForLine(/Will retry .*answered 500/);
  gh.tokens.delete(SENTINEL);
  await daemon.waitForLine(/401 Bad credentials/);
  assert.equal((await fluxd.postEvent("{not json")).status, 400);
  const intruder = new FakeFluxd({ connect: daemon.connect, token: `${CONNECT}-wrong` });
  assert.equal((await intruder.postEvent(await fixture("event-sync.json"))).status, 401);
  await fluxd.stop();
  assert.equal(await daemon.terminate(), 0);
  assertNoLeak(daemon.output(), "daemon");
});

Deno.test("no token appears in anything the status command prints", async () => {
  await using gh = await startFakeGitHub({ tokens: [SENTINEL] });
  const args = [
    "status",
    "--git-url",
    "https://github.com/acme/app",
    "--api-url",
    gh.url,
    "--commit-id",
    SHA,
    "--log-level",
    "debug",
  ];
  for (
    const [env, code] of [[{ GITHUB_TOKEN: SENTINEL }, 1], [
      { GITHUB_TOKEN: `${SENTINEL}x` },
      4,
    ]] as const
  ) {
    const out = await runCli(args, env);
    assert.equal(out.code, code, out.stderr);
    assertNoLeak(out.stdout + out.stderr, "status");
  }
  const bad = await runCli([
    "status",
    "--git-url",
    `https://u:${SENTINEL}@nowhere.example/a/b`,
    "--commit-id",
    SHA,
  ]);
  assert.equal(bad.code, 2);
  assertNoLeak(bad.stdout + bad.stderr, "status");
});
