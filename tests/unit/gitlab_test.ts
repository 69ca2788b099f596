import assert from "node:assert/strict";
import { parseGitUrl } from "../../src/notifiers/git_url.ts";
import { createGitLabNotifier, fromGitLabState, TO_GITLAB } from "../../src/notifiers/gitlab.ts";
import { ProviderError, STATES } from "../../src/notifiers/notifier.ts";
import { startFakeGitLab } from "../../dev/fakes/gitlab.ts";

const SHA = "2f0ab35ccef1a06269ce618a6f1b01e7332b69b9";
const NAME = "flux-status/dev/workload";

Deno.test("GitLab state table maps both ways", async (t) => {
  for (const state of STATES) {
    await t.step(state, () => assert.equal(fromGitLabState(TO_GITLAB[state]), state));
  }
  assert.equal(fromGitLabState("running"), "pending");
  assert.equal(fromGitLabState("created"), "pending");
  assert.equal(fromGitLabState("skipped"), "canceled");
});

Deno.test("GitLab notifier addresses nested groups by URL-encoded path and reads back", async () => {
  await using gl = await startFakeGitLab({ projects: ["group/sub/app"] });
  const notifier = createGitLabNotifier({
    remote: parseGitUrl("git@gitlab.com:group/sub/app.git"),
    token: "test-token",
    apiUrl: gl.url,
  });
  await notifier.setStatus(SHA, {
    name: NAME,
    state: "pending",
    description: "Rolling out 2 workloads",
  });
  await notifier.setStatus(SHA, {
    name: NAME,
    state: "succeeded",
    description: "Rolled out 2 workloads",
  });
  assert.deepEqual(gl.received.filter((r) => r.method === "POST").map((r) => r.path), [
    `/api/v4/projects/group%2Fsub%2Fapp/statuses/${SHA}`,
    `/api/v4/projects/group%2Fsub%2Fapp/statuses/${SHA}`,
  ]);
  const read = await notifier.getStatus(SHA, NAME);
  assert.equal(read?.state, "succeeded");
  assert.equal(read?.description, "Rolled out 2 workloads");
  assert.deepEqual(gl.violations, []);
});

Deno.test("GitLab notifier treats pending on a pending job as delivered, not a retry loop", async () => {
  await using gl = await startFakeGitLab();
  const notifier = createGitLabNotifier({
    remote: parseGitUrl("https://gitlab.com/acme/app"),
    token: "test-token",
    apiUrl: gl.url,
  });
  await notifier.setStatus(SHA, {
    name: NAME,
    state: "pending",
    description: "Rolling out 2 workloads",
  });
  await notifier.setStatus(SHA, {
    name: NAME,
    state: "pending",
    description: "Rolling out 3 workloads",
  });
  assert.equal(gl.received.filter((r) => r.method === "POST" && r.status === 400).length, 1);
  // The final state still lands on the open job.
  await notifier.setStatus(SHA, { name: NAME, state: "failed", description: "Rollout failed" });
  assert.deepEqual(gl.jobsOf(SHA).map((j) => j.status), ["failed"]);
  // And a later state after a finished job opens a new job.
  await notifier.setStatus(SHA, { name: NAME, state: "succeeded", description: "Rolled out" });
  assert.deepEqual(gl.jobsOf(SHA).map((j) => j.status), ["failed", "success"]);
  assert.equal((await notifier.getStatus(SHA, NAME))?.state, "succeeded");
});

Deno.test("GitLab notifier reads back through every page and matches the exact name", async () => {
  await using gl = await startFakeGitLab();
  const notifier = createGitLabNotifier({
    remote: parseGitUrl("https://gitlab.com/acme/app"),
    token: "test-token",
    apiUrl: gl.url,
  });
  for (let i = 0; i < 25; i++) {
    await notifier.setStatus(SHA, { name: `other/${i}`, state: "succeeded", description: "x" });
  }
  await notifier.setStatus(SHA, {
    name: NAME,
    state: "canceled",
    description: "Superseded by 3f2a9c1",
  });
  await notifier.setStatus(SHA, {
    name: `${NAME}-extra`,
    state: "failed",
    description: "not ours",
  });
  const read = await notifier.getStatus(SHA, NAME);
  assert.deepEqual({ state: read?.state, description: read?.description }, {
    state: "canceled",
    description: "Superseded by 3f2a9c1",
  });
  assert.deepEqual(gl.violations, []);
});

Deno.test("GitLab notifier reports 429 as a rate limit with its Retry-After, 401 as a token refusal, 404 as rejected", async () => {
  await using gl = await startFakeGitLab();
  const notifier = createGitLabNotifier({
    remote: parseGitUrl("https://gitlab.com/acme/app"),
    token: "test-token",
    apiUrl: gl.url,
  });
  const status = { name: NAME, state: "succeeded" as const, description: "ok" };
  gl.faults.push({
    status: 429,
    body: "Retry later\n",
    headers: { "retry-after": "17", "ratelimit-remaining": "0" },
  });
  await assert.rejects(notifier.setStatus(SHA, status), (err: Error) => {
    assert.ok(err instanceof ProviderError);
    assert.equal(err.status, 429);
    assert.equal(err.kind, "rateLimited");
    assert.equal(err.retryAfterMs, 17_000);
    assert.match(err.message, /GitLab answered 429 Retry later/);
    return true;
  });
  gl.tokens.clear();
  await assert.rejects(
    notifier.setStatus(SHA, status),
    (err: ProviderError) => err.status === 401 && err.kind === "auth",
  );
  gl.tokens.add("test-token");
  const missing = createGitLabNotifier({
    remote: parseGitUrl("https://gitlab.com/acme/nope"),
    token: "test-token",
    apiUrl: gl.url,
  });
  await assert.rejects(missing.setStatus(SHA, status), (err: ProviderError) => {
    assert.equal(err.kind, "rejected");
    assert.match(err.message, /404 404 Project Not Found: check the project path/);
    return true;
  });
});
