import assert from "node:assert/strict";
import { exitCodeFor, waitForStatuses } from "../../src/cli/gate.ts";
import { ProviderError } from "../../src/notifiers/notifier.ts";
import { type FakeGitHub, type GitHubStatus, startFakeGitHub } from "../../dev/fakes/github.ts";
import { ManualClock } from "../../dev/fakes/clock.ts";
import { runCli } from "../_cli.ts";
import { startSilentServer } from "../../dev/fakes/silent_server.ts";

const SHA = "2f0ab35ccef1a06269ce618a6f1b01e7332b69b9";
const args = (gh: { url: string }, extra: string[] = []) => [
  "status",
  "--instance",
  "dev",
  "--git-url",
  "https://github.com/acme/app",
  "--api-url",
  gh.url,
  "--commit-id",
  SHA,
  "--wait",
  "--wait-interval",
  "20ms",
  ...extra,
];
const env = { GITHUB_TOKEN: "test-token" };

function add(gh: FakeGitHub, context: string, state: string, description: string) {
  const now = new Date().toISOString();
  const list = gh.statuses.get(`acme/app@${SHA}`) ?? [];
  const s: GitHubStatus = {
    id: list.length + 1,
    state,
    description,
    target_url: null,
    context,
    created_at: now,
    updated_at: now,
  };
  gh.statuses.set(`acme/app@${SHA}`, [s, ...list]);
}

const gets = (gh: FakeGitHub) => gh.received.filter((r) => r.method === "GET").length;

Deno.test("exitCodeFor() ranks failed over canceled over pending", () => {
  assert.equal(exitCodeFor(["succeeded"]), 0);
  assert.equal(exitCodeFor(["succeeded", "failed", "canceled"]), 1);
  assert.equal(exitCodeFor(["canceled", "pending"]), 3);
  assert.equal(exitCodeFor(["succeeded", undefined]), 124);
  assert.equal(exitCodeFor(["pending"]), 124);
});

Deno.test("status --wait follows pending to succeeded, one stderr line per change, exit 0", async () => {
  await using gh = await startFakeGitHub();
  const cli = runCli(args(gh), env);
  await gh.waitFor(() => gets(gh) >= 1, "first read");
  add(gh, "flux-status/dev/workload", "pending", "Rolling out 2 workloads");
  await gh.waitFor(() => gets(gh) >= 3, "reads after pending");
  add(gh, "flux-status/dev/workload", "success", "Rolled out 2 workloads");
  const out = await cli;
  assert.equal(out.code, 0, out.stderr);
  assert.deepEqual(JSON.parse(out.stdout).state, "succeeded");
  const lines = out.stderr.trim().split("\n").map((l) => l.replace(/^\S+ /, ""));
  assert.deepEqual(lines, [
    "flux-status/dev/workload: absent",
    "flux-status/dev/workload: pending (Rolling out 2 workloads)",
    "flux-status/dev/workload: succeeded (Rolled out 2 workloads)",
  ]);
});

Deno.test("status --wait exits 1 on failed, 3 on canceled", async (t) => {
  for (
    const [state, description, code] of [
      ["failure", "Rollout failed", 1],
      ["error", "Canceled: Superseded by 3f2a9c1", 3],
      ["error", "canceled: superseded by 3f2a9c1", 3],
      ["error", "Deployment error", 1],
    ] as const
  ) {
    await t.step(`${state} ${description}`, async () => {
      await using gh = await startFakeGitHub();
      add(gh, "flux-status/dev/workload", state, description);
      const out = await runCli(args(gh), env);
      assert.equal(out.code, code, out.stderr);
    });
  }
});

