import assert from "node:assert/strict";
import type { SyncOutcome } from "../../src/sources/flux/events.ts";
import type { WorkloadStatus } from "../../src/sources/flux/rollout.ts";
import type { Notifier } from "../../src/notifiers/notifier.ts";
import { Outbox } from "../../src/outbox/outbox.ts";
import { Watcher } from "../../src/intake/watcher.ts";
import { ManualClock } from "../../dev/fakes/clock.ts";
import { tempDir } from "../_helpers.ts";

const HEAD = "2f0ab35ccef1a06269ce618a6f1b01e7332b69b9";
const outcome: SyncOutcome = {
  head: HEAD,
  commits: [HEAD],
  failed: false,
  description: "Synced 2f0ab35",
  resources: ["default:deployment/api", "default:service/api"],
};
const rolling: WorkloadStatus[] = [{
  ID: "default:deployment/api",
  Status: "updating",
  Rollout: { Desired: 3, Updated: 1, Ready: 1, Available: 1, Outdated: 2, Messages: null },
}];

/** A notifier that never delivers: the outbox is inspected, not the provider. */
const parked: Notifier = {
  provider: "none",
  setStatus: () => new Promise(() => {}),
  getStatus: () => Promise.resolve(undefined),
  listStatuses: () => Promise.resolve([]),
};

Deno.test("Watcher resumed after a restart times out from the watch's original start", async () => {
  await using dir = await tempDir();
  const clock = new ManualClock();
  const verdicts: string[] = [];
  const judged = Promise.withResolvers<void>();
  const make = (kv: Deno.Kv) => {
    const outbox = new Outbox({ kv, notifier: parked, instance: "dev", clock });
    return new Watcher({
      kv,
      outbox,
      clock,
      list: () => Promise.resolve(rolling),
      pollIntervalMs: 5_000,
      pollTimeoutMs: 360_000,
      helmGraceMs: 30_000, // --helm-grace's default
      onVerdict: (_head, state, description) => {
        verdicts.push(`${state}: ${description}`);
        judged.resolve();
      },
    });
  };
  {
    using kv = await Deno.openKv(`${dir.path}/kv.sqlite`);
    const watcher = make(kv);
    const op = kv.atomic();
    const changes = await watcher.plan(outcome, op);
    assert.deepEqual(changes.map((c) => `${c.state}: ${c.description}`), [
      "pending: Rolling out 1 workload",
    ]);
    assert.ok((await op.commit()).ok);
  }
  // Down for five minutes; then a new process opens the same store.
  clock.advance(300_000);
  using kv = await Deno.openKv(`${dir.path}/kv.sqlite`);
  const watcher = make(kv);
  const controller = new AbortController();
  const running = watcher.run(controller.signal);
  await clock.whenSleeping();
  assert.deepEqual(verdicts, [], "not timed out yet after 5 of 6 minutes");
  assert.equal(await watcher.count(), 1);
  clock.advance(60_000);
  await judged.promise;
  assert.deepEqual(verdicts, [
    "failed: Rollout timed out after 6m: default:deployment/api 1/3 ready, 2 outdated",
  ]);
  assert.equal(await watcher.count(), 0);
  controller.abort();
  await running;
});
