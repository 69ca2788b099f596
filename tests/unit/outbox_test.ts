import assert from "node:assert/strict";
import { parseGitUrl } from "../../src/notifiers/git_url.ts";
import { createGitHubNotifier } from "../../src/notifiers/github.ts";
import type { Notifier, StatusChange } from "../../src/notifiers/notifier.ts";
import { Outbox } from "../../src/outbox/outbox.ts";
import { runOutbox } from "../_outbox.ts";
import { ManualClock } from "../../dev/fakes/clock.ts";
import { type FakeGitHub, startFakeGitHub } from "../../dev/fakes/github.ts";
import { tempDir } from "../_helpers.ts";

const SHA = "2f0ab35ccef1a06269ce618a6f1b01e7332b69b9";
const OTHER = "1d9fd104169fb875fa75a6b09b3a1ebc9aec6dd4";

const change = (
  state: StatusChange["state"],
  description: string = state,
  sha = SHA,
): StatusChange => ({
  sha,
  action: "sync",
  state,
  description,
});

async function setup(gh: FakeGitHub, token = "test-token", repo = "acme/app") {
  const dir = await tempDir();
  const kv = await Deno.openKv(`${dir.path}/kv.sqlite`);
  const clock = new ManualClock();
  const notifier = createGitHubNotifier({
    remote: parseGitUrl(`https://github.com/${repo}`),
    token,
    apiUrl: gh.url,
  });
  const run = runOutbox(kv, clock, notifier);
  return {
    kv,
    clock,
    outbox: run.outbox,
    enqueue: run.enqueue,
    pending: run.pending,
    settled: run.settled,
    settledCount: run.settledCount,
    async [Symbol.asyncDispose]() {
      await run.stop();
      kv.close();
      await dir[Symbol.asyncDispose]();
    },
  };
}

Deno.test("Outbox delivers a change and records it as delivered", async () => {
  await using gh = await startFakeGitHub();
  await using box = await setup(gh);
  await box.enqueue([change("succeeded", "Synced 2f0ab35")]);
  await box.settledCount(1);
  assert.deepEqual(box.settled.map((s) => s.outcome), ["delivered"]);
  assert.equal(gh.statusesOf(SHA)[0]?.state, "success");
  assert.equal(gh.statusesOf(SHA)[0]?.context, "flux-status/dev/sync");
  assert.deepEqual(await box.pending(), []);
  assert.deepEqual(gh.violations, []);
});

Deno.test("Outbox coalesces changes waiting for the same commit and action, newest wins", async () => {
  await using gh = await startFakeGitHub();
  await using box = await setup(gh);
  await box.enqueue([
    change("pending"),
    change("failed", "Sync failed"),
    change("succeeded", "ok", OTHER),
  ]);
  await box.settledCount(2);
  assert.deepEqual(gh.statusesOf(SHA).map((s) => s.state), ["failure"]);
  assert.deepEqual(gh.statusesOf(OTHER).map((s) => s.state), ["success"]);
});

Deno.test("Outbox never sends an update identical to the last one delivered", async () => {
  await using gh = await startFakeGitHub();
  await using box = await setup(gh);
  await box.enqueue([change("succeeded", "Synced")]);
  await box.settledCount(1);
  await box.enqueue([change("succeeded", "Synced")]);
  await box.settledCount(2);
  assert.equal(box.settled[1]?.outcome, "skipped");
  assert.equal(gh.received.filter((r) => r.method === "POST").length, 1);
  // A different update after it is sent.
  await box.enqueue([change("failed", "Sync failed")]);
  await box.settledCount(3);
  assert.deepEqual(gh.statusesOf(SHA).map((s) => s.state), ["failure", "success"]);
});

Deno.test("Outbox waits out GitHub's primary rate limit until x-ratelimit-reset", async () => {
  await using gh = await startFakeGitHub();
  await using box = await setup(gh);
  const reset = Math.floor(Date.now() / 1000) + 120;
  gh.faults.push({
    status: 403,
    headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) },
    body: {
      message: "API rate limit exceeded for user ID 1.",
      documentation_url: "https://docs.github.com",
    },
  });
  await box.enqueue([change("succeeded")]);
  await box.settledCount(1);
  const retry = box.settled[0]!;
  assert.equal(retry.outcome, "retry");
  assert.ok(retry.delayMs! >= 118_000 && retry.delayMs! <= 122_000, `delay ${retry.delayMs}`);
  box.clock.advance(retry.delayMs! - 1000);
  assert.equal(gh.received.length, 1, "no request before the reset");
  box.clock.advance(1000);
  await box.settledCount(2);
  assert.equal(box.settled[1]?.outcome, "delivered");
});

Deno.test("Outbox stops at the fake's own primary limit and resumes after its reset", async () => {
  await using gh = await startFakeGitHub({ rateLimit: 1, rateLimitResetSeconds: 600 });
  await using box = await setup(gh);
  await box.enqueue([change("succeeded", "first", SHA)]);
  await box.settledCount(1);
  await box.enqueue([change("succeeded", "second", OTHER)]);
  await box.settledCount(2);
  const [first, second] = box.settled;
  assert.equal(first?.outcome, "delivered");
  assert.equal(second?.outcome, "retry");
  assert.ok(second!.delayMs! > 590_000 && second!.delayMs! <= 602_000, `delay ${second!.delayMs}`);
  assert.match(second!.error!, /403 API rate limit exceeded/);
});

