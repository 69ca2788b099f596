/**
 * GitHub App authentication against the fake GitHub: the app's JWT is verified with its public
 * key, the installation is looked up from the repository, tokens are minted and cached, and the
 * statuses are the app's. The key is a PKCS#1 PEM, as GitHub issues it.
 */
import assert from "node:assert/strict";
import { createNotifier } from "../../src/notifiers/mod.ts";
import { parseGitUrl } from "../../src/notifiers/git_url.ts";
import { NotifierError, ProviderError } from "../../src/notifiers/notifier.ts";
import { startFakeGitHub } from "../../dev/fakes/github.ts";
import { runCli, startDaemonProcess } from "../_cli.ts";
import { tempDir } from "../_helpers.ts";
import { syncEvent } from "../../dev/fakes/fluxd_events.ts";

const KEY_FILE = new URL("../../dev/fixtures/github-app/app-key.pem", import.meta.url).pathname;
const PUBLIC_KEY = await Deno.readTextFile(
  new URL("../../dev/fixtures/github-app/app-public.pem", import.meta.url),
);
const SHA = "3f2a9c1e5b7d4a6f8e0c2b4d6f8a0c2e4b6d8f0a";
const app = { id: 4242, publicKey: PUBLIC_KEY, installationId: 77 };

Deno.test("GitHub App: installation looked up, one token for many calls, statuses by the app", async () => {
  await using gh = await startFakeGitHub({ tokens: [], app });
  const notifier = await createNotifier({
    remote: parseGitUrl("git@github.com:acme/app.git"),
    token: "",
    apiUrl: gh.url,
    app: { appId: "4242", privateKey: await Deno.readTextFile(KEY_FILE) },
  });
  for (const state of ["pending", "succeeded"] as const) {
    await notifier.setStatus(SHA, { name: "flux-status/dev/sync", state, description: state });
  }
  assert.equal((await notifier.getStatus(SHA, "flux-status/dev/sync"))?.state, "succeeded");
  assert.equal(gh.appTokens.length, 1, "the installation token is cached");
  assert.equal(gh.byApp, 2);
  assert.deepEqual(gh.violations, []);
});

Deno.test("GitHub App: a key GitHub does not know is an auth failure; a non-PEM key a usage error", async () => {
  await using gh = await startFakeGitHub({
    tokens: [],
    app: { ...app, publicKey: PUBLIC_KEY.replace(/[A-Za-z]{8}(?=\n-----END)/, "AAAAAAAA") },
  });
  const remote = parseGitUrl("git@github.com:acme/app.git");
  const wrong = await createNotifier({
    remote,
    token: "",
    apiUrl: gh.url,
    app: { appId: "4242", privateKey: await Deno.readTextFile(KEY_FILE), installationId: "77" },
  });
  await assert.rejects(
    wrong.setStatus(SHA, { name: "n", state: "pending", description: "" }),
    (err: Error) => err instanceof ProviderError && err.kind === "auth" && err.status === 401,
  );
  await assert.rejects(
    createNotifier({ remote, token: "", app: { appId: "1", privateKey: "ghp_not_a_key" } }),
    (err: Error) => err instanceof NotifierError && /not a PEM private key/.test(err.message),
  );
});

Deno.test("GitHub App end to end: the daemon posts as the app, status reads back as the app, the key is never printed", async () => {
  await using dir = await tempDir();
  await using gh = await startFakeGitHub({ tokens: [], app });
  const appFlags = ["--github-app-id", "4242", "--github-app-private-key-file", KEY_FILE];
  await using daemon = await startDaemonProcess([
    "--git-url",
    "git@github.com:acme/app.git",
    "--api-url",
    gh.url,
    "--store",
    `${dir.path}/kv.sqlite`,
    "--poll-workloads=false",
    ...appFlags,
  ]);
  const res = await fetch(`${daemon.url}/v6/events`, {
    method: "POST",
    body: JSON.stringify(syncEvent({ commits: [{ revision: SHA, message: "x" }] })),
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  await gh.waitFor(() => gh.byApp >= 1, "a status posted by the app");
  const out = await runCli([
    "status",
    "--git-url",
    "git@github.com:acme/app.git",
    "--api-url",
    gh.url,
    "--commit-id",
    SHA,
    "--action",
    "sync",
    ...appFlags,
  ]);
  assert.equal(out.code, 0, out.stderr);
  assert.equal(JSON.parse(out.stdout).state, "succeeded");
  const key = await Deno.readTextFile(KEY_FILE);
  const secretLine = key.split("\n")[1]!;
  for (const printed of [daemon.output(), out.stdout, out.stderr]) {
    assert.ok(!printed.includes(secretLine), "the private key is never printed");
  }
});
