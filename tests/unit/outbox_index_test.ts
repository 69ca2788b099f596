import assert from "node:assert/strict";
import { OutboxIndex, type Queued } from "../../src/outbox/order.ts";

const item = (id: string, versionstamp: string, over: Partial<Queued> = {}): Queued => ({
  id,
  sha: id,
  subject: "sync",
  rank: [1, 100, 0],
  notBefore: 0,
  enqueuedAt: 0,
  versionstamp,
  ...over,
});
const ids = (index: OutboxIndex) => index.front(100, () => false).map((q) => q.id);

Deno.test("OutboxIndex keeps the newest version of a status, whatever order updates arrive in", () => {
  const index = new OutboxIndex();
  index.put(item("a", "0002", { rank: [0, 1, 0] }));
  index.put(item("a", "0001", { rank: [1, 9, 0] })); // a start-up read older than a commit
  assert.deepEqual(index.front(1, () => false)[0]!.rank, [0, 1, 0]);
  index.remove("a", "0001"); // the delete of an older version
  assert.equal(index.size, 1);
  index.remove("a", "0003");
  assert.equal(index.size, 0);
});

Deno.test("OutboxIndex orders ready statuses by rank and moves waiting ones back when due", () => {
  const index = new OutboxIndex();
  index.put(item("older", "01", { rank: [1, 50, 0] }));
  index.put(item("head", "02", { rank: [0, 60, 0] }));
  index.put(item("pending", "03", { rank: [1, 50, 1] }));
  index.put(item("backoff", "04", { rank: [0, 10, 0], notBefore: 1_000 }));
  assert.deepEqual(ids(index), ["head", "older", "pending"]);
  assert.deepEqual(index.front(2, (id) => id === "head").map((q) => q.id), ["older", "pending"]);
  assert.equal(index.promote(999), 1_000);
  assert.equal(index.promote(1_000), Infinity);
  assert.deepEqual(ids(index), ["backoff", "head", "older", "pending"]);
  index.put(item("older", "05", { rank: [1, 50, 0], notBefore: 2_000 })); // a retry's backoff
  assert.deepEqual(ids(index), ["backoff", "head", "pending"]);
  assert.equal(index.size, 4);
});