Deno.test("Outbox honours Retry-After on GitHub's secondary rate limit (403 and 429)", async (t) => {
  for (const status of [403, 429]) {
    await t.step(`status ${status}`, async () => {
      await using gh = await startFakeGitHub();
      await using box = await setup(gh);
      gh.faults.push({
        status,
        headers: { "retry-after": "30" },
        body: {
          message:
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        },
      });
      await box.enqueue([change("succeeded")]);
      await box.settledCount(1);
      assert.equal(box.settled[0]?.delayMs, 30_000);
      box.clock.advance(30_000);
      await box.settledCount(2);
      assert.equal(box.settled[1]?.outcome, "delivered");
    });
  }
});

Deno.test("Outbox retries 5xx and network failures with exponential backoff", async () => {
  await using gh = await startFakeGitHub();
  await using box = await setup(gh);
  for (let i = 0; i < 3; i++) gh.faults.push({ status: 502, body: { message: "Bad Gateway" } });
  await box.enqueue([change("succeeded")]);
  for (let i = 1; i <= 3; i++) {
    await box.settledCount(i);
    box.clock.advance(box.settled[i - 1]!.delayMs!);
  }
  await box.settledCount(4);
  // random() = 0 gives the lower edge of equal jitter: 500, 1000, 2000 ms
  assert.deepEqual(box.settled.map((s) => s.delayMs ?? null), [500, 1000, 2000, null]);
  assert.equal(box.settled[3]?.outcome, "delivered");
});

Deno.test("Outbox keeps a change refused for a bad token and delivers it once the token works", async () => {
  await using gh = await startFakeGitHub({ tokens: [] });
  await using box = await setup(gh, "not-yet-valid");
  await box.enqueue([change("succeeded")]);
  await box.settledCount(1);
  assert.equal(box.settled[0]?.outcome, "retry");
  assert.equal(box.settled[0]?.delayMs, 60_000);
  assert.match(box.settled[0]!.error!, /401 Bad credentials: check the token/);
  assert.equal((await box.pending()).length, 1);
  gh.tokens.add("not-yet-valid");
  box.clock.advance(60_000);
  await box.settledCount(2);
  assert.equal(box.settled[1]?.outcome, "delivered");
});

Deno.test("Outbox drops a change GitHub refuses for good (404, 422) and goes on", async () => {
  await using gh = await startFakeGitHub();
  // A 404 for a repository GitHub does not show: every status would meet it, so it is kept and
  // calls pause (issue: a wrong --api-url dropped every status).
  await using missing = await setup(gh, "test-token", "acme/gone");
  await missing.enqueue([change("succeeded")]);
  await missing.settledCount(1);
  assert.equal(missing.settled[0]?.outcome, "retry");
  assert.equal(missing.settled[0]?.kind, "auth");
  assert.match(missing.settled[0]!.error!, /404.*the repository itself cannot be read/);
  assert.equal((await missing.pending()).length, 1);

  await using box = await setup(gh);
  gh.faults.push({ status: 404, method: "POST", body: { message: "Not Found" } });
  await box.enqueue([change("succeeded", "y")]);
  await box.settledCount(1);
  assert.equal(box.settled[0]?.outcome, "dropped", "a 404 on one commit of a readable repository");
  assert.match(box.settled[0]!.error!, /404/);

  await box.enqueue([change("succeeded", "x", "deadbeef".repeat(5).slice(0, 39) + "z")]);
  await box.settledCount(2);
  assert.equal(box.settled[1]?.outcome, "dropped");
  assert.match(box.settled[1]!.error!, /422/);
});

Deno.test("Outbox keeps running when its store fails, and stops cleanly", async () => {
  await using dir = await tempDir();
  const kv = await Deno.openKv(`${dir.path}/kv.sqlite`);
  const clock = new ManualClock();
  const notifier: Notifier = {
    provider: "none",
    setStatus: () => Promise.resolve(),
    getStatus: () => Promise.resolve(undefined),
    listStatuses: () => Promise.resolve([]),
  };
  const outbox = new Outbox({ kv, notifier, instance: "dev", clock });
  const controller = new AbortController();
  const running = outbox.run(controller.signal);
  await clock.whenSleeping();
  kv.close();
  outbox.wake(); // the loop reads the closed store: it must log and wait, not reject
  await clock.whenSleeping();
  controller.abort();
  await running;
});

Deno.test("Outbox calls off statuses queued in GitHub's pacing when a rate limit pauses the provider", async () => {
  await using gh = await startFakeGitHub();
  await using box = await setup(gh);
  gh.faults.push({
    status: 429,
    headers: { "retry-after": "30" },
    body: { message: "You have exceeded a secondary rate limit." },
  });
  const shas = [SHA, OTHER, "a".repeat(40), "b".repeat(40)];
  await box.enqueue(shas.map((sha) => change("succeeded", "ok", sha)));
  await box.settledCount(1);
  assert.deepEqual(box.settled.map((s) => [s.outcome, s.delayMs]), [["retry", 30_000]]);
  await box.clock.whenSleeping();
  assert.equal(gh.received.length, 1, "the statuses paced behind the refused one were not sent");
  box.clock.advance(30_000);
  await box.settledCount(5);
  assert.equal(gh.received.length, 5);
  assert.deepEqual(await box.pending(), []);
});
