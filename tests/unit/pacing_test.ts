import assert from "node:assert/strict";
import { createPacer } from "../../src/notifiers/_pacing.ts";
import { ManualClock } from "../../dev/fakes/clock.ts";

Deno.test("createPacer() runs writes one at a time, each at least the spacing after the last began", async () => {
  const clock = new ManualClock();
  const paced = createPacer(1000, clock);
  const started: number[] = [];
  let release = () => {};
  const first = paced(() => {
    started.push(clock.now());
    return new Promise<void>((r) => (release = r));
  });
  const second = paced(() => {
    started.push(clock.now());
    return Promise.resolve();
  });
  await Promise.resolve();
  clock.advance(2000); // time passes while the first write is still running…
  assert.equal(started.length, 1, "…but the second waits for it to finish");
  release();
  await first;
  await second;
  assert.deepEqual(started.map((t) => t - started[0]!), [0, 2000]);
  const third = paced(() => {
    started.push(clock.now());
    return Promise.resolve();
  });
  await clock.whenSleeping();
  clock.advance(1000);
  await third;
  assert.equal(started[2]! - started[1]!, 1000, "a second after the one before began");
});

Deno.test("createPacer() never runs a write whose caller gave up while it waited", async () => {
  const clock = new ManualClock();
  const paced = createPacer(1000, clock);
  let writes = 0;
  await paced(() => Promise.resolve(writes++));
  const controller = new AbortController();
  const waiting = paced(() => Promise.resolve(writes++), controller.signal);
  await clock.whenSleeping();
  controller.abort();
  await assert.rejects(waiting);
  clock.advance(1000);
  await paced(() => Promise.resolve(writes++));
  assert.equal(writes, 2);
});
