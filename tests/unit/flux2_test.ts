import assert from "node:assert/strict";
import { commitOf, flux2Outcome, parseFlux2Event } from "../../src/sources/flux2/events.ts";
import { objectId } from "../../src/sources/flux2/object_id.ts";
import { isValidSignature } from "../../src/sources/flux2/signature.ts";
import { Flux2Intake } from "../../src/intake/flux2_intake.ts";
import type { Notifier } from "../../src/notifiers/notifier.ts";
import { Outbox, type OutboxEntry } from "../../src/outbox/outbox.ts";
import { createHandler } from "../../src/server/server.ts";
import { ManualClock } from "../../dev/fakes/clock.ts";
import { tempDir } from "../_helpers.ts";
import { outboxKeys } from "../../src/runtime/store_keys.ts";

const SHA = "3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39";
const BAD = "9b1e4d7a2c5f8e0b3d6a9c2f5e8b1d4a7c0f3e62";
const KEY = new TextEncoder().encode("test-hmac-key");

/** A fixture's exact bytes. */
function fixture(name: string): Uint8Array<ArrayBuffer> {
  return Deno.readFileSync(new URL(`../../dev/fixtures/flux2/${name}`, import.meta.url));
}

const FIXTURES = [
  "gitrepository-artifact-stored.json",
  "helmrelease-upgrade-failed.json",
  "helmrelease-upgrade-succeeded.json",
  "kustomization-applied.json",
  "kustomization-dependency-not-ready.json",
  "kustomization-healthcheck-failed.json",
  "kustomization-progressing.json",
  "kustomization-reconciliation-failed.json",
];

