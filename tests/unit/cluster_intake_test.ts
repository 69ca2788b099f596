/**
 * The roll-up of the cluster's verdicts per commit (docs/flux2-state.md §4): what is queued when,
 * what may not be reopened, what a restart and a lost store change. The outbox is real (a KV
 * store in a temp folder), never run: the test reads what it queued.
 */
import assert from "node:assert/strict";
import { ClusterIntake } from "../../src/intake/cluster_intake.ts";
import type { ObjectVerdict } from "../../src/sources/flux2/cluster_state.ts";
import { type Notifier, type ReadStatus, statusName } from "../../src/notifiers/notifier.ts";
import { Outbox } from "../../src/outbox/outbox.ts";
import { ManualClock } from "../../dev/fakes/clock.ts";
import { tempDir } from "../_helpers.ts";
import { pending, refusingCommits } from "../_outbox.ts";

const A = "a".repeat(40), B = "b".repeat(40);

const unused: Notifier = {
  provider: "github",
  setStatus: () => Promise.reject(new Error("not in this test")),
  getStatus: () => Promise.reject(new Error("not in this test")),
  listStatuses: () => Promise.reject(new Error("not in this test")),
};

async function setup(
  options: {
    objectStatuses?: boolean;
    atProvider?: ReadStatus[];
    refuse?: () => boolean;
    paused?: () => boolean;
  } = {},
) {
  const dir = await tempDir();
  const real = await Deno.openKv(`${dir.path}/kv.sqlite`);
  const kv = options.refuse ? refusingCommits(real, options.refuse, "the store refused") : real;
  const clock = new ManualClock();
  const outbox = new Outbox({ kv, notifier: unused, instance: "dev", clock });
  const reads: string[] = [];
  const make = () =>
    new ClusterIntake({
      kv,
      outbox,
      clock,
      statusName: (action, object) => statusName("dev", action, object),
      objectStatuses: options.objectStatuses ?? false,
      readStatuses: (sha) => {
        reads.push(sha);
        return Promise.resolve(options.atProvider ?? []);
      },
      ...(options.paused ? { providerPaused: options.paused } : {}),
    });
  return {
    kv,
    reads,
    intake: make(),
    /** A new intake on the same store: a restart. */
    restart: make,
    /** What is queued now, as `sha7 subject: state, description`. */
    queued: async () =>
      (await pending(kv)).map((e) =>
        `${e.sha.slice(0, 7)} ${
          e.object ? `${e.object}/` : ""
        }${e.action}: ${e.status.state}, ${e.status.description}`
      ).sort(),
    async [Symbol.asyncDispose]() {
      real.close();
      await dir[Symbol.asyncDispose]();
    },
  };
}

const v = (
  object: string,
  sha: string,
  sync: ObjectVerdict["sync"],
  workload: ObjectVerdict["workload"],
  extra: Partial<ObjectVerdict> = {},
): ObjectVerdict => ({
  object,
  sha,
  ...(sync ? { sync } : {}),
  ...(workload ? { workload } : {}),
  why: sync === "failed" ? "BuildFailed" : "Progressing",
  checked: true,
  past: [],
  ...extra,
});

Deno.test("a commit's objects give one pending pair, then one final pair", async () => {
  await using t = await setup();
  await t.intake.reconcile([
    v("k/a/one", A, "pending", "pending"),
    v("k/a/two", A, "succeeded", "pending"),
  ]);
  assert.deepEqual(await t.queued(), [
    "aaaaaaa sync: pending, Applied at 1/2 objects; waiting: k/a/one",
    "aaaaaaa workload: pending, Ready at 0/2 objects; waiting: k/a/one, k/a/two",
  ]);
  // More progress without a state change queues nothing new.
  assert.equal(
    await t.intake.reconcile([
      v("k/a/one", A, "succeeded", "pending"),
      v("k/a/two", A, "succeeded", "pending"),
    ]),
    1,
  );
  assert.equal(
    await t.intake.reconcile([
      v("k/a/one", A, "succeeded", "succeeded"),
      v("k/a/two", A, "succeeded", "succeeded"),
    ]),
    1,
  );
  assert.deepEqual(await t.queued(), [
    "aaaaaaa sync: succeeded, Applied at 2/2 objects",
    "aaaaaaa workload: succeeded, Ready at 2/2 objects",
  ]);
});

Deno.test("succeeded stays; a failure turns succeeded but never back to pending", async () => {
  await using t = await setup();
  await t.intake.reconcile([v("k/a/one", A, "succeeded", "succeeded")]);
  assert.equal(await t.intake.reconcile([v("k/a/one", A, "failed", "canceled")]), 0);
  await t.intake.reconcile([v("k/a/two", B, "failed", "canceled")]);
  assert.deepEqual((await t.queued()).filter((q) => q.startsWith("bbbbbbb sync")), [
    "bbbbbbb sync: failed, Failed at 1/1: k/a/two (BuildFailed)",
  ]);
  assert.equal(await t.intake.reconcile([v("k/a/two", B, "pending", "pending")]), 0);
  assert.equal(await t.intake.reconcile([v("k/a/two", B, "succeeded", "succeeded")]), 2);
});

