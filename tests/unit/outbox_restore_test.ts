/**
 * A store from the past: entries the outbox reads at start are checked against the provider
 * before their first send, so a store restored from an older backup does not put an old status
 * over a newer one.
 */
import assert from "node:assert/strict";
import { parseGitUrl } from "../../src/notifiers/git_url.ts";
import { createGitHubNotifier } from "../../src/notifiers/github.ts";
import type { Notifier, StatusChange } from "../../src/notifiers/notifier.ts";
import { Outbox } from "../../src/outbox/outbox.ts";
import { PROVIDER_CLOCK_SKEW_MS } from "../../src/outbox/restore_check.ts";
import { enqueue, runOutbox } from "../_outbox.ts";
import { tempDir } from "../_helpers.ts";
import { ManualClock } from "../../dev/fakes/clock.ts";
import { type FakeGitHub, startFakeGitHub } from "../../dev/fakes/github.ts";

const SHA = "2f0ab35ccef1a06269ce618a6f1b01e7332b69b9";

const change = (action: StatusChange["action"], state: StatusChange["state"]): StatusChange => ({
  sha: SHA,
  action,
  state,
  description: `${action} ${state}`,
});

const notifierFor = (gh: FakeGitHub): Notifier =>
  createGitHubNotifier({
    remote: parseGitUrl("https://github.com/acme/app"),
    token: "test-token",
    apiUrl: gh.url,
  });

/** Commits `changes` to the store at `path` as of `clock`, without delivering them. */
async function queueOnly(
  path: string,
  clock: ManualClock,
  gh: FakeGitHub,
  changes: StatusChange[],
) {
  const kv = await Deno.openKv(path);
  try {
    const outbox = new Outbox({ kv, notifier: notifierFor(gh), instance: "dev", clock });
    await enqueue(outbox, kv, changes);
  } finally {
    kv.close();
  }
}

/** Runs an outbox on the store at `path` until `n` attempts settled; returns what became of them. */
async function deliver(
  path: string,
  clock: ManualClock,
  gh: FakeGitHub,
  n: number,
  changes: StatusChange[] = [],
) {
  clock.advance(1); // a new run
  const kv = await Deno.openKv(path);
  const run = runOutbox(kv, clock, notifierFor(gh));
  try {
    await run.enqueue(changes);
    await run.settledCount(n);
    return { settled: [...run.settled], pending: await run.pending() };
  } finally {
    await run.stop();
    kv.close();
  }
}

/**
 * A store whose backup was taken an hour ago with `action` pending queued; since then the final
 * status was delivered, and now the backup is restored. Returns the store and the clock.
 */
async function restoredStore(gh: FakeGitHub, folder: string, action: StatusChange["action"]) {
  const store = `${folder}/kv.sqlite`, backup = `${folder}/backup.sqlite`;
  const clock = new ManualClock(Date.now() - 3_600_000);
  await queueOnly(store, clock, gh, [change(action, "pending")]);
  await Deno.copyFile(store, backup);
  const later = await deliver(store, clock, gh, 1, [change(action, "succeeded")]);
  assert.deepEqual(later.settled.map((s) => s.outcome), ["delivered"]);
  assert.deepEqual(gh.statusesOf(SHA).map((s) => s.state), ["success"]);
  await Deno.copyFile(backup, store);
  return { store, clock };
}

const statusReads = (gh: FakeGitHub) =>
  gh.received.filter((r) => r.method === "GET" && r.path.includes(SHA)).length;

Deno.test("A store restored from an older backup does not send its old status over the newer one", async () => {
  await using gh = await startFakeGitHub();
  await using dir = await tempDir();
  // The backup holds a rollout's pending status, queued an hour ago; its final one was
  // delivered since.
  const { store, clock } = await restoredStore(gh, dir.path, "workload");

  const restored = await deliver(store, clock, gh, 1);

  assert.deepEqual(restored.settled.map((s) => [s.outcome, s.reason]), [["skipped", "superseded"]]);
  assert.deepEqual(restored.pending, []);
  assert.deepEqual(gh.statusesOf(SHA).map((s) => s.state), ["success"], "the provider's statuses");
  assert.deepEqual(gh.violations, []);
});

