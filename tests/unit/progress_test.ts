import assert from "node:assert/strict";
import { createProgress, HEARTBEAT_MS } from "../../src/cli/progress.ts";

/** The wait loop's timing: reads every `interval`, growing by half up to a minute. */
function simulate(live: boolean, minutes: number) {
  const lines: { at: number; text: string }[] = [];
  let now = 0;
  const progress = createProgress(live, (text) => lines.push({ at: now, text }));
  progress.change("flux-status/dev/workload", {
    name: "flux-status/dev/workload",
    state: "pending",
    description: "Rolling out",
  }, 0);
  const reads: number[] = [];
  for (let interval = 5000; now < minutes * 60_000;) {
    progress.wait(interval, now);
    now += interval;
    reads.push(now);
    interval = Math.min(60_000, Math.round(interval * 1.5));
  }
  return { lines, reads };
}

Deno.test("off a terminal, a minute never passes without a line while a status stays pending", () => {
  const { lines, reads } = simulate(false, 15);
  for (const read of reads) {
    const last = lines.filter((l) => l.at < read).at(-1)!;
    assert.ok(read - last.at <= HEARTBEAT_MS, `silent from ${last.at} to ${read} ms`);
  }
  assert.match(lines[0]!.text, /^0ms flux-status\/dev\/workload: pending \(Rolling out\)\n$/);
  assert.match(
    lines[1]!.text,
    /^\d+s still waiting: flux-status\/dev\/workload pending; next read in \d+s\n$/,
  );
  assert.ok(lines.length < 20, `${lines.length} lines in 15 minutes: not one per read`);
});

Deno.test("on a terminal, one live line is rewritten in place", () => {
  const { lines } = simulate(true, 2);
  assert.ok(lines.every((l) => l.text.startsWith("\r\x1b[Kwaiting ")));
});
