import assert from "node:assert/strict";
import { ManualClock } from "../../dev/fakes/clock.ts";
import { startFakeGitLab } from "../../dev/fakes/gitlab.ts";
import type { Notifier } from "../../src/notifiers/notifier.ts";
import { parseGitUrl } from "../../src/notifiers/git_url.ts";
import { createGitLabNotifier } from "../../src/notifiers/gitlab.ts";
import { gitLabNotifier, refusingCommits, runOutbox, shaOf, syncChange } from "../_outbox.ts";
import { tempDir } from "../_helpers.ts";

Deno.test("Outbox pauses every call on a rate limit, stays paused across a restart, then sends one probe", async () => {
  await using dir = await tempDir();
  await using gl = await startFakeGitLab();
  const clock = new ManualClock();
  using kv = await Deno.openKv(`${dir.path}/kv.sqlite`);
  const posts = () => gl.received.filter((r) => r.method === "POST").length;
  gl.faults.push({ status: 429, body: "Retry later\n", headers: { "retry-after": "30" } });
  {
    await using run = runOutbox(kv, clock, gitLabNotifier(gl), { concurrency: 1 });
    await run.enqueue(Array.from({ length: 25 }, (_, i) => syncChange(shaOf(i + 1))));
    await run.settledCount(1);
    assert.deepEqual(run.settled.map((s) => [s.outcome, s.delayMs]), [["retry", 30_000]]);
    await clock.whenSleeping(clock.now() + 30_000); // until the pause ends
    const wakes = clock.interrupted;
    await run.enqueue([syncChange(shaOf(99))]);
    assert.equal(
      clock.interrupted,
      wakes,
      "a status queued during the pause does not wake the loop",
    );
    clock.advance(29_000);
    await clock.whenSleeping();
    assert.equal(posts(), 1, "no call to the provider while it is paused");
  }
  // Restarted inside the window: the pause was stored, so nothing is sent before it ends; the
  // probe after it (the check of the first queued commit's statuses, as entries of an earlier run
  // are checked before they are sent) is refused again, and again only it was sent.
  gl.faults.push({ status: 429, body: "Retry later\n", headers: { "retry-after": "60" } });
  const calls = () => gl.received.length;
  await using run = runOutbox(kv, clock, gitLabNotifier(gl));
  await clock.whenSleeping();
  assert.equal(calls(), 1, "a restart inside the window does not resume calling");
  clock.advance(1_000);
  await run.settledCount(1);
  assert.deepEqual(run.settled.map((s) => [s.outcome, s.delayMs]), [["retry", 60_000]]);
  await clock.whenSleeping();
  assert.equal(calls(), 2, "one probe when the window ended");
  clock.advance(60_000);
  await run.settledCount(27);
  assert.equal(posts(), 27);
  assert.equal(calls() - posts(), 27, "one check per queued commit, and the refused one again");
  assert.ok(run.settled.slice(1).every((s) => s.outcome === "delivered"));
  assert.deepEqual(await run.pending(), []);
  assert.equal(run.outbox.pause.current, undefined);
});

Deno.test("Outbox pauses the provider on a refused token: one probe per authRetryMs, not one call per status", async () => {
  await using dir = await tempDir();
  await using gl = await startFakeGitLab({ tokens: [] });
  const clock = new ManualClock();
  using kv = await Deno.openKv(`${dir.path}/kv.sqlite`);
  const posts = () => gl.received.filter((r) => r.method === "POST").length;
  await using run = runOutbox(kv, clock, gitLabNotifier(gl), { concurrency: 1 });
  await run.enqueue(Array.from({ length: 5 }, (_, i) => syncChange(shaOf(i + 1))));
  await run.settledCount(1);
  assert.deepEqual(run.settled.map((s) => [s.outcome, s.delayMs]), [["retry", 60_000]]);
  assert.match(run.settled[0]!.error!, /401/);
  await clock.whenSleeping();
  assert.equal(posts(), 1);
  clock.advance(60_000);
  await run.settledCount(2);
  await clock.whenSleeping();
  assert.equal(posts(), 2, "one probe after the auth pause");
  gl.tokens.add("test-token"); // the token is fixed (or rotated)
  clock.advance(60_000);
  await run.settledCount(7);
  assert.equal(posts(), 7);
  assert.deepEqual(await run.pending(), []);
});

