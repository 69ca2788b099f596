import assert from "node:assert/strict";
import type { SyncOutcome } from "../../src/sources/flux/events.ts";
import type { WorkloadStatus } from "../../src/sources/flux/rollout.ts";
import type { Notifier, StatusChange } from "../../src/notifiers/notifier.ts";
import { Outbox } from "../../src/outbox/outbox.ts";
import { Watcher } from "../../src/intake/watcher.ts";
import { ManualClock } from "../../dev/fakes/clock.ts";
import { tempDir } from "../_helpers.ts";

const A = "1d9fd104169fb875fa75a6b09b3a1ebc9aec6dd4";
const B = "2f0ab35ccef1a06269ce618a6f1b01e7332b69b9";

/** A notifier that never answers: the outbox is inspected, not the provider. */
const parked: Notifier = {
  provider: "none",
  setStatus: () => new Promise(() => {}),
  getStatus: () => Promise.resolve(undefined),
  listStatuses: () => Promise.resolve([]),
};

const sync = (head: string, resources: string[]): SyncOutcome => ({
  head,
  commits: [head],
  failed: false,
  description: `Synced ${head.slice(0, 7)}`,
  resources,
});

const rolling = (ID: string): WorkloadStatus => ({
  ID,
  Status: "updating",
  Rollout: { Desired: 3, Updated: 1, Ready: 1, Available: 1, Outdated: 2, Messages: null },
});

/** A watcher on a real KV file, and the workload statuses it queued, in order. */
async function setup(
  dir: string,
  list: (ids: readonly string[]) => Promise<WorkloadStatus[]>,
  options: { kv?: (kv: Deno.Kv) => Deno.Kv; helmGraceMs?: number } = {},
) {
  const clock = new ManualClock();
  const real = await Deno.openKv(`${dir}/kv.sqlite`);
  const kv = options.kv?.(real) ?? real;
  const outbox = new Outbox({ kv, notifier: parked, instance: "dev", clock });
  const verdicts: string[] = [];
  let onVerdict = () => {};
  const watcher = new Watcher({
    kv,
    outbox,
    clock,
    list,
    pollIntervalMs: 5_000,
    pollTimeoutMs: 360_000,
    helmGraceMs: options.helmGraceMs ?? 30_000, // --helm-grace's default
    onVerdict: (head, state, description) => {
      verdicts.push(`${head.slice(0, 7)} ${state}: ${description}`);
      onVerdict();
    },
  });
  const controller = new AbortController();
  let running: Promise<void> | undefined;
  return {
    kv,
    clock,
    watcher,
    verdicts,
    /** Stores a sync as intake does; returns the workload changes it staged. */
    async accept(outcome: SyncOutcome): Promise<StatusChange[]> {
      const op = kv.atomic();
      const changes = await watcher.plan(outcome, op);
      assert.ok(await outbox.commit(op, changes));
      watcher.wake();
      return changes;
    },
    start() {
      running = watcher.run(controller.signal);
    },
    nextVerdict: () => new Promise<void>((resolve) => (onVerdict = resolve)),
    async [Symbol.asyncDispose]() {
      controller.abort();
      await running;
      real.close();
    },
  };
}

Deno.test("Watcher ends a 450-workload rollout that never finishes as failed at the poll timeout", async () => {
  await using dir = await tempDir();
  const ids = Array.from(
    { length: 450 },
    (_, i) => `payments-production-eu-west-1:deployment/checkout-service-worker-${i}`,
  );
  await using w = await setup(dir.path, (wanted) => Promise.resolve(wanted.map(rolling)));
  const changes = await w.accept(sync(B, ids));
  assert.deepEqual(changes.map((c) => `${c.state}: ${c.description}`), [
    "pending: Rolling out 450 workloads",
  ]);
  w.start();
  const judged = w.nextVerdict();
  for (let t = 0; t < 360_000; t += 5_000) {
    await w.clock.whenSleeping();
    w.clock.advance(5_000);
  }
  await judged;
  assert.equal(w.verdicts.length, 1);
  assert.match(
    w.verdicts[0]!,
    /^2f0ab35 failed: Rollout timed out after 6m: payments-production-eu-west-1:deployment\/checkout-service-worker-0 1\/3 ready, 2 outdated, .*, and 440 more$/,
  );
  assert.equal(await w.watcher.count(), 0);
});

Deno.test("Watcher retries a check that failed in the store at the next poll, not an hour later", async () => {
  await using dir = await tempDir();
  let failures = 1;
  const failOnce = (kv: Deno.Kv) =>
    new Proxy(kv, {
      get(target, prop) {
        if (prop === "list") {
          return (...args: Parameters<Deno.Kv["list"]>) => {
            const [selector] = args;
            if ("prefix" in selector && selector.prefix[0] === "watch" && failures > 0) {
              failures--;
              throw new Error("database is locked");
            }
            return target.list(...args);
          };
        }
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  await using w = await setup(
    dir.path,
    (wanted) => Promise.resolve(wanted.map((ID) => ({ ID, Status: "ready" }))),
    { kv: failOnce },
  );
  failures = 0;
  await w.accept(sync(B, ["default:deployment/api"]));
  failures = 1;
  const judged = w.nextVerdict();
  w.start();
  await w.clock.whenSleeping();
  w.clock.advance(5_000);
  await judged;
  assert.deepEqual(w.verdicts, ["2f0ab35 succeeded: Rolled out 1 workload"]);
});

Deno.test("Watcher: a newer sync inherits the older one's unfinished rollout and fails with it", async () => {
  await using dir = await tempDir();
  let api: WorkloadStatus = rolling("default:deployment/api");
  await using w = await setup(dir.path, () => Promise.resolve([api]));
  await w.accept(sync(A, ["default:deployment/api"]));
  w.start();
  await w.clock.whenSleeping(); // A checked once: api still rolling
  const changes = await w.accept(sync(B, ["default:service/api"]));
  assert.deepEqual(changes.map((c) => `${c.sha.slice(0, 7)} ${c.state}: ${c.description}`), [
    "1d9fd10 canceled: Superseded by 2f0ab35",
    "2f0ab35 pending: Rolling out 1 workload (1 still rolling from before)",
  ]);
  api = {
    ...api,
    Status: "error",
    Rollout: { ...api.Rollout, Messages: ["ProgressDeadlineExceeded"] },
  };
  const judged = w.nextVerdict();
  await w.clock.whenSleeping();
  w.clock.advance(5_000);
  await judged;
  assert.deepEqual(w.verdicts, [
    "2f0ab35 failed: Rollout failed: default:deployment/api: ProgressDeadlineExceeded",
  ]);
});

Deno.test("Watcher believes a HelmRelease's deployed only after the grace period", async () => {
  await using dir = await tempDir();
  await using w = await setup(
    dir.path,
    () => Promise.resolve([{ ID: "default:helmrelease/web", Status: "deployed" }]),
    { helmGraceMs: 30_000 },
  );
  await w.accept(sync(B, ["default:helmrelease/web"]));
  const judged = w.nextVerdict();
  w.start();
  for (let t = 0; t < 25_000; t += 5_000) {
    await w.clock.whenSleeping();
    w.clock.advance(5_000);
  }
  await w.clock.whenSleeping();
  assert.deepEqual(w.verdicts, [], "a deployed seen right after the sync may be the old release");
  w.clock.advance(5_000);
  await judged;
  assert.deepEqual(w.verdicts, ["2f0ab35 succeeded: Rolled out 1 workload"]);
});