/** HMAC-SHA256 of a body, as notification-controller signs it (computed here, not by the product). */
async function sign(body: Uint8Array<ArrayBuffer>, key = KEY): Promise<string> {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", k, body));
  return "sha256=" + [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("commitOf() reads the commit from every revision form Flux has used", async (t) => {
  const cases: [string, Record<string, string>, string | undefined][] = [
    ["branch", { revision: `main@sha1:${SHA}` }, SHA],
    ["branch with a slash", { revision: `feature/x@sha1:${SHA}` }, SHA],
    ["ref name", { revision: `refs/pull/42/head@sha1:${SHA}` }, SHA],
    ["commit only", { revision: `sha1:${SHA}` }, SHA],
    ["legacy branch", { revision: `main/${SHA}` }, SHA],
    ["legacy HEAD", { revision: `HEAD/${SHA}` }, SHA],
    ["bare sha", { revision: SHA }, SHA],
    ["OCI digest", { revision: `latest@sha256:${"a".repeat(64)}` }, undefined],
    ["chart version", { revision: "6.7.1" }, undefined],
    ["chart from git, short sha", { revision: "1.4.0+3f2a9c1d8e7b" }, undefined],
    ["commit key wins", { commit: BAD, revision: `main@sha1:${SHA}` }, BAD],
    ["originRevision before revision", { originRevision: `main@sha1:${BAD}`, revision: "x" }, BAD],
    ["nothing", {}, undefined],
  ];
  for (const [name, metadata, expect] of cases) {
    await t.step(name, () => assert.equal(commitOf(metadata), expect));
  }
});

Deno.test("isValidSignature() checks nc's X-Signature over the raw body", async () => {
  const body = fixture("kustomization-applied.json");
  const documented = "sha256=f1fc1e0a82ca2f19c88f6cb82ed5b20a3c6a914af9578ae6801fae7b1417c2b7";
  assert.equal(await isValidSignature(KEY, body, documented), true);
  assert.equal(
    await isValidSignature(KEY, body, documented.toUpperCase().replace("SHA", "sha")),
    true,
  );
  const tampered = body.slice();
  tampered[tampered.length - 2] = 0x20;
  assert.equal(await isValidSignature(KEY, tampered, documented), false);
  const newline = new TextEncoder().encode("test-hmac-key\n");
  assert.equal(await isValidSignature(newline, body, documented), false);
  assert.equal(await isValidSignature(KEY, body, null), false);
  assert.equal(await isValidSignature(KEY, body, "md5=abc"), false);
});

Deno.test("flux2Outcome() turns each fixture into the statuses its reason means", async (t) => {
  const cases: [string, string | undefined, string[]][] = [
    ["gitrepository-artifact-stored.json", SHA, []],
    ["helmrelease-upgrade-failed.json", undefined, ["sync failed", "workload failed"]],
    ["helmrelease-upgrade-succeeded.json", undefined, ["sync succeeded", "workload succeeded"]],
    ["kustomization-applied.json", SHA, ["sync succeeded", "workload succeeded"]],
    ["kustomization-dependency-not-ready.json", BAD, ["sync pending", "workload pending"]],
    ["kustomization-healthcheck-failed.json", BAD, ["sync succeeded", "workload failed"]],
    ["kustomization-progressing.json", SHA, ["sync succeeded", "workload pending"]],
    ["kustomization-reconciliation-failed.json", BAD, ["sync failed", "workload failed"]],
  ];
  for (const [name, sha, states] of cases) {
    await t.step(name, () => {
      const outcome = flux2Outcome(parseFlux2Event(new TextDecoder().decode(fixture(name))));
      assert.equal(outcome.sha, sha);
      assert.deepEqual(outcome.states.map((s) => `${s.action} ${s.state}`), states);
    });
  }
});

const parked: Notifier = {
  provider: "none",
  setStatus: () => new Promise(() => {}),
  getStatus: () => Promise.resolve(undefined),
  listStatuses: () => Promise.resolve([]),
};

async function route(dir: string, hmac?: Uint8Array) {
  const kv = await Deno.openKv(`${dir}/kv.sqlite`);
  const clock = new ManualClock(Date.UTC(2026, 7, 10, 9));
  const outbox = new Outbox({ kv, notifier: parked, instance: "dev", clock });
  const intake = new Flux2Intake({ kv, outbox, clock, pendingTimeoutMs: 600_000 });
  const handler = createHandler({
    maxEventBytes: 1 << 20,
    onEvent: () => Promise.resolve({ statuses: 0 }),
    onFlux2Event: async (o) => ({ statuses: await intake.accept(o) }),
    ...(hmac ? { flux2HmacKey: hmac } : {}),
    onSocket: () => {},
    notReadyReasons: () => [],
  });
  return {
    kv,
    clock,
    intake,
    async post(body: Uint8Array<ArrayBuffer>, headers: Record<string, string> = {}) {
      const res = await handler(
        new Request("http://x/flux2/events", {
          method: "POST",
          body,
          headers: { "content-type": "application/json", "gotk-component": "x", ...headers },
        }),
      );
      return { status: res.status, body: await res.json() };
    },
    /** What the outbox holds, as `sha7 object/action state`. */
    async stored(): Promise<string[]> {
      const out: string[] = [];
      for await (const e of kv.list<OutboxEntry>({ prefix: outboxKeys.entries })) {
        const v = e.value;
        out.push(`${v.sha.slice(0, 7)} ${v.object}/${v.action} ${v.status.state}`);
      }
      return out.sort();
    },
    [Symbol.dispose]: () => kv.close(),
  };
}

Deno.test("/flux2/events takes every fixture, signed and unsigned, and stores before answering", async (t) => {
  for (const signed of [false, true]) {
    for (const name of FIXTURES) {
      await t.step(`${signed ? "signed" : "unsigned"} ${name}`, async () => {
        await using dir = await tempDir();
        using r = await route(dir.path, signed ? KEY : undefined);
        const body = fixture(name);
        const res = await r.post(body, signed ? { "x-signature": await sign(body) } : {});
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const expected = flux2Outcome(parseFlux2Event(new TextDecoder().decode(body)));
        const count = expected.sha ? expected.states.length : 0;
        assert.equal(res.body.statuses, count);
        assert.equal((await r.stored()).length, count);
      });
    }
  }
});

Deno.test("/flux2/events refuses a missing or wrong signature with 401 and stores nothing", async () => {
  await using dir = await tempDir();
  using r = await route(dir.path, KEY);
  const body = fixture("kustomization-applied.json");
  assert.equal((await r.post(body)).status, 401);
  const wrong = await sign(body, new TextEncoder().encode("test-hmac-key\n"));
  const res = await r.post(body, { "x-signature": wrong });
  assert.equal(res.status, 401);
  assert.match(res.body.error, /X-Signature/);
  const tampered = new TextEncoder().encode(
    new TextDecoder().decode(body).replace("info", "error"),
  );
  assert.equal((await r.post(tampered, { "x-signature": await sign(body) })).status, 401);
  assert.deepEqual(await r.stored(), []);
  const bad = await r.post(new TextEncoder().encode("{"), {
    "x-signature": await sign(new TextEncoder().encode("{")),
  });
  assert.equal(bad.status, 400);
});

Deno.test("Flux v2 events in any order: older ones change nothing, a retry reopens, a new commit supersedes", async () => {
  await using dir = await tempDir();
  using r = await route(dir.path);
  const event = (name: string, patch: Record<string, unknown> = {}) =>
    new TextEncoder().encode(
      JSON.stringify({ ...JSON.parse(new TextDecoder().decode(fixture(name))), ...patch }),
    );
  // Applied (09:14:56) arrives before the Progressing it followed (09:14:09): stays succeeded.
  await r.post(event("kustomization-applied.json"));
  assert.equal((await r.post(event("kustomization-progressing.json"))).body.statuses, 0);
  // The same event again (nc re-sends): nothing.
  assert.equal((await r.post(event("kustomization-applied.json"))).body.statuses, 0);
  assert.deepEqual(await r.stored(), [
    "3f2a9c1 kustomization/flux-system/apps/sync succeeded",
    "3f2a9c1 kustomization/flux-system/apps/workload succeeded",
  ]);
  // The bad commit: applied, then its health check fails…
  const progressing = {
    timestamp: "2026-08-10T09:56:00Z",
    metadata: { revision: `main@sha1:${BAD}` },
  };
  await r.post(event("kustomization-progressing.json", progressing));
  await r.post(event("kustomization-reconciliation-failed.json"));
  // …and kustomize-controller retries: a later Progressing reopens the commit.
  const retry = { timestamp: "2026-08-10T10:25:00Z", metadata: { revision: `main@sha1:${BAD}` } };
  assert.equal((await r.post(event("kustomization-progressing.json", retry))).body.statuses, 2);
  const stored = await r.stored();
  assert.ok(
    stored.includes("9b1e4d7 kustomization/flux-system/apps/workload pending"),
    stored.join(),
  );
  // A newer commit supersedes what the bad one still had pending.
  const newer = "1".repeat(40);
  await r.post(
    event("kustomization-progressing.json", {
      timestamp: "2026-08-10T10:30:00Z",
      metadata: { revision: `main@sha1:${newer}` },
    }),
  );
  assert.ok(
    (await r.stored()).includes("9b1e4d7 kustomization/flux-system/apps/workload canceled"),
  );
});

Deno.test("Flux v2: a pending status no event settles fails at the pending timeout", async () => {
  await using dir = await tempDir();
  using r = await route(dir.path);
  await r.post(fixture("kustomization-progressing.json"));
  const controller = new AbortController();
  const running = r.intake.run(controller.signal);
  await r.clock.whenSleeping();
  r.clock.advance(599_000);
  await r.clock.whenSleeping();
  assert.ok((await r.stored()).includes("3f2a9c1 kustomization/flux-system/apps/workload pending"));
  r.clock.advance(1_000);
  await r.clock.whenSleeping();
  const entry = (await r.kv.get<OutboxEntry>(
    outboxKeys.entry(SHA, "kustomization/flux-system/apps/workload"),
  )).value;
  assert.equal(entry?.status.state, "failed");
  assert.equal(entry?.status.description, "No verdict from Flux within 10m");
  controller.abort();
  await running;
});

Deno.test("objectId() keeps status names within 255 characters for the longest Kubernetes names", () => {
  assert.equal(objectId("HelmRelease", "apps", "web"), "helmrelease/apps/web");
  const long = objectId("Kustomization", "n".repeat(63), "x".repeat(253));
  assert.equal(long.length, 200);
  assert.match(long, /^kustomization\/n{63}\/x+~[0-9a-f]{8}$/);
  assert.notEqual(long, objectId("Kustomization", "n".repeat(63), "x".repeat(252) + "y"));
  assert.equal(long, objectId("Kustomization", "n".repeat(63), "x".repeat(253)));
  assert.ok(`flux-status/production-eu-west-1/${long}/workload`.length <= 255);
});

Deno.test("/flux2/events takes a body up to notification-controller's 3 MiB cap, signed", async () => {
  await using dir = await tempDir();
  using r = await route(dir.path, KEY);
  const event = JSON.parse(
    new TextDecoder().decode(fixture("kustomization-reconciliation-failed.json")),
  );
  event.message = "Helm logs: " + "x".repeat(3 * 1024 * 1024 - 1024);
  const body = new TextEncoder().encode(JSON.stringify(event));
  const res = await r.post(body, { "x-signature": await sign(body) });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.statuses, 2);
  for await (const e of r.kv.list<OutboxEntry>({ prefix: outboxKeys.entries })) {
    assert.ok(e.value.status.description.length <= 400);
  }
});
