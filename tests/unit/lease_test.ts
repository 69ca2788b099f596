/**
 * Leader election against the fake apiserver's Lease (real resourceVersions, real 409s), with
 * each candidate on a clock of its own: expiry is judged by the follower's clock since it last saw
 * the Lease change, never by the Lease's timestamps.
 */
import assert from "node:assert/strict";
import { KubeApi } from "../../src/sources/kubernetes/api.ts";
import { LeaderElector, leaseTiming } from "../../src/sources/kubernetes/lease.ts";
import { startKubeApiserver } from "../../dev/fakes/kube_apiserver.ts";
import { ManualClock } from "../../dev/fakes/clock.ts";

function setup() {
  const fake = startKubeApiserver();
  const api = new KubeApi({
    server: fake.url,
    caCerts: [fake.ca],
    token: () => Promise.resolve(fake.token),
    source: "test",
    files: [],
  });
  const changes: string[] = [];
  const candidate = (identity: string, clock = new ManualClock()) => ({
    clock,
    elector: new LeaderElector({
      api,
      namespace: "flux-system",
      name: "flux-status-dev",
      identity,
      clock,
      onChange: (leading) => changes.push(`${identity} ${leading ? "leads" : "follows"}`),
    }),
  });
  return {
    fake,
    changes,
    candidate,
    async [Symbol.asyncDispose]() {
      api.close();
      await fake.close();
    },
  };
}

Deno.test("leaseTiming: client-go's 15 s / 10 s / 2 s, in proportion", () => {
  assert.deepEqual(leaseTiming(15_000), {
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
  });
  assert.deepEqual(leaseTiming(30_000).retryPeriodMs, 4_000);
});

Deno.test("the first candidate creates the Lease; another takes it only after a lease duration of silence by its own clock", async () => {
  await using t = setup();
  const a = t.candidate("pod-a"), b = t.candidate("pod-b");
  assert.equal(await a.elector.tryAcquireOrRenew(), true);
  const created = t.fake.lease("flux-system", "flux-status-dev")!;
  assert.equal(created.spec.holderIdentity, "pod-a");
  assert.equal(created.spec.leaseTransitions, 0);
  assert.match(created.spec.renewTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, "MicroTime");
  assert.equal(await b.elector.tryAcquireOrRenew(), false);
  assert.equal(b.elector.holder, "pod-a");
  // pod-a renews: pod-b sees the Lease change and starts its count again.
  b.clock.advance(10_000);
  a.clock.advance(2_000);
  assert.equal(await a.elector.tryAcquireOrRenew(), true);
  assert.equal(await b.elector.tryAcquireOrRenew(), false);
  b.clock.advance(14_999);
  assert.equal(await b.elector.tryAcquireOrRenew(), false, "not yet expired by pod-b's clock");
  b.clock.advance(1);
  assert.equal(await b.elector.tryAcquireOrRenew(), true);
  const taken = t.fake.lease("flux-system", "flux-status-dev")!;
  assert.equal(taken.spec.holderIdentity, "pod-b");
  assert.equal(taken.spec.leaseTransitions, 1);
  // pod-a comes back: the Lease changed hands, it follows.
  assert.equal(await a.elector.tryAcquireOrRenew(), false);
  assert.deepEqual(t.changes, ["pod-a leads", "pod-b leads", "pod-a follows"]);
});

Deno.test("two candidates racing for an expired Lease: the apiserver's 409 leaves one leader", async () => {
  await using t = setup();
  const a = t.candidate("pod-a"), b = t.candidate("pod-b"), c = t.candidate("pod-c");
  assert.equal(await a.elector.tryAcquireOrRenew(), true);
  await b.elector.tryAcquireOrRenew();
  await c.elector.tryAcquireOrRenew();
  b.clock.advance(15_000);
  c.clock.advance(15_000);
  const won = await Promise.all([b.elector.tryAcquireOrRenew(), c.elector.tryAcquireOrRenew()]);
  assert.equal(won.filter(Boolean).length, 1, `${won}`);
  assert.ok(t.fake.requests.some((r) => r.method === "PUT" && r.status === 409), "a real 409");
  assert.equal(b.elector.problem, undefined, "a lost race is no failure");
});

Deno.test("a leader that stops releases the Lease, and the next candidate takes over at once", async () => {
  await using t = setup();
  const a = t.candidate("pod-a"), b = t.candidate("pod-b");
  const stop = new AbortController();
  const running = a.elector.run(stop.signal);
  await t.fake.waitFor(
    () => t.fake.lease("flux-system", "flux-status-dev") !== undefined,
    "the Lease",
  );
  assert.equal(await b.elector.tryAcquireOrRenew(), false);
  stop.abort();
  await running;
  const released = t.fake.lease("flux-system", "flux-status-dev")!;
  assert.equal(released.spec.holderIdentity, "");
  assert.equal(released.spec.leaseDurationSeconds, 1);
  assert.equal(await b.elector.tryAcquireOrRenew(), true, "no wait for an empty holder");
});

Deno.test("a refused renewal is reported; the leader steps down after the renew deadline", async () => {
  await using t = setup();
  const a = t.candidate("pod-a");
  const stop = new AbortController();
  const running = a.elector.run(stop.signal);
  await until(() => a.elector.isLeader && a.clock.sleeping > 0);
  t.fake.forbid("update", "leases");
  // Renewals every 2 s are refused; past 10 s without one, pod-a follows.
  let refused = 0;
  while (a.elector.isLeader && refused < 8) {
    a.clock.advance(2_000);
    await until(() =>
      t.fake.requests.filter((r) => r.method === "PUT" && r.status === 403).length > refused &&
      a.clock.sleeping > 0
    );
    refused++;
  }
  assert.equal(a.elector.isLeader, false);
  assert.equal(refused, 6, "steps down at the renewal after the 10 s deadline");
  assert.match(a.elector.problem?.message ?? "", /cannot update resource "leases"/);
  assert.deepEqual(t.changes, ["pod-a leads", "pod-a follows"]);
  stop.abort();
  await running;
});

/** Lets the candidate's calls to the fake run until `predicate` holds (bounded). */
async function until(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 2_000 && !predicate(); i++) await new Promise((r) => setTimeout(r, 1));
  assert.ok(predicate(), "condition not reached");
}
