import assert from "node:assert/strict";
import { Outbox } from "../../src/outbox/outbox.ts";
import { ManualClock } from "../../dev/fakes/clock.ts";
import { startFakeGitLab } from "../../dev/fakes/gitlab.ts";
import { enqueue, gitLabNotifier, runOutbox, shaOf, syncChange } from "../_outbox.ts";
import { tempDir } from "../_helpers.ts";
import { pauseKey } from "../../src/runtime/store_keys.ts";

/** The commit each POST the fake received was for, in arrival order. */
const postedShas = (gl: { received: { method: string; path: string }[] }) =>
  gl.received.filter((r) => r.method === "POST").map((r) => r.path.split("/").at(-1)!);

Deno.test("Outbox delivers a sync's head commit first, and a newer sync before an older backlog", async () => {
  await using dir = await tempDir();
  await using gl = await startFakeGitLab();
  const clock = new ManualClock();
  using kv = await Deno.openKv(`${dir.path}/kv.sqlite`);
  // The head sorts last by SHA, so key order alone would deliver it last.
  const head = "f".repeat(40);
  const older = Array.from({ length: 19 }, (_, i) => shaOf(i + 1));
  const newerHead = "e".repeat(40);
  // Paused: the whole backlog is queued before anything goes out.
  await kv.set(pauseKey("gitlab"), {
    until: clock.now() + 1_000,
    kind: "rateLimited",
    reason: "",
  });
  await using resumed = runOutbox(kv, clock, gitLabNotifier(gl), { concurrency: 1 });
  await resumed.enqueue([
    { ...syncChange(head), isHead: true },
    ...older.map((sha) => syncChange(sha)),
  ]);
  clock.advance(1); // a later event
  await resumed.enqueue([{ ...syncChange(newerHead), isHead: true }]);
  await clock.whenSleeping();
  clock.advance(1_000);
  await resumed.settledCount(21);
  const order = postedShas(gl);
  assert.deepEqual(order.slice(0, 2), [newerHead, head]);
  assert.deepEqual(order.slice(2), older);
});

Deno.test("Outbox work per delivery does not grow with the backlog", async () => {
  await using dir = await tempDir();
  await using gl = await startFakeGitLab();
  const clock = new ManualClock();
  using real = await Deno.openKv(`${dir.path}/kv.sqlite`);
  let read = 0;
  // Counts every entry the outbox reads from the store.
  const kv = new Proxy(real, {
    get(target, prop) {
      if (prop === "list") {
        return async function* (...args: Parameters<Deno.Kv["list"]>) {
          for await (const e of target.list(...args)) {
            read++;
            yield e;
          }
        };
      }
      if (prop === "get") {
        return (...args: Parameters<Deno.Kv["get"]>) => (read++, target.get(...args));
      }
      if (prop === "getMany") {
        return (keys: Deno.KvKey[]) => (read += keys.length, target.getMany(keys));
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const backlog = 2_000;
  const filler = new Outbox({ kv: real, notifier: gitLabNotifier(gl), instance: "dev", clock });
  for (let i = 0; i < backlog; i += 400) {
    await enqueue(
      filler,
      real,
      Array.from({ length: 400 }, (_, j) => syncChange(shaOf(i + j + 1))),
    );
  }
  await real.set(pauseKey("gitlab"), { until: clock.now() + 1, kind: "auth", reason: "" });
  await using run = runOutbox(kv, clock, gitLabNotifier(gl), { concurrency: 1 });
  await clock.whenSleeping();
  const atStart = read; // the one read of the queue on start
  assert.ok(atStart <= backlog + 2, `read ${atStart} entries on start`);
  clock.advance(1);
  await run.settledCount(50);
  await run.stop();
  const perDelivery = (read - atStart) / 50;
  assert.ok(perDelivery <= 2, `read ${perDelivery} entries per delivery with ${backlog} waiting`);
});
