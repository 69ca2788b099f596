/**
 * Bad input never gets a 5xx: mutated fluxd events (fields dropped, retyped, truncated, bytes
 * flipped) are answered 2xx or 4xx, and every 2xx was a valid event the handler passed on.
 */
import assert from "node:assert/strict";
import type { ParsedEvent } from "../../src/sources/flux/events.ts";
import { createHandler } from "../../src/server/server.ts";
import { fixture } from "../_helpers.ts";
import { fuzzedBody, prng } from "../../dev/fakes/fuzz.ts";

Deno.test("the event route answers 2xx or 4xx, never 5xx, to 2000 mutated fluxd events", async () => {
  const names = [
    "event-sync.json",
    "event-sync-errors.json",
    "event-sync-initial.json",
    "event-release.json",
    "event-commit.json",
  ];
  const fixtures = await Promise.all(names.map((n) => fixture(n)));
  const accepted: ParsedEvent[] = [];
  const handler = createHandler({
    maxEventBytes: 64 * 1024,
    onEvent: (e) => {
      accepted.push(e);
      return Promise.resolve({ statuses: e.outcome?.commits.length ?? 0 });
    },
    onSocket: () => {},
    notReadyReasons: () => [],
  });
  const random = prng(20261125);
  const counts: Record<number, number> = {};
  for (let i = 0; i < 2000; i++) {
    const bytes = fuzzedBody(fixtures[i % fixtures.length], random);
    const body = new TextDecoder().decode(bytes);
    const res = await handler(new Request("http://x/v6/events", { method: "POST", body: bytes }));
    counts[res.status] = (counts[res.status] ?? 0) + 1;
    assert.ok(res.status < 500, `case ${i} got ${res.status}: ${body.slice(0, 200)}`);
    const text = await res.text();
    JSON.parse(text); // every answer's body is JSON, as fluxd needs for a 2xx
    if (res.status === 200) {
      const last = accepted.at(-1)!;
      if (last.type === "sync") {
        assert.ok(last.outcome!.commits.every((c) => /^[0-9a-f]{40}/.test(c)));
      }
    }
  }
  assert.ok((counts[200] ?? 0) > 100 && (counts[400] ?? 0) > 100, JSON.stringify(counts));
});
