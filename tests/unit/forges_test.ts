/**
 * Bitbucket Cloud, Bitbucket Data Center and Gitea notifiers against their fakes: what the shared
 * end-to-end suite does not reach (auth forms, keys, paging, error bodies, limits).
 */
import assert from "node:assert/strict";
import { parseGitUrl } from "../../src/notifiers/git_url.ts";
import { createHttpClient, providerMessage } from "../../src/notifiers/_http.ts";
import { createBitbucketNotifier, statusKey } from "../../src/notifiers/bitbucket.ts";
import { createBitbucketServerNotifier } from "../../src/notifiers/bitbucket_server.ts";
import { apiUrlFor } from "../../src/notifiers/providers.ts";
import { createGiteaNotifier } from "../../src/notifiers/gitea.ts";
import { newestPerName, ProviderError, type State } from "../../src/notifiers/notifier.ts";
import { startFakeBitbucket } from "../../dev/fakes/bitbucket.ts";
import { startFakeBitbucketServer } from "../../dev/fakes/bitbucket_server.ts";
import { startFakeGitea } from "../../dev/fakes/gitea.ts";
import { startSilentServer } from "../../dev/fakes/silent_server.ts";

const SHA = "2f0ab35ccef1a06269ce618a6f1b01e7332b69b9";
const STATES: State[] = ["pending", "succeeded", "failed", "canceled"];
const long = `flux-status/dev/kustomization/flux-system/${"a".repeat(150)}/workload`;

Deno.test("Bitbucket Cloud: a 40-character key per name, every state both ways, Bearer or Basic", async () => {
  await using bb = await startFakeBitbucket({ tokens: ["api-token", "access-token"] });
  const remote = parseGitUrl("https://bitbucket.org/acme/app.git");
  const basic = createBitbucketNotifier({
    remote,
    token: "api-token",
    username: "flux@example.com",
    apiUrl: bb.url,
  });
  const bearer = createBitbucketNotifier({ remote, token: "access-token", apiUrl: bb.url });
  assert.match(await statusKey(long), /^[0-9a-f]{40}$/);
  for (const [i, state] of STATES.entries()) {
    const name = `${long}-${i}`;
    await (i % 2 ? basic : bearer).setStatus(SHA, { name, state, description: `was ${state}` });
    const read = await (i % 2 ? bearer : basic).getStatus(SHA, name);
    assert.deepEqual([read?.state, read?.description], [state, `was ${state}`]);
  }
  assert.equal(await basic.getStatus(SHA, "flux-status/dev/none"), undefined);
  assert.equal((await bearer.listStatuses(SHA, "flux-status/dev/")).length, 4);
  assert.deepEqual(bb.violations, []);
});

Deno.test("Bitbucket Cloud: a refused token is auth, a 429 is a rate limit, both with the provider's words", async () => {
  await using bb = await startFakeBitbucket();
  const remote = parseGitUrl("git@bitbucket.org:acme/app.git");
  const wrong = createBitbucketNotifier({ remote, token: "nope", apiUrl: bb.url });
  await assert.rejects(
    wrong.setStatus(SHA, { name: "n", state: "pending", description: "" }),
    (err: Error) =>
      err instanceof ProviderError && err.kind === "auth" && err.status === 401 &&
      /answered 401 Unauthorized/.test(err.message) && !err.message.includes("nope"),
  );
  bb.faults.push({
    status: 429,
    body: { type: "error", error: { message: "Rate limit for this resource has been exceeded" } },
  });
  const ok = createBitbucketNotifier({ remote, token: "test-token", apiUrl: bb.url });
  await assert.rejects(
    ok.setStatus(SHA, { name: "n", state: "pending", description: "" }),
    (err: Error) =>
      err instanceof ProviderError && err.kind === "rateLimited" && err.retryAfterMs === 60_000,
  );
});

Deno.test("Bitbucket Data Center: API URL from /scm/ and ssh :7999, CANCELLED both ways, paged list", async () => {
  assert.equal(
    apiUrlFor(parseGitUrl("https://git.corp/bitbucket/scm/PLAT/app.git")),
    "https://git.corp/bitbucket/rest",
  );
  assert.equal(
    apiUrlFor(parseGitUrl("ssh://git@git.corp:7999/plat/app.git")),
    "https://git.corp/rest",
  );
  await using dc = await startFakeBitbucketServer({ repos: ["PLAT/app"] });
  const dcNotifier = createBitbucketServerNotifier({
    remote: parseGitUrl("ssh://git@git.corp:7999/plat/app.git"),
    token: "test-token",
    apiUrl: dc.url,
  });
  for (const state of STATES) {
    await dcNotifier.setStatus(SHA, {
      name: `flux-status/dev/${state}`,
      state,
      description: state,
    });
    assert.equal((await dcNotifier.getStatus(SHA, `flux-status/dev/${state}`))?.state, state);
  }
  for (let i = 0; i < 130; i++) {
    await dcNotifier.setStatus(SHA, {
      name: `flux-status/dev/x${i}`,
      state: "succeeded",
      description: "",
    });
  }
  assert.equal((await dcNotifier.listStatuses(SHA, "flux-status/dev/")).length, 134);
  assert.equal(await dcNotifier.getStatus(SHA, "flux-status/dev/none"), undefined);
  assert.deepEqual(dc.violations, []);
});