Deno.test("objects that move on leave the older commit canceled, superseded by the newer", async () => {
  await using t = await setup({ objectStatuses: true });
  await t.intake.reconcile([v("k/a/one", A, "pending", "pending")]);
  await t.intake.reconcile([v("k/a/one", B, "pending", "pending")]);
  const queued = await t.queued();
  assert.ok(
    queued.includes("aaaaaaa sync: canceled, Superseded by bbbbbbb; Applied at 0/1 objects"),
    queued.join("\n"),
  );
  assert.ok(
    queued.includes("aaaaaaa k/a/one/workload: canceled, Superseded by bbbbbbb"),
    queued.join("\n"),
  );
  // Closed: its members are gone from the store.
  assert.deepEqual(await Array.fromAsync(t.kv.list({ prefix: ["cluster", "member", A] })), []);
});

Deno.test("history's verdict for a commit an object left counts instead of canceled", async () => {
  await using t = await setup();
  await t.intake.reconcile([v("k/a/one", A, "pending", "pending")]);
  const past = [{
    sha: A,
    sync: "succeeded" as const,
    workload: "succeeded" as const,
    why: "ReconciliationSucceeded",
  }];
  await t.intake.reconcile([v("k/a/one", B, "pending", "pending", { past })]);
  assert.ok((await t.queued()).includes("aaaaaaa workload: succeeded, Ready at 1/1 objects"));
});

Deno.test("a suspended object is left out and named; one without health checks follows its sync", async () => {
  await using t = await setup();
  await t.intake.reconcile([
    v("k/a/one", A, "succeeded", undefined, { checked: false }),
    v("k/a/off", A, undefined, undefined, { suspended: true }),
  ]);
  assert.deepEqual(await t.queued(), [
    "aaaaaaa sync: succeeded, Applied at 1/1 objects; suspended: k/a/off",
    "aaaaaaa workload: succeeded, Ready at 1/1 objects; suspended: k/a/off",
  ]);
});

Deno.test("a restart queues nothing the store already queued; a lost store asks the provider once per commit", async () => {
  await using t = await setup({
    atProvider: [{ name: "flux-status/dev/sync", state: "succeeded", description: "Applied" }],
  });
  const verdicts = [v("k/a/one", A, "succeeded", "pending")];
  await t.intake.reconcile(verdicts);
  assert.deepEqual(t.reads, [A]);
  // The provider already shows sync succeeded: only workload is queued.
  assert.deepEqual(await t.queued(), [
    "aaaaaaa workload: pending, Ready at 0/1 objects; waiting: k/a/one",
  ]);
  const again = t.restart();
  assert.equal(await again.reconcile(verdicts), 0);
  assert.deepEqual(t.reads, [A], "the store knew the commit: no second read");
});

Deno.test("a store that refuses the roll-up's commit loses nothing: the next judgement queues it", async () => {
  let commits = 0, refuseAt = 0;
  await using t = await setup({ refuse: () => ++commits === refuseAt });
  const verdicts = [v("k/a/one", A, "succeeded", "succeeded")];
  refuseAt = 2; // the objects' verdicts land, the roll-up's commit is refused
  await assert.rejects(t.intake.reconcile(verdicts), /the store refused/);
  assert.deepEqual(await t.queued(), []);
  assert.equal(await t.intake.reconcile(verdicts), 2);
  assert.deepEqual(await t.queued(), [
    "aaaaaaa sync: succeeded, Applied at 1/1 objects",
    "aaaaaaa workload: succeeded, Ready at 1/1 objects",
  ]);
});

Deno.test("no provider read while calls to it are paused: the roll-up is queued as computed", async () => {
  let paused = true;
  await using t = await setup({ paused: () => paused });
  await t.intake.reconcile([v("k/a/one", A, "succeeded", "pending")]);
  assert.deepEqual(t.reads, []);
  assert.equal((await t.queued()).length, 2);
  paused = false;
  await t.intake.reconcile([v("k/a/two", B, "pending", "pending")]);
  assert.deepEqual(t.reads, [B]);
});

Deno.test("an object deleted while its commit is pending stops counting for it", async () => {
  await using t = await setup();
  await t.intake.reconcile([
    v("k/a/one", A, "pending", "pending"),
    v("k/a/gone", A, "pending", "pending"),
  ]);
  // k/a/gone is deleted; k/a/one finishes.
  await t.intake.reconcile([v("k/a/one", A, "succeeded", "succeeded")]);
  assert.deepEqual(await t.queued(), [
    "aaaaaaa sync: succeeded, Applied at 1/1 objects",
    "aaaaaaa workload: succeeded, Ready at 1/1 objects",
  ]);
});
