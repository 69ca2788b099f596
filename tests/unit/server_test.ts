import assert from "node:assert/strict";
import type { ParsedEvent } from "../../src/sources/flux/events.ts";
import { createHandler } from "../../src/server/server.ts";

function handler(connectToken?: string) {
  const events: ParsedEvent[] = [];
  const h = createHandler({
    ...(connectToken ? { connectToken } : {}),
    maxEventBytes: 2048,
    onEvent: (e) => {
      events.push(e);
      return Promise.resolve({ statuses: e.outcome?.commits.length ?? 0 });
    },
    onSocket: () => {},
    notReadyReasons: () => ["fluxd is not connected"],
  });
  return { h, events };
}

const sync = JSON.stringify({
  id: 0,
  serviceIDs: [],
  type: "sync",
  startedAt: "2021-03-22T20:31:12Z",
  endedAt: "2021-03-22T20:31:12Z",
  logLevel: "info",
  metadata: { commits: [{ revision: "2f0ab35ccef1a06269ce618a6f1b01e7332b69b9", message: "x" }] },
});

Deno.test("createHandler() takes events without a Content-Type and answers JSON", async () => {
  const { h, events } = handler();
  const res = await h(
    new Request("http://x/v6/events", { method: "POST", body: new TextEncoder().encode(sync) }),
  );
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { accepted: "sync", statuses: 1 });
  assert.equal(events.length, 1);
});

Deno.test("createHandler() answers /healthz 200 and /readyz 503 with the reason", async () => {
  const { h } = handler();
  const health = await h(new Request("http://x/healthz"));
  assert.equal(health.status, 200);
  await health.body?.cancel();
  const ready = await h(new Request("http://x/readyz"));
  assert.equal(ready.status, 503);
  assert.deepEqual(await ready.json(), {
    status: "not ready",
    reason: "fluxd is not connected",
    reasons: ["fluxd is not connected"],
  });
});

Deno.test("createHandler() never answers 410 on a daemon path", async (t) => {
  const { h } = handler();
  for (const path of ["/v1/daemon", "/v5/daemon", "/v6/daemon", "/v11/daemon", "/v12/daemon"]) {
    await t.step(path, async () => {
      const res = await h(new Request(`http://x${path}`));
      assert.notEqual(res.status, 410);
      assert.equal(res.status, 400);
      await res.body?.cancel();
    });
  }
});

Deno.test("createHandler() refuses a wrong or missing token with 401 on events", async () => {
  const { h, events } = handler("tok");
  for (
    const auth of [undefined, "Scope-Probe token=nope", "Bearer tok", "Scope-Probe token=tok2"]
  ) {
    const headers = auth ? { authorization: auth } : undefined;
    const res = await h(new Request("http://x/v6/events", { method: "POST", body: sync, headers }));
    assert.equal(res.status, 401, auth);
    await res.body?.cancel();
  }
  const ok = await h(
    new Request("http://x/v6/events", {
      method: "POST",
      body: sync,
      headers: { authorization: "Scope-Probe token=tok" },
    }),
  );
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
  assert.equal(events.length, 1);
});

Deno.test("createHandler() answers 405 to a GET on events and 404 elsewhere", async () => {
  const { h } = handler();
  const get = await h(new Request("http://x/v6/events"));
  assert.equal(get.status, 405);
  assert.equal(get.headers.get("allow"), "POST");
  await get.body?.cancel();
  const other = await h(new Request("http://x/nope"));
  assert.equal(other.status, 404);
  await other.body?.cancel();
});

Deno.test("createHandler() answers 413 to a body over the limit, streamed or declared", async () => {
  const { h } = handler();
  const big = "x".repeat(5000);
  const res = await h(new Request("http://x/v6/events", { method: "POST", body: big }));
  assert.equal(res.status, 413);
  assert.match((await res.json()).error, /over 2048 bytes/);
  const stream = new ReadableStream({
    start(c) {
      c.enqueue(new TextEncoder().encode(big));
      c.close();
    },
  });
  const streamed = await h(new Request("http://x/v6/events", { method: "POST", body: stream }));
  assert.equal(streamed.status, 413);
  await streamed.body?.cancel();
});