Deno.test("status --wait exits 124 when the timeout passes while pending or absent", async () => {
  await using gh = await startFakeGitHub();
  add(gh, "flux-status/dev/sync", "success", "Synced");
  const out = await runCli(args(gh, ["--action", "all", "--timeout", "200ms"]), env);
  assert.equal(out.code, 124, out.stderr);
  assert.match(
    out.stderr,
    /error: timed out after 200ms waiting for flux-status\/dev\/sync, flux-status\/dev\/workload/,
  );
  const lines = out.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => [l.name, l.state]), [["flux-status/dev/sync", "succeeded"], [
    "flux-status/dev/workload",
    "absent",
  ]]);
});

Deno.test("status --wait waits out secondary and primary rate limits and exits 4 on a bad token", async () => {
  await using gh = await startFakeGitHub();
  add(gh, "flux-status/dev/workload", "success", "Rolled out");
  gh.faults.push({
    status: 429,
    headers: { "retry-after": "0" },
    body: { message: "You have exceeded a secondary rate limit" },
  });
  // GitHub's primary limit: 403 with x-ratelimit-remaining 0 (a reset just passed: a 1 s wait).
  gh.faults.push({
    status: 403,
    headers: {
      "x-ratelimit-remaining": "0",
      "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) - 10),
    },
    body: { message: "API rate limit exceeded for user ID 1." },
  });
  const ok = await runCli(args(gh, ["--output", "text"]), env);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout.trim(), "flux-status/dev/workload: succeeded - Rolled out");
  const bad = await runCli(args(gh), { GITHUB_TOKEN: "nope" });
  assert.equal(bad.code, 4);
  assert.match(bad.stderr, /^error: Cannot read statuses of 2f0ab35 as GitHub answered 401/m);
});

Deno.test("waitForStatuses() backs off by half each read", async () => {
  const clock = new ManualClock();
  const waits: number[] = [];
  let reads = 0;
  const done = waitForStatuses({
    read: () => {
      reads++;
      return Promise.resolve(
        reads >= 4 ? { name: "n", state: "succeeded", description: "" } : undefined,
      );
    },
    names: ["n"],
    timeoutMs: 60_000,
    intervalMs: 1000,
    clock,
    onWait: (ms) => {
      waits.push(ms);
      clock.whenSleeping().then(() => clock.advance(ms));
    },
  });
  const result = await done;
  assert.equal(result.timedOut, false);
  assert.deepEqual(waits, [1000, 1500, 2250]);
});

Deno.test("waitForStatuses() waits at least the provider's Retry-After on a transient error", async () => {
  const clock = new ManualClock();
  const waits: number[] = [];
  let reads = 0;
  await waitForStatuses({
    read: () => {
      reads++;
      if (reads === 1) {
        return Promise.reject(
          new ProviderError("rate limited", {
            provider: "x",
            status: 429,
            kind: "rateLimited",
            retryAfterMs: 30_000,
          }),
        );
      }
      return Promise.resolve({ name: "n", state: "failed", description: "" });
    },
    names: ["n"],
    timeoutMs: 600_000,
    intervalMs: 1000,
    clock,
    onWait: (ms) => {
      waits.push(ms);
      clock.whenSleeping().then(() => clock.advance(ms));
    },
  });
  assert.deepEqual(waits, [30_000]);
});

Deno.test("waitForStatuses() never waits past the timeout and reports it", async () => {
  const clock = new ManualClock();
  const waits: number[] = [];
  const result = await waitForStatuses({
    read: () => Promise.resolve({ name: "n", state: "pending", description: "" }),
    names: ["n"],
    timeoutMs: 2000,
    intervalMs: 1000,
    clock,
    onWait: (ms) => {
      waits.push(ms);
      clock.whenSleeping().then(() => clock.advance(ms));
    },
  });
  assert.equal(result.timedOut, true);
  assert.deepEqual(waits, [1000, 1000]);
  assert.equal(result.statuses.get("n")?.state, "pending");
});

