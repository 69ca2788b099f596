import assert from "node:assert/strict";
import { parseGitUrl } from "../../src/notifiers/git_url.ts";
import {
  createAzureDevOpsNotifier,
  fromAzureState,
  TO_AZURE,
  toAzureContext,
} from "../../src/notifiers/azure_devops.ts";
import { ProviderError, STATES } from "../../src/notifiers/notifier.ts";
import { apiUrlFor } from "../../src/notifiers/providers.ts";
import { startFakeAzureDevOps } from "../../dev/fakes/azure_devops.ts";
import { startSilentServer } from "../../dev/fakes/silent_server.ts";

const SHA = "2f0ab35ccef1a06269ce618a6f1b01e7332b69b9";
const NAME = "flux-status/dev/sync";

Deno.test("Azure DevOps state table maps both ways", async (t) => {
  for (const state of STATES) {
    await t.step(state, () => assert.equal(fromAzureState(TO_AZURE[state]), state));
  }
  assert.equal(fromAzureState("succeeded"), "succeeded");
  assert.equal(fromAzureState("notApplicable"), "canceled");
  assert.equal(fromAzureState("error"), "failed");
  assert.equal(fromAzureState("notSet"), "pending");
});

Deno.test("Azure DevOps context is genre flux-status, name <instance>/<action>", () => {
  assert.deepEqual(toAzureContext("flux-status/prod/workload"), {
    genre: "flux-status",
    name: "prod/workload",
  });
});

Deno.test("apiUrlFor() finds Azure DevOps's organization or collection URL", () => {
  assert.equal(
    apiUrlFor(parseGitUrl("https://org.visualstudio.com/p/_git/r")),
    "https://dev.azure.com/org",
  );
  assert.equal(
    apiUrlFor(parseGitUrl("git@ssh.dev.azure.com:v3/org/p/r")),
    "https://dev.azure.com/org",
  );
  assert.equal(
    apiUrlFor(parseGitUrl("https://tfs.corp/tfs/DefaultCollection/p/_git/r")),
    "https://tfs.corp/tfs/DefaultCollection",
  );
});

Deno.test("Azure DevOps notifier creates and reads back statuses the service accepts", async () => {
  await using az = await startFakeAzureDevOps({ repos: ["acme/My Project/app"] });
  const notifier = createAzureDevOpsNotifier({
    remote: parseGitUrl("https://dev.azure.com/acme/My%20Project/_git/app"),
    token: "test-token",
    apiUrl: az.url,
  });
  await notifier.setStatus(SHA, { name: NAME, state: "pending", description: "Syncing" });
  await notifier.setStatus(SHA, {
    name: NAME,
    state: "canceled",
    description: "Superseded by 3f2a9c1",
  });
  assert.deepEqual(az.statusesOf(SHA).map((s) => [s.state, s.context]), [
    ["pending", { genre: "flux-status", name: "dev/sync" }],
    ["notApplicable", { genre: "flux-status", name: "dev/sync" }],
  ]);
  const read = await notifier.getStatus(SHA, NAME);
  assert.deepEqual({ state: read?.state, description: read?.description }, {
    state: "canceled",
    description: "Superseded by 3f2a9c1",
  });
  assert.equal(await notifier.getStatus(SHA, "flux-status/dev/workload"), undefined);
  assert.deepEqual(az.violations, []);
});

Deno.test("Azure DevOps notifier reports a bad PAT as an auth failure, never as success", async () => {
  await using az = await startFakeAzureDevOps({ tokens: [] });
  const notifier = createAzureDevOpsNotifier({
    remote: parseGitUrl("https://dev.azure.com/acme/app/_git/app"),
    token: "bad",
    apiUrl: az.url,
  });
  await assert.rejects(
    notifier.setStatus(SHA, { name: NAME, state: "succeeded", description: "ok" }),
    (err: Error) => {
      assert.ok(err instanceof ProviderError);
      assert.equal(err.status, 401);
      assert.equal(err.kind, "auth");
      assert.match(err.message, /Azure DevOps answered 401/);
      return true;
    },
  );
  assert.equal(az.statusesOf(SHA).length, 0);
});

