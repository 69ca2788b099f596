import assert from "node:assert/strict";
import { Watcher } from "../../src/intake/watcher.ts";
import { ManualClock } from "../../dev/fakes/clock.ts";
import { startFakeGitLab } from "../../dev/fakes/gitlab.ts";
import { gitLabNotifier, runOutbox, shaOf } from "../_outbox.ts";
import { tempDir } from "../_helpers.ts";
import { outboxKeys, watchKeys } from "../../src/runtime/store_keys.ts";

Deno.test("a store written by flux-status 0.1.0 delivers its statuses, newest first, each after its backoff", async () => {
  await using dir = await tempDir();
  await using gl = await startFakeGitLab();
  const clock = new ManualClock();
  using kv = await Deno.openKv(`${dir.path}/kv.sqlite`);
  // What 0.1.0 stored: one entry per (commit, action) with its own backoff, no rank.
  for (let i = 1; i <= 3; i++) {
    await kv.set(outboxKeys.entry(shaOf(i), "sync"), {
      sha: shaOf(i),
      action: "sync",
      status: { name: "flux-status/dev/sync", state: "succeeded", description: `old ${i}` },
      attempts: 2,
      notBefore: i === 3 ? clock.now() + 5_000 : clock.now(),
      enqueuedAt: clock.now() - i,
    });
  }
  // And what an earlier build of this version kept beside them: index rows, now unused.
  await kv.set([...outboxKeys.legacyReady, 1, 5, 0, shaOf(9), "sync"], null);
  await kv.set([...outboxKeys.legacyWait, 7, shaOf(9), "sync"], null);
  await using run = runOutbox(kv, clock, gitLabNotifier(gl));
  await run.stop();
  assert.equal(await run.outbox.migrate(), 2);
  assert.equal(await run.outbox.migrate(), 0, "once per store");
  // One at a time, so the arrival order at the fake is the delivery order.
  await using again = runOutbox(kv, clock, gitLabNotifier(gl), { concurrency: 1 });
  await again.settledCount(2);
  clock.advance(5_000);
  await again.settledCount(3);
  assert.deepEqual(again.settled.map((s) => s.outcome), ["delivered", "delivered", "delivered"]);
  const posted = gl.received.filter((r) => r.method === "POST").map((r) =>
    r.path.split("/").at(-1)
  );
  assert.deepEqual(posted, [shaOf(1), shaOf(2), shaOf(3)]);
  assert.deepEqual(await again.pending(), []);
  assert.deepEqual(await Array.fromAsync(kv.list({ prefix: outboxKeys.legacyReady })), []);
});

Deno.test("a watch written by flux-status 0.1.0 is split into chunks and still judged", async () => {
  await using dir = await tempDir();
  const clock = new ManualClock();
  using kv = await Deno.openKv(`${dir.path}/kv.sqlite`);
  const head = shaOf(7);
  await kv.set(watchKeys.watch(head), {
    head,
    commits: [head],
    workloads: ["default:deployment/api", "default:deployment/web"],
    seen: ["default:deployment/api"],
    startedAt: clock.now(),
    reachedFluxd: true,
    waiting: ["default:deployment/web not listed yet"],
  });
  await using gl = await startFakeGitLab();
  await using run = runOutbox(kv, clock, gitLabNotifier(gl));
  const verdicts: string[] = [];
  const judged = Promise.withResolvers<void>();
  const watcher = new Watcher({
    kv,
    outbox: run.outbox,
    clock,
    // api was seen before and is gone now: the converted watch must remember it was seen.
    list: () => Promise.resolve([{ ID: "default:deployment/web", Status: "ready" }]),
    pollIntervalMs: 5_000,
    pollTimeoutMs: 360_000,
    helmGraceMs: 30_000, // --helm-grace's default
    onVerdict: (_h, state, description) => {
      verdicts.push(`${state}: ${description}`);
      judged.resolve();
    },
  });
  assert.equal(await watcher.migrate(), 1);
  assert.equal((await kv.get<{ total: number }>(watchKeys.watch(head))).value?.total, 2);
  const controller = new AbortController();
  const running = watcher.run(controller.signal);
  await judged.promise;
  assert.deepEqual(verdicts, ["failed: Rollout failed: default:deployment/api disappeared"]);
  controller.abort();
  await running;
});