Deno.test("Gitea: canceled kept through its marker, newest status per context over pages, 404 named", async () => {
  await using gt = await startFakeGitea({ repos: ["acme/app"] });
  const remote = parseGitUrl("https://git.example.org/acme/app.git", "gitea");
  const gitea = createGiteaNotifier({ remote, token: "test-token", apiUrl: gt.url });
  for (let i = 0; i < 60; i++) {
    await gitea.setStatus(SHA, {
      name: "flux-status/dev/sync",
      state: "pending",
      description: `${i}`,
    });
  }
  await gitea.setStatus(SHA, {
    name: "flux-status/dev/sync",
    state: "canceled",
    description: "Superseded",
  });
  const read = await gitea.getStatus(SHA, "Flux-Status/Dev/Sync");
  assert.deepEqual([read?.state, read?.description], ["canceled", "Superseded"]);
  const other = createGiteaNotifier({
    remote: parseGitUrl("https://git.example.org/acme/gone.git", "gitea"),
    token: "test-token",
    apiUrl: gt.url,
  });
  await assert.rejects(
    other.setStatus(SHA, { name: "n", state: "pending", description: "" }),
    (err: Error) =>
      err instanceof ProviderError && err.kind === "rejected" &&
      /404 The target couldn't be found.: check the repository exists/.test(err.message),
  );
  assert.deepEqual(gt.violations, []);
});

Deno.test("providerMessage() reads each forge's error body", () => {
  assert.equal(providerMessage({ message: "token is required", url: "x" }), "token is required");
  assert.equal(
    providerMessage({
      type: "error",
      error: { message: "Bad request", fields: { key: ["too long"] } },
    }),
    "Bad request: key: too long",
  );
  assert.equal(providerMessage({ errors: [{ message: "a" }, { message: "b" }] }), "a: b");
  assert.equal(providerMessage("Retry later\n"), "Retry later");
  assert.equal(providerMessage(undefined), "");
});

Deno.test("the fetch helper: a hung connection times out, a DNS failure and an HTML 200 are failures, not crashes", async () => {
  // A server that accepts and never answers: only the request timeout can end the call.
  const hung = startSilentServer();
  const client = (baseUrl: string, timeoutMs = 30_000) =>
    createHttpClient({
      provider: "gitea",
      label: "Gitea",
      baseUrl,
      authorization: () => "token t",
      timeoutMs,
    });
  const get = { method: "GET", path: "/x", doing: "read statuses of 2f0ab35" } as const;
  await assert.rejects(
    client(hung.url, 200).request(get),
    (err: Error) =>
      err instanceof ProviderError && err.status === 0 && err.kind === "transient" &&
      /the request timed out/.test(err.message),
  );
  await hung.close();
  await assert.rejects(
    client("http://flux-status-test.invalid").request(get),
    (err: Error) => err instanceof ProviderError && err.status === 0 && err.kind === "transient",
  );

  await using gt = await startFakeGitea({ repos: ["acme/app"] });
  gt.faults.push({ status: 200, body: "<html>Sign in</html>" });
  const gitea = createGiteaNotifier({
    remote: parseGitUrl("https://git.example.org/acme/app.git", "gitea"),
    token: "test-token",
    apiUrl: gt.url,
  });
  await assert.rejects(
    gitea.getStatus(SHA, "flux-status/dev/sync"),
    (err: Error) =>
      err instanceof ProviderError && err.kind === "transient" &&
      /answered 200 without the JSON array its API returns: check --api-url/.test(err.message),
  );
});

Deno.test("newestPerName() keeps the first (newest) status of each name, compared as the provider does", () => {
  const statuses = [
    { context: "flux-status/dev/Sync", id: 3 },
    { context: "flux-status/dev/sync", id: 2 },
    { context: "flux-status/dev/workload", id: 1 },
  ];
  assert.deepEqual(
    [...newestPerName(statuses, (s) => s.context, (n) => n.toLowerCase()).values()].map((s) =>
      s.id
    ),
    [3, 1],
  );
  assert.deepEqual([...newestPerName(statuses, (s) => s.context).keys()], [
    "flux-status/dev/Sync",
    "flux-status/dev/sync",
    "flux-status/dev/workload",
  ]);
});