Deno.test("Azure DevOps notifier reads a 203 sign-in page as an auth failure, on create and read", async () => {
  await using az = await startFakeAzureDevOps({ tokens: [], honorSuppress: false });
  const notifier = createAzureDevOpsNotifier({
    remote: parseGitUrl("https://dev.azure.com/acme/app/_git/app"),
    token: "expired",
    apiUrl: az.url,
  });
  for (
    const call of [
      () => notifier.setStatus(SHA, { name: NAME, state: "succeeded", description: "ok" }),
      () => notifier.getStatus(SHA, NAME),
    ]
  ) {
    await assert.rejects(call(), (err: Error) => {
      assert.ok(err instanceof ProviderError);
      assert.equal(err.status, 401);
      assert.equal(err.kind, "auth");
      assert.match(err.message, /answered 401 with a sign-in page instead of JSON: check the PAT/);
      return true;
    });
  }
  assert.ok(az.received.some((r) => r.status === 203));
});

Deno.test("Azure DevOps notifier carries Retry-After on 429 and drops a missing repository", async () => {
  await using az = await startFakeAzureDevOps();
  const notifier = createAzureDevOpsNotifier({
    remote: parseGitUrl("https://dev.azure.com/acme/app/_git/app"),
    token: "test-token",
    apiUrl: az.url,
  });
  const status = { name: NAME, state: "succeeded" as const, description: "ok" };
  await notifier.setStatus(SHA, status); // location lookup done
  az.faults.push({
    status: 429,
    headers: { "retry-after": "9" },
    body: { message: "Request was blocked due to exceeding usage of resource" },
  });
  await assert.rejects(notifier.setStatus(SHA, status), (err: ProviderError) => {
    assert.equal(err.status, 429);
    assert.equal(err.kind, "rateLimited");
    assert.equal(err.retryAfterMs, 9000);
    return true;
  });
  const missing = createAzureDevOpsNotifier({
    remote: parseGitUrl("https://dev.azure.com/acme/app/_git/nope"),
    token: "test-token",
    apiUrl: az.url,
  });
  await assert.rejects(missing.setStatus(SHA, status), (err: ProviderError) => {
    assert.equal(err.kind, "rejected");
    assert.match(
      err.message,
      /answered 404 the repository or project was not found: check the organization/,
    );
    return true;
  });
});

Deno.test("Azure DevOps notifier reads back past the first page of 1000 statuses", async () => {
  await using az = await startFakeAzureDevOps();
  const notifier = createAzureDevOpsNotifier({
    remote: parseGitUrl("https://dev.azure.com/acme/app/_git/app"),
    token: "test-token",
    apiUrl: az.url,
  });
  await notifier.setStatus(SHA, { name: "other/0", state: "succeeded", description: "x" });
  const list = az.statusesOf(SHA);
  for (let i = 1; i < 1000; i++) {
    list.push({ ...list[0]!, id: 1000 + i, context: { name: `other/${i}` } });
  }
  await notifier.setStatus(SHA, { name: NAME, state: "failed", description: "Sync failed" });
  assert.equal(az.statusesOf(SHA).length, 1001);
  assert.equal((await notifier.getStatus(SHA, NAME))?.state, "failed");
  assert.deepEqual(
    az.received.filter((r) => r.method === "GET").map((r) =>
      new URLSearchParams(r.query).get("skip")
    ),
    ["0", "1000"],
  );
});

Deno.test("Azure DevOps notifier gives up a call when its signal aborts", async () => {
  // A server that takes the connection and never answers.
  await using hung = startSilentServer();
  const notifier = createAzureDevOpsNotifier({
    remote: parseGitUrl("https://dev.azure.com/acme/app/_git/app"),
    token: "test-token",
    apiUrl: `${hung.url}/acme`,
  });
  const controller = new AbortController();
  const call = notifier.setStatus(
    SHA,
    { name: NAME, state: "succeeded", description: "ok" },
    controller.signal,
  );
  await hung.connected;
  controller.abort();
  await assert.rejects(call, (err: Error) => {
    assert.ok(err instanceof ProviderError);
    assert.equal(err.kind, "transient");
    return true;
  });
});
