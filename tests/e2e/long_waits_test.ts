/**
 * Waits longer than a timer can hold: Deno's timers are 32-bit, so one of 2^31 ms or more fires at
 * once. Long sleeps are taken in turns, and a provider cannot ask for more than an hour.
 */
import assert from "node:assert/strict";
import { MAX_TIMER_MS, type Timers, wallClock } from "../../src/runtime/clock.ts";
import { MAX_PROVIDER_WAIT_MS, providerFailure } from "../../src/notifiers/_errors.ts";
import { startFakeGitHub } from "../../dev/fakes/github.ts";
import { FakeFluxd } from "../../dev/fakes/fluxd.ts";
import { startDaemonProcess } from "../_cli.ts";
import { fixture, tempDir } from "../_helpers.ts";

/** Timers that fire only when the test says so, recording each delay asked for. */
function manualTimers() {
  const armed = new Map<number, { fire: () => void; ms: number }>();
  const delays: number[] = [];
  let next = 1;
  const timers = {
    setTimeout(fire: () => void, ms: number) {
      delays.push(ms);
      armed.set(next, { fire, ms });
      return next++ as unknown as ReturnType<typeof setTimeout>;
    },
    clearTimeout(id: ReturnType<typeof setTimeout> | undefined) {
      armed.delete(id as unknown as number);
    },
  } satisfies Timers;
  const fireAll = () => {
    const now = [...armed.entries()];
    armed.clear();
    for (const [, t] of now) t.fire();
  };
  return { timers, delays, armed, fireAll };
}

Deno.test("a sleep beyond the 32-bit timer limit is taken in turns and ends only after all of them", async () => {
  const t = manualTimers();
  const ms = 720 * 3_600_000; // --flux2-pending-timeout 720h
  let done = false;
  const sleep = wallClock(t.timers).sleep(ms).then(() => done = true);
  const turns = Math.ceil(ms / MAX_TIMER_MS);
  for (let i = 1; i < turns; i++) {
    t.fireAll();
    await Promise.resolve();
    assert.equal(done, false, `ended after turn ${i} of ${turns}`);
  }
  t.fireAll();
  await sleep;
  assert.ok(t.delays.every((d) => d <= MAX_TIMER_MS), t.delays.join(", "));
  assert.equal(t.delays.reduce((a, b) => a + b, 0), ms);
  assert.equal(t.delays.length, turns);
});

Deno.test("an abort during a later turn clears that turn's timer and rejects", async () => {
  const t = manualTimers();
  const controller = new AbortController();
  const sleep = wallClock(t.timers).sleep(MAX_TIMER_MS + 10, controller.signal);
  t.fireAll();
  assert.equal(t.armed.size, 1);
  controller.abort(new Error("stop"));
  await assert.rejects(sleep, /stop/);
  assert.equal(t.armed.size, 0);
});

Deno.test("a provider's far Retry-After is capped at an hour and the message says so", () => {
  const err = providerFailure({
    provider: "github",
    label: "GitHub",
    doing: "set status on 3f2a9c1",
    status: 429,
    message: "slow down",
    headers: new Headers({ "retry-after": String(30 * 86_400) }),
    now: 0,
  });
  assert.equal(err.kind, "rateLimited");
  assert.equal(err.retryAfterMs, MAX_PROVIDER_WAIT_MS);
  assert.match(err.message, /asked to wait 2592000 s, more than the 1 h flux-status waits at most/);
  const near = providerFailure({
    provider: "github",
    label: "GitHub",
    doing: "set status on 3f2a9c1",
    status: 429,
    message: "slow down",
    headers: new Headers({ "retry-after": "30" }),
    now: 0,
  });
  assert.equal(near.retryAfterMs, 30_000);
});

Deno.test("a daemon with 600h and 720h intervals neither spins nor prints a timer warning", async () => {
  await using dir = await tempDir();
  await using gh = await startFakeGitHub();
  const tokenFile = `${dir.path}/token`;
  await Deno.writeTextFile(tokenFile, "test-token");
  await using daemon = await startDaemonProcess([
    "--instance",
    "dev",
    "--git-url",
    "git@github.com:acme/app.git",
    "--api-url",
    gh.url,
    "--github-token-file",
    tokenFile,
    "--store",
    `${dir.path}/kv.sqlite`,
    "--secret-poll-interval",
    "600h",
    "--flux2-pending-timeout",
    "720h",
    "--poll-timeout",
    "600h",
  ]);
  await using fluxd = new FakeFluxd({ connect: daemon.connect });
  assert.ok((await fluxd.postEvent(await fixture("event-sync.json"))).delivered);
  const sha = "2f0ab35ccef1a06269ce618a6f1b01e7332b69b9";
  await gh.waitFor(() => gh.statusesOf(sha).length > 0, "a status");
  assert.doesNotMatch(daemon.output(), /TimeoutOverflow/);
  // A spinning secret poll would have read the token file on every turn of its loop.
  assert.doesNotMatch(daemon.output(), /secret|token file/i);
});
