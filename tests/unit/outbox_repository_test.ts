/**
 * A 404 is one commit's only while the repository reads fine. A repository that cannot be read (a
 * wrong --api-url, a renamed repository, a token that cannot see it) would refuse every status, so
 * calls pause like a refused token, durably, and the statuses wait for the configuration's fix.
 */
import assert from "node:assert/strict";
import { ManualClock } from "../../dev/fakes/clock.ts";
import { startFakeGitLab } from "../../dev/fakes/gitlab.ts";
import { parseGitUrl } from "../../src/notifiers/git_url.ts";
import { createGitLabNotifier } from "../../src/notifiers/gitlab.ts";
import { gitLabNotifier, runOutbox, shaOf, syncChange } from "../_outbox.ts";
import { tempDir } from "../_helpers.ts";

Deno.test("a wrong --api-url pauses every call and keeps the statuses until it is fixed", async () => {
  await using dir = await tempDir();
  await using gl = await startFakeGitLab();
  const clock = new ManualClock();
  using kv = await Deno.openKv(`${dir.path}/kv.sqlite`);
  const wrong = createGitLabNotifier({
    remote: parseGitUrl("https://gitlab.com/acme/app"),
    token: "test-token",
    apiUrl: `${gl.url}/api/v3`, // the API lives at the fake's root: every path is a 404
  });
  {
    await using run = runOutbox(kv, clock, wrong, { concurrency: 1 });
    await run.enqueue([syncChange(shaOf(1)), syncChange(shaOf(2))]);
    await run.settledCount(1);
    assert.equal(run.settled[0]?.outcome, "retry", JSON.stringify(run.settled));
    assert.equal(run.settled[0]?.kind, "auth");
    assert.match(run.settled[0]?.error ?? "", /the repository itself cannot be read/);
    assert.equal(run.outbox.pause.current?.kind, "auth");
    await clock.whenSleeping();
    const calls = gl.received.length;
    clock.advance(59_000);
    await clock.whenSleeping();
    assert.equal(gl.received.length, calls, "no call while paused");
    assert.equal((await run.pending()).length, 2, "nothing dropped");
  }
  // Restarted with the right address on the same store: both statuses arrive.
  await using run = runOutbox(kv, clock, gitLabNotifier(gl));
  clock.advance(60_000);
  await run.settledCount(2);
  assert.deepEqual(run.settled.map((s) => s.outcome), ["delivered", "delivered"]);
  assert.equal(gl.commitStatuses(shaOf(1)).length + gl.commitStatuses(shaOf(2)).length, 2);
});

Deno.test("a 404 on one commit while the repository reads fine drops only that status", async () => {
  await using dir = await tempDir();
  await using gl = await startFakeGitLab();
  const clock = new ManualClock();
  using kv = await Deno.openKv(`${dir.path}/kv.sqlite`);
  gl.faults.push({ status: 404, method: "POST", body: { message: "404 References Not Found" } });
  await using run = runOutbox(kv, clock, gitLabNotifier(gl), { concurrency: 1 });
  await run.enqueue([syncChange(shaOf(1))]);
  await run.settledCount(1);
  assert.equal(run.settled[0]?.outcome, "dropped");
  assert.equal(run.settled[0]?.reason, "rejected");
  assert.equal(run.outbox.pause.current, undefined);
  await run.enqueue([syncChange(shaOf(2))]);
  await run.settledCount(2);
  assert.equal(run.settled[1]?.outcome, "delivered");
});