Deno.test("Outbox does not send a delivered status again while the store cannot record it", async () => {
  await using dir = await tempDir();
  await using gl = await startFakeGitLab();
  const clock = new ManualClock();
  using real = await Deno.openKv(`${dir.path}/kv.sqlite`);
  let broken = false, refusals = 0;
  const refused = new Set<() => void>();
  /** Resolves once the store has refused `n` commits. */
  const refusedCommits = (n: number) =>
    new Promise<void>((resolve) => {
      const check = () => refusals >= n && (refused.delete(check), resolve());
      refused.add(check);
      check();
    });
  // The store refuses every commit while `broken`: as a full disk would.
  const kv = refusingCommits(real, () => broken, "disk full", () => {
    refusals++;
    for (const check of [...refused]) check();
  });
  const gitlab = gitLabNotifier(gl);
  const tookIt = Promise.withResolvers<void>();
  const notifier: Notifier = {
    provider: gitlab.provider,
    getStatus: gitlab.getStatus,
    listStatuses: gitlab.listStatuses,
    async setStatus(sha, status, signal) {
      await gitlab.setStatus(sha, status, signal);
      broken = true; // the provider took it; recording it will fail
      tookIt.resolve();
    },
  };
  await using run = runOutbox(kv, clock, notifier);
  await run.enqueue([syncChange(shaOf(1))]);
  await tookIt.promise;
  const posts = () => gl.received.filter((r) => r.method === "POST").length;
  for (let i = 1; i <= 6; i++) {
    await refusedCommits(i);
    // The loop sleeps out the store's backoff (not a delivery's hour-long idle sleep)…
    await clock.whenSleeping(clock.now() + 60_000);
    clock.advance(60_000); // …and tries the record again
  }
  await refusedCommits(7);
  await clock.whenSleeping(clock.now() + 300_000);
  assert.equal(posts(), 1, "…but the provider is not called again");
  assert.equal(run.settled.length, 0);
  broken = false;
  clock.advance(300_000);
  await run.settledCount(1);
  assert.deepEqual(run.settled.map((s) => s.outcome), ["delivered"]);
  assert.equal(posts(), 1);
  assert.deepEqual(await run.pending(), []);
});

Deno.test("Outbox drops an entry still undelivered after maxAgeMs, with the last error", async () => {
  await using dir = await tempDir();
  await using gl = await startFakeGitLab();
  const clock = new ManualClock();
  using kv = await Deno.openKv(`${dir.path}/kv.sqlite`);
  await using run = runOutbox(kv, clock, gitLabNotifier(gl), {
    maxAgeMs: 10_000,
    retry: { baseMs: 12_000, maxMs: 12_000 },
  });
  gl.faults.push({ status: 502, body: { message: "Bad Gateway" } });
  gl.faults.push({ status: 502, body: { message: "Bad Gateway" } });
  await run.enqueue([syncChange(shaOf(1))]);
  await run.settledCount(1);
  clock.advance(run.settled[0]!.delayMs!);
  await run.settledCount(2);
  clock.advance(run.settled[1]!.delayMs!);
  await run.settledCount(3);
  assert.deepEqual(run.settled.map((s) => s.outcome), ["retry", "retry", "dropped"]);
  assert.match(run.settled[2]!.error!, /undelivered for .*502 Bad Gateway/);
  assert.deepEqual(await run.pending(), []);
});

Deno.test("Outbox pauses the provider when it does not answer at all: one probe per backoff round, not one call per status", async () => {
  await using dir = await tempDir();
  const clock = new ManualClock();
  using kv = await Deno.openKv(`${dir.path}/kv.sqlite`);
  // A port nothing listens on: every call is refused before any answer.
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = closed.addr.port;
  closed.close();
  let calls = 0;
  const refused = createGitLabNotifier({
    remote: parseGitUrl("https://gitlab.com/acme/app"),
    token: "test-token",
    apiUrl: `http://127.0.0.1:${port}/api/v4`,
  });
  const counting: Notifier = {
    ...refused,
    provider: refused.provider,
    setStatus: (...args) => (calls++, refused.setStatus(...args)),
    getStatus: refused.getStatus,
    listStatuses: refused.listStatuses,
  };
  await using run = runOutbox(kv, clock, counting, { concurrency: 1 });
  await run.enqueue(Array.from({ length: 10 }, (_, i) => syncChange(shaOf(i + 1))));
  await run.settledCount(1);
  assert.match(run.settled[0]!.error!, /could not be reached/);
  assert.equal(run.outbox.pause.current?.kind, "unreachable");
  await clock.whenSleeping();
  assert.equal(calls, 1, "no call to the other nine while the provider is paused");
  clock.advance(run.settled[0]!.delayMs!);
  await run.settledCount(2);
  await clock.whenSleeping();
  assert.equal(calls, 2, "one probe per round");
  assert.ok(run.settled[1]!.delayMs! > run.settled[0]!.delayMs!, "the backoff grows");
});
