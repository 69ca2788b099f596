import assert from "node:assert/strict";
import {
  EventError,
  MAX_COMMITS_PER_SYNC,
  parseEvent,
  syncChanges,
} from "../../src/sources/flux/events.ts";
import { fixture } from "../_helpers.ts";

const sha = (i: number) => i.toString(16).padStart(40, "a");

Deno.test("parseEvent() turns fluxd's sync fixture into one change per commit, head first", async () => {
  const parsed = parseEvent(JSON.stringify(await fixture("event-sync.json")));
  assert.equal(parsed.type, "sync");
  assert.deepEqual(syncChanges(parsed.outcome!), [
    {
      sha: "2f0ab35ccef1a06269ce618a6f1b01e7332b69b9",
      action: "sync",
      state: "succeeded",
      description: "Synced 2f0ab35 (2 commits)",
      isHead: true,
    },
    {
      sha: "1d9fd104169fb875fa75a6b09b3a1ebc9aec6dd4",
      action: "sync",
      state: "succeeded",
      description: "Synced 2f0ab35 (2 commits)",
    },
  ]);
  assert.deepEqual(parsed.outcome!.resources, [
    "default:deployment/podinfo",
    "default:service/redis",
    "default:statefulset/redis",
  ]);
});

Deno.test("parseEvent() gives an initial sync's status to its head only", async () => {
  const parsed = parseEvent(JSON.stringify(await fixture("event-sync-initial.json")));
  assert.equal(parsed.outcome!.commits.length, 1);
  assert.equal(parsed.outcome!.commits[0], parsed.outcome!.head);
});

Deno.test("parseEvent() caps a large push at the newest commits", () => {
  const commits = Array.from({ length: 50 }, (_, i) => ({ revision: sha(i), message: "m" }));
  const parsed = parseEvent(JSON.stringify({ type: "sync", metadata: { commits } }));
  assert.equal(parsed.outcome!.commits.length, MAX_COMMITS_PER_SYNC);
  assert.equal(parsed.outcome!.commits[0], sha(0));
  assert.equal(parsed.outcome!.description, `Synced ${sha(0).slice(0, 7)} (50 commits)`);
});

Deno.test("parseEvent() falls back to legacy revisions when commits is absent", () => {
  const parsed = parseEvent(
    JSON.stringify({ type: "sync", metadata: { revisions: [sha(1), sha(2)] } }),
  );
  assert.deepEqual(parsed.outcome!.commits, [sha(1), sha(2)]);
});

Deno.test("parseEvent() accepts other event types without reading their metadata", async () => {
  for (const name of ["event-commit.json", "event-release.json", "event-autorelease.json"]) {
    const parsed = parseEvent(JSON.stringify(await fixture(name)));
    assert.equal(parsed.outcome, undefined, name);
  }
});

Deno.test("parseEvent() names the JSON path of each problem", () => {
  assert.throws(
    () =>
      parseEvent(
        JSON.stringify({
          type: "sync",
          metadata: { errors: [{ ID: 1 }], commits: [{ revision: sha(1) }] },
        }),
      ),
    (err: Error) => {
      assert.ok(err instanceof EventError);
      assert.equal(err.status, 400);
      assert.deepEqual(err.issues.map((i) => i.path).sort(), [
        "metadata.errors.0.Error",
        "metadata.errors.0.ID",
      ]);
      return true;
    },
  );
  assert.throws(() => parseEvent("[]"), /Invalid event: \(body\)/);
});
