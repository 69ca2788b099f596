import assert from "node:assert/strict";
import { createIntake } from "../../src/intake/intake.ts";
import type { Notifier } from "../../src/notifiers/notifier.ts";
import { MAX_DESCRIPTION_LENGTH } from "../../src/notifiers/notifier.ts";
import { Outbox, type OutboxEntry } from "../../src/outbox/outbox.ts";
import { createHandler } from "../../src/server/server.ts";
import { Watcher } from "../../src/intake/watcher.ts";
import { ManualClock } from "../../dev/fakes/clock.ts";
import { tempDir } from "../_helpers.ts";
import { refusingCommits } from "../_outbox.ts";
import {
  commitList,
  HEAD,
  resourceErrors,
  syncEvent,
  workloadIds,
} from "../../dev/fakes/fluxd_events.ts";
import { outboxKeys } from "../../src/runtime/store_keys.ts";

const parked: Notifier = {
  provider: "none",
  setStatus: () => new Promise(() => {}),
  getStatus: () => Promise.resolve(undefined),
  listStatuses: () => Promise.resolve([]),
};

/** The daemon's event route on a real KV file, with nothing delivering or watching. */
async function route(dir: string) {
  const kv = await Deno.openKv(`${dir}/kv.sqlite`);
  const clock = new ManualClock();
  const outbox = new Outbox({ kv, notifier: parked, instance: "dev", clock });
  const watcher = new Watcher({
    kv,
    outbox,
    clock,
    list: () => Promise.resolve([]),
    pollIntervalMs: 5_000,
    pollTimeoutMs: 360_000,
    helmGraceMs: 30_000, // --helm-grace's default
  });
  const accept = createIntake({ kv, outbox, watcher });
  const handler = createHandler({
    maxEventBytes: 64 * 1024 * 1024,
    onEvent: async (e) => ({ statuses: e.outcome ? await accept(e.outcome) : 0 }),
    onSocket: () => {},
    notReadyReasons: () => [],
  });
  return {
    kv,
    watcher,
    post: (event: unknown) =>
      handler(
        new Request("http://x/v6/events", {
          method: "POST",
          body: new TextEncoder().encode(JSON.stringify(event)),
        }),
      ),
    async stored(): Promise<OutboxEntry[]> {
      const out: OutboxEntry[] = [];
      for await (const e of kv.list<OutboxEntry>({ prefix: outboxKeys.entries })) out.push(e.value);
      return out;
    },
    [Symbol.dispose]: () => kv.close(),
  };
}

const event = syncEvent;
const commits = commitList;
const errors = resourceErrors;

Deno.test("an event's statuses and watch are stored before the handler answers 2xx", async () => {
  await using dir = await tempDir();
  using r = await route(dir.path);
  const res = await r.post(
    event({ commits: commits(2) }, ["default:deployment/api", "default:service/api"]),
  );
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { accepted: "sync", statuses: 4 });
  const stored = (await r.stored()).map((e) => `${e.sha.slice(0, 7)} ${e.action} ${e.status.state}`)
    .sort();
  assert.deepEqual(stored, [
    "0000000 sync succeeded",
    "0000000 workload pending",
    "2f0ab35 sync succeeded",
    "2f0ab35 workload pending",
  ]);
  assert.equal(await r.watcher.count(), 1);
});

Deno.test("events at the sizes fluxd really sends are stored and answered 2xx", async (t) => {
  const workloads = workloadIds(700);
  const cases: [string, ReturnType<typeof syncEvent>, number][] = [
    [
      "an initial sync naming 700 workloads",
      event({ commits: commits(2_000), initialSync: true }, workloads),
      2,
    ],
    ["a sync with 1,500 resource errors", event({ commits: commits(1), errors: errors(1_500) }), 2],
    ["20 commits with 900 errors", event({ commits: commits(20), errors: errors(900) }), 40],
    [
      "an initial sync of 150,000 commits (~17 MB)",
      event({ commits: commits(150_000), initialSync: true }, workloads.slice(0, 50)),
      2,
    ],
  ];
  for (const [name, body, statuses] of cases) {
    await t.step(name, async () => {
      await using dir = await tempDir();
      using r = await route(dir.path);
      const res = await r.post(body);
      const answer = await res.json();
      assert.equal(res.status, 200, JSON.stringify(answer));
      assert.equal(answer.statuses, statuses);
      const stored = await r.stored();
      assert.equal(stored.length, statuses);
      assert.ok(stored.some((e) => e.sha === HEAD && e.action === "sync"));
      for (const e of stored) {
        assert.ok(e.status.description.length <= MAX_DESCRIPTION_LENGTH, e.status.description);
      }
    });
  }
});

Deno.test("a store that refuses the event's commit gets fluxd a 503 saying why, never a silent 2xx", async () => {
  await using dir = await tempDir();
  using real = await Deno.openKv(`${dir.path}/kv.sqlite`);
  // A full disk: every commit is refused.
  const kv = refusingCommits(real, () => true, "database or disk is full");
  const outbox = new Outbox({ kv, notifier: parked, instance: "dev", clock: new ManualClock() });
  const accept = createIntake({ kv, outbox });
  const handler = createHandler({
    maxEventBytes: 1 << 20,
    onEvent: async (e) => ({ statuses: e.outcome ? await accept(e.outcome) : 0 }),
    onSocket: () => {},
    notReadyReasons: () => [],
  });
  const res = await handler(
    new Request("http://x/v6/events", {
      method: "POST",
      body: JSON.stringify(event({ commits: commits(1) })),
    }),
  );
  assert.equal(res.status, 503);
  assert.equal(res.headers.get("retry-after"), "10");
  assert.match((await res.json()).error, /^Cannot store the event now: database or disk is full/);
});
