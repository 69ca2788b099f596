/**
 * `--api-url` as users write it: the API root works as before, and the forge's bare address gets
 * the provider's standard API path.
 */
import assert from "node:assert/strict";
import { parseGitUrl, type ProviderName } from "../../src/notifiers/git_url.ts";
import { apiUrlFor, PROVIDER_TABLE } from "../../src/notifiers/providers.ts";
import { createNotifier } from "../../src/notifiers/mod.ts";
import { PROVIDERS } from "../_providers.ts";

const SHA = "3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39";

Deno.test("apiUrlFor() adds each provider's API path to a bare address, and only to one", () => {
  const cases: [string, ProviderName | undefined, string, string][] = [
    ["git@github.com:acme/app.git", undefined, "https://github.com", "https://api.github.com"],
    ["git@github.com:acme/app.git", undefined, "https://api.github.com/", "https://api.github.com"],
    ["https://ghe.corp/acme/app", "github", "https://ghe.corp", "https://ghe.corp/api/v3"],
    ["https://ghe.corp/acme/app", "github", "https://ghe.corp/api/v3", "https://ghe.corp/api/v3"],
    ["https://acme.ghe.com/o/r", "github", "https://acme.ghe.com", "https://api.acme.ghe.com"],
    ["https://gl.corp/g/s/app", "gitlab", "https://gl.corp/", "https://gl.corp/api/v4"],
    ["https://gl.corp/g/app", "gitlab", "https://x.corp/gl/api/v4", "https://x.corp/gl/api/v4"],
    [
      "https://git.example.com/o/r",
      "gitea",
      "https://git.example.com",
      "https://git.example.com/api/v1",
    ],
    [
      "https://git.example.com/o/r",
      "gitea",
      "https://git.example.com/api/v1",
      "https://git.example.com/api/v1",
    ],
    [
      "https://bb.corp/scm/ACME/app.git",
      undefined,
      "https://bb.corp:8443",
      "https://bb.corp:8443/rest",
    ],
    [
      "git@bitbucket.org:acme/app.git",
      undefined,
      "https://bitbucket.org",
      "https://api.bitbucket.org/2.0",
    ],
    [
      "https://dev.azure.com/acme/P/_git/app",
      undefined,
      "https://dev.azure.com",
      "https://dev.azure.com/acme",
    ],
    [
      "https://tfs.corp/tfs/Coll/P/_git/app",
      undefined,
      "https://tfs.corp",
      "https://tfs.corp/tfs/Coll",
    ],
  ];
  for (const [git, provider, given, want] of cases) {
    const remote = parseGitUrl(git, provider);
    assert.equal(apiUrlFor(remote, given), want, `${remote.provider} ${given}`);
  }
  const github = parseGitUrl("git@github.com:a/b.git");
  assert.equal(apiUrlFor(github), PROVIDER_TABLE.github.defaultApiUrl(github));
});

for (const harness of PROVIDERS) {
  Deno.test(`[${harness.name}] a bare --api-url (the forge's address) reaches the API`, async () => {
    await using fake = await harness.start();
    const origin = new URL(fake.config.apiUrl).origin;
    assert.notEqual(origin, fake.config.apiUrl, "the fake serves its API below a path");
    const notifier = await createNotifier({
      remote: parseGitUrl(fake.config.gitUrl, fake.config.provider as ProviderName | undefined),
      token: "test-token",
      apiUrl: origin,
      ...(fake.config.bitbucketUsername ? { username: fake.config.bitbucketUsername } : {}),
    });
    await notifier.setStatus(SHA, {
      name: "flux-status/dev/sync",
      state: "succeeded",
      description: "Synced",
    });
    assert.equal(fake.statuses(SHA).length, 1);
    assert.deepEqual(fake.violations, []);
  });
}