Deno.test("status reads one Flux v2 object with --object, and --action all lists every status of the instance", async () => {
  await using gh = await startFakeGitHub();
  add(gh, "flux-status/dev/kustomization/flux-system/apps/sync", "success", "Applied");
  add(gh, "flux-status/dev/kustomization/flux-system/apps/workload", "pending", "Waiting");
  add(gh, "flux-status/dev/helmrelease/apps/web/workload", "failure", "UpgradeFailed: boom");
  add(gh, "flux-status/prod/helmrelease/apps/web/workload", "success", "other instance");
  const base = ["status", "--instance", "dev", "--git-url", "https://github.com/acme/app"];
  const common = [...base, "--api-url", gh.url, "--commit-id", SHA];
  const one = await runCli(
    [...common, "--object", "Kustomization/flux-system/apps", "--action", "sync"],
    env,
  );
  assert.equal(one.code, 0, one.stderr);
  assert.deepEqual(
    JSON.parse(one.stdout).name,
    "flux-status/dev/kustomization/flux-system/apps/sync",
  );
  const all = await runCli([...common, "--action", "all"], env);
  assert.equal(all.code, 0, all.stderr);
  assert.deepEqual(
    all.stdout.trim().split("\n").map((l) => JSON.parse(l)).map((s) => [s.name, s.state]),
    [
      ["flux-status/dev/helmrelease/apps/web/workload", "failed"],
      ["flux-status/dev/kustomization/flux-system/apps/sync", "succeeded"],
      ["flux-status/dev/kustomization/flux-system/apps/workload", "pending"],
    ],
  );
  const gate = await runCli(
    [...common, "--object", "helmrelease/apps/web", "--wait", "--wait-interval", "20ms"],
    env,
  );
  assert.equal(gate.code, 1, gate.stderr);
  const bad = await runCli([...common, "--object", "apps"], env);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^error: --object expected kind\/namespace\/name/);
});

Deno.test("waitForStatuses() calls off a read still in flight when the deadline passes", async () => {
  const clock = new ManualClock();
  let signal: AbortSignal | undefined;
  const waiting = waitForStatuses({
    read: (_name, s) => {
      signal = s;
      // A provider that took the connection and never answers: only the signal ends the read.
      return new Promise((_, reject) => s?.addEventListener("abort", () => reject(s.reason)));
    },
    names: ["n"],
    timeoutMs: 2000,
    intervalMs: 1000,
    clock,
  });
  assert.ok(signal, "the read started");
  assert.equal(clock.sleeping, 1, "a deadline is armed while the read is in flight");
  clock.advance(2000);
  const result = await waiting;
  assert.equal(result.timedOut, true);
  assert.equal(signal?.aborted, true);
  assert.deepEqual(result.names, ["n"]);
});

Deno.test("status --wait --timeout ends on time against a provider that never answers", async () => {
  await using silent = startSilentServer("hang");
  const hung = { url: `${silent.url}/api/v3` };
  const out = await runCli(args(hung, ["--timeout", "1s", "--action", "all"]), env);
  assert.equal(out.code, 124, out.stderr);
  assert.match(out.stderr, /error: timed out after 1s waiting for the statuses of 2f0ab35/);
});

Deno.test("status --action all --wait waits out a 503 and a rate limit on the listing", async () => {
  await using gh = await startFakeGitHub();
  add(gh, "flux-status/dev/kustomization/flux-system/apps/sync", "success", "Applied");
  add(gh, "flux-status/dev/kustomization/flux-system/apps/workload", "success", "Healthy");
  gh.faults.push({ status: 503, body: { message: "Service Unavailable" } });
  gh.faults.push({
    status: 429,
    headers: { "retry-after": "0" },
    body: { message: "You have exceeded a secondary rate limit" },
  });
  const out = await runCli(args(gh, ["--action", "all"]), env);
  assert.equal(out.code, 0, out.stderr);
  assert.deepEqual(
    out.stdout.trim().split("\n").map((l) => JSON.parse(l)).map((s) => [s.name, s.state]),
    [
      ["flux-status/dev/kustomization/flux-system/apps/sync", "succeeded"],
      ["flux-status/dev/kustomization/flux-system/apps/workload", "succeeded"],
    ],
  );
});