Deno.test("Entries read at start are sent when the provider's status is older, with one read per commit", async () => {
  await using gh = await startFakeGitHub();
  await using dir = await tempDir();
  const store = `${dir.path}/kv.sqlite`;
  await deliver(store, new ManualClock(Date.now()), gh, 2, [
    change("sync", "pending"),
    change("workload", "pending"),
  ]);
  // Queued after the provider took the pending ones, within the clock skew allowed, then a crash.
  const clock = new ManualClock(Date.now() - PROVIDER_CLOCK_SKEW_MS / 2);
  await queueOnly(store, clock, gh, [change("sync", "succeeded"), change("workload", "failed")]);
  const readsBefore = statusReads(gh);

  const restarted = await deliver(store, clock, gh, 2);

  assert.deepEqual(restarted.settled.map((s) => s.outcome), ["delivered", "delivered"]);
  const newest = new Map(
    gh.statusesOf(SHA).toSorted((a, b) => a.id - b.id).map((s) => [s.context, s.state]),
  );
  assert.deepEqual(Object.fromEntries(newest), {
    "flux-status/dev/sync": "success",
    "flux-status/dev/workload": "failure",
  });
  assert.equal(statusReads(gh) - readsBefore, 1, "one read of the commit's statuses for both");
});

Deno.test("A failed check of the provider is made again on the next attempt", async () => {
  await using gh = await startFakeGitHub();
  await using dir = await tempDir();
  const { store, clock } = await restoredStore(gh, dir.path, "sync");
  gh.faults.push({ status: 502, method: "GET", body: { message: "Server Error" } });

  clock.advance(1); // a new run
  const kv = await Deno.openKv(store);
  const run = runOutbox(kv, clock, notifierFor(gh));
  try {
    await run.settledCount(1);
    assert.equal(run.settled[0]?.outcome, "retry");
    clock.advance(run.settled[0]!.delayMs!);
    await run.settledCount(2);
  } finally {
    await run.stop();
    kv.close();
  }
  assert.deepEqual(run.settled.map((s) => [s.outcome, s.reason]), [
    ["retry", undefined],
    ["skipped", "superseded"],
  ]);
  assert.deepEqual(gh.statusesOf(SHA).map((s) => s.state), ["success"]);
});

Deno.test("An entry the provider already shows word for word is not sent again (another replica delivered it)", async () => {
  await using gh = await startFakeGitHub();
  await using dir = await tempDir();
  const clock = new ManualClock(Date.now());
  // This replica queued them while following; the leader delivered sync and, before it stopped,
  // only workload's pending.
  await queueOnly(`${dir.path}/kv.sqlite`, clock, gh, [
    change("sync", "succeeded"),
    change("workload", "failed"),
  ]);
  const leader = await deliver(`${dir.path}/leader.sqlite`, clock, gh, 2, [
    change("sync", "succeeded"),
    change("workload", "pending"),
  ]);
  assert.deepEqual(leader.settled.map((s) => s.outcome), ["delivered", "delivered"]);

  const takeover = await deliver(`${dir.path}/kv.sqlite`, clock, gh, 2);

  // sync: there already, word for word; workload: news.
  assert.deepEqual(
    takeover.settled.map((s) => [s.action, s.outcome]).sort(),
    [["sync", "skipped"], ["workload", "delivered"]],
  );
  assert.equal(gh.statusesOf(SHA).filter((s) => s.context === "flux-status/dev/sync").length, 1);
});

Deno.test("A cancellation is not sent over a verdict the provider already has (another replica saw it fail)", async () => {
  await using gh = await startFakeGitHub();
  await using dir = await tempDir();
  const clock = new ManualClock(Date.now());
  // The leader saw the commit fail; this replica missed it (down meanwhile) and, as its objects
  // moved on, computes "Superseded" for both.
  const leader = await deliver(`${dir.path}/leader.sqlite`, clock, gh, 2, [
    change("sync", "failed"),
    change("workload", "pending"),
  ]);
  assert.deepEqual(leader.settled.map((s) => s.outcome), ["delivered", "delivered"]);

  const other = await deliver(`${dir.path}/kv.sqlite`, clock, gh, 2, [
    change("sync", "canceled"),
    change("workload", "canceled"),
  ]);

  // sync keeps its verdict; workload had none, and is canceled.
  assert.deepEqual(
    other.settled.map((s) => [s.action, s.outcome, s.reason]).sort(),
    [["sync", "skipped", "verdict"], ["workload", "delivered", undefined]],
  );
  const newest = new Map(
    gh.statusesOf(SHA).toSorted((a, b) => a.id - b.id).map((s) => [s.context, s.state]),
  );
  assert.deepEqual(Object.fromEntries(newest), {
    "flux-status/dev/sync": "failure",
    "flux-status/dev/workload": "error",
  });
  assert.deepEqual(gh.violations, []);
});
