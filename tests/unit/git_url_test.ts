import assert from "node:assert/strict";
import {
  type GitRemote,
  GitUrlError,
  parseGitUrl,
  type ProviderName,
  sameRepository,
} from "../../src/notifiers/git_url.ts";

type Case = [name: string, url: string, expect: Partial<GitRemote>, provider?: ProviderName];

const CASES: Case[] = [
  // GitHub
  ["github https", "https://github.com/acme/app", {
    provider: "github",
    origin: "https://github.com",
    owner: "acme",
    repo: "app",
  }],
  ["github https .git and slash", "https://github.com/acme/app.git/", {
    provider: "github",
    owner: "acme",
    repo: "app",
  }],
  ["github credentials", "https://user:tok@github.com/acme/app.git", {
    provider: "github",
    owner: "acme",
    repo: "app",
    origin: "https://github.com",
  }],
  ["github scp", "git@github.com:acme/app.git", {
    provider: "github",
    origin: "https://github.com",
    owner: "acme",
    repo: "app",
  }],
  ["github ssh", "ssh://git@github.com/acme/app.git", {
    provider: "github",
    owner: "acme",
    repo: "app",
  }],
  ["github ssh port", "ssh://git@github.com:22/acme/app", {
    provider: "github",
    origin: "https://github.com",
  }],
  ["github git://", "git://github.com/acme/app", {
    provider: "github",
    owner: "acme",
    repo: "app",
  }],
  ["ghe.com", "https://octo.ghe.com/acme/app", {
    provider: "github",
    origin: "https://octo.ghe.com",
  }],
  ["GHES with https port", "https://git.corp:8443/acme/app.git", {
    provider: "github",
    origin: "https://git.corp:8443",
    owner: "acme",
    repo: "app",
  }, "github"],
  // GitLab
  ["gitlab nested groups", "https://gitlab.com/group/sub/sub2/repo.git", {
    provider: "gitlab",
    owner: "group/sub/sub2",
    repo: "repo",
  }],
  ["gitlab oauth2 creds", "https://oauth2:TOKEN@gitlab.com/g/r.git", {
    provider: "gitlab",
    owner: "g",
    repo: "r",
  }],
  ["gitlab scp", "git@gitlab.com:group/sub/repo.git", {
    provider: "gitlab",
    owner: "group/sub",
    repo: "repo",
  }],
  ["gitlab self-hosted ssh port", "ssh://git@gitlab.corp:2222/group/sub/repo.git", {
    provider: "gitlab",
    origin: "https://gitlab.corp",
    owner: "group/sub",
    repo: "repo",
  }, "gitlab"],
  ["gitlab web URL with /-/", "https://gitlab.com/group/repo/-/tree/main", {
    provider: "gitlab",
    owner: "group",
    repo: "repo",
  }],
  // Azure DevOps
  ["azure dev.azure.com", "https://dev.azure.com/org/proj/_git/repo", {
    provider: "azure-devops",
    owner: "org",
    project: "proj",
    repo: "repo",
  }],
  ["azure user@", "https://org@dev.azure.com/org/proj/_git/repo", {
    provider: "azure-devops",
    owner: "org",
    project: "proj",
    repo: "repo",
  }],
  ["azure project omitted", "https://dev.azure.com/org/_git/repo", {
    provider: "azure-devops",
    owner: "org",
    project: "repo",
    repo: "repo",
  }],
  ["azure visualstudio.com", "https://org.visualstudio.com/proj/_git/repo", {
    provider: "azure-devops",
    owner: "org",
    project: "proj",
    repo: "repo",
  }],
  [
    "azure visualstudio.com DefaultCollection",
    "https://org.visualstudio.com/DefaultCollection/proj/_git/repo",
    { provider: "azure-devops", owner: "org", project: "proj" },
  ],
  ["azure ssh v3 scp", "git@ssh.dev.azure.com:v3/org/proj/repo", {
    provider: "azure-devops",
    owner: "org",
    project: "proj",
    repo: "repo",
  }],
  ["azure ssh v3 url", "ssh://git@ssh.dev.azure.com/v3/org/proj/repo", {
    provider: "azure-devops",
    owner: "org",
    project: "proj",
    repo: "repo",
  }],
  ["azure vs-ssh", "org@vs-ssh.visualstudio.com:v3/org/proj/repo", {
    provider: "azure-devops",
    owner: "org",
    project: "proj",
    repo: "repo",
  }],
  ["azure encoded project", "https://dev.azure.com/org/My%20Project/_git/repo", {
    provider: "azure-devops",
    project: "My Project",
  }],
  ["azure _optimized", "https://dev.azure.com/org/proj/_git/_optimized/repo", {
    provider: "azure-devops",
    repo: "repo",
  }],
  ["azure server", "https://tfs.corp:8080/tfs/DefaultCollection/proj/_git/repo", {
    provider: "azure-devops",
    origin: "https://tfs.corp:8080",
    basePath: "/tfs",
    owner: "DefaultCollection",
    project: "proj",
    repo: "repo",
  }],
  ["azure server ssh", "ssh://tfs.corp:22/tfs/Coll/proj/_git/repo", {
    provider: "azure-devops",
    origin: "https://tfs.corp",
    basePath: "/tfs",
    owner: "Coll",
  }],
  // Bitbucket Cloud
  ["bitbucket https", "https://bitbucket.org/ws/repo.git", {
    provider: "bitbucket",
    owner: "ws",
    repo: "repo",
  }],
  ["bitbucket x-token-auth", "https://x-token-auth:TOK@bitbucket.org/ws/repo.git", {
    provider: "bitbucket",
    owner: "ws",
    repo: "repo",
  }],
  ["bitbucket scp", "git@bitbucket.org:ws/repo.git", {
    provider: "bitbucket",
    owner: "ws",
    repo: "repo",
  }],
  // Bitbucket Data Center
  ["bitbucket dc scm", "https://bb.corp/scm/PROJ/repo.git", {
    provider: "bitbucket-server",
    owner: "PROJ",
    repo: "repo",
    basePath: "",
  }],
  ["bitbucket dc context path", "https://bb.corp:8443/bitbucket/scm/PROJ/repo.git", {
    provider: "bitbucket-server",
    origin: "https://bb.corp:8443",
    basePath: "/bitbucket",
    owner: "PROJ",
  }],
  ["bitbucket dc ssh 7999", "ssh://git@bb.corp:7999/PROJ/repo.git", {
    provider: "bitbucket-server",
    origin: "https://bb.corp",
    owner: "PROJ",
    repo: "repo",
  }],
  ["bitbucket dc personal", "https://bb.corp/scm/~jane/repo.git", {
    provider: "bitbucket-server",
    owner: "~jane",
    repo: "repo",
  }],
  ["bitbucket dc browse", "https://bb.corp/projects/PROJ/repos/repo/browse", {
    provider: "bitbucket-server",
    owner: "PROJ",
    repo: "repo",
  }, "bitbucket-server"],
  // Gitea / Forgejo
  ["gitea https", "https://codeberg.org/owner/repo.git", {
    provider: "gitea",
    owner: "owner",
    repo: "repo",
    basePath: "",
  }, "gitea"],
  ["gitea sub-path", "https://git.corp/gitea/owner/repo", {
    provider: "gitea",
    basePath: "/gitea",
    owner: "owner",
    repo: "repo",
  }, "gitea"],
  ["gitea ssh port", "ssh://git@git.corp:2222/owner/repo.git", {
    provider: "gitea",
    origin: "https://git.corp",
  }, "gitea"],
];

Deno.test("parseGitUrl() reads every remote URL form of every provider", async (t) => {
  for (const [name, url, expect, provider] of CASES) {
    await t.step(name, () => {
      const got = parseGitUrl(url, provider);
      for (const [key, value] of Object.entries(expect)) {
        assert.equal(got[key as keyof GitRemote], value, `${key} of ${url}`);
      }
    });
  }
});

Deno.test("parseGitUrl() asks for --provider on an unknown host, never guessing", () => {
  assert.throws(() => parseGitUrl("https://git.example.com/o/r.git"), (err: Error) => {
    assert.ok(err instanceof GitUrlError);
    assert.match(err.message, /pass --provider with one of github, gitlab/);
    return true;
  });
});

Deno.test("parseGitUrl() rejects malformed URLs with a message that hides credentials", async (t) => {
  const bad: [string, RegExp][] = [
    ["https://user:hunter2@github.com/only-owner", /expected exactly owner\/repo/],
    ["not a url", /expected https:\/\/host\/owner\/repo/],
    ["ftp://github.com/o/r", /scheme 'ftp'/],
    ["https://dev.azure.com/org/proj/repo", /_git/],
  ];
  for (const [url, pattern] of bad) {
    await t.step(url, () => {
      assert.throws(() => parseGitUrl(url), (err: Error) => {
        assert.match(err.message, pattern);
        assert.doesNotMatch(err.message, /hunter2/);
        return true;
      });
    });
  }
});

Deno.test("parseGitUrl() knows GitHub's and GitLab's ssh-over-443 hosts as github.com and gitlab.com", () => {
  assert.deepEqual(parseGitUrl("ssh://git@ssh.github.com:443/acme/app.git"), {
    provider: "github",
    origin: "https://github.com",
    basePath: "",
    owner: "acme",
    repo: "app",
  });
  assert.deepEqual(parseGitUrl("ssh://git@altssh.gitlab.com:443/acme/platform/app.git"), {
    provider: "gitlab",
    origin: "https://gitlab.com",
    basePath: "",
    owner: "acme/platform",
    repo: "app",
  });
});

Deno.test("parseGitUrl() reads a GitLab project after the path prefix --api-url names", () => {
  const api = "https://example.com/gitlab/api/v4";
  for (
    const url of [
      "https://example.com/gitlab/group/sub/project.git",
      "git@example.com:group/sub/project.git",
      "ssh://git@example.com:2222/group/sub/project.git",
    ]
  ) {
    assert.deepEqual(parseGitUrl(url, "gitlab", api), {
      provider: "gitlab",
      origin: "https://example.com",
      basePath: "/gitlab",
      owner: "group/sub",
      repo: "project",
    }, url);
  }
  // Without it, or with an API root at the host's root, the whole path is the project's.
  assert.equal(
    parseGitUrl("https://example.com/gitlab/group/project.git", "gitlab").owner,
    "gitlab/group",
  );
  assert.equal(
    parseGitUrl(
      "https://example.com/gitlab/group/project.git",
      "gitlab",
      "https://example.com/api/v4",
    )
      .owner,
    "gitlab/group",
  );
});

Deno.test("parseGitUrl() takes an IPv6 host in an scp-like remote", () => {
  assert.deepEqual(parseGitUrl("git@[2001:db8::1]:acme/app.git", "gitea"), {
    provider: "gitea",
    origin: "https://[2001:db8::1]",
    basePath: "",
    owner: "acme",
    repo: "app",
  });
  assert.equal(parseGitUrl("[::1]:acme/app.git", "gitea").origin, "https://[::1]");
  assert.equal(parseGitUrl("ssh://git@[::1]:2222/acme/app.git", "gitea").origin, "https://[::1]");
});

Deno.test("sameRepository: every form Flux's GitRepository may use names the same repository", () => {
  const ours = parseGitUrl("https://github.com/acme/fleet");
  for (
    const url of [
      "https://github.com/acme/fleet.git",
      "https://github.com/acme/fleet/",
      "https://x@GitHub.com/acme/fleet.git",
      "ssh://git@github.com/acme/fleet",
      "ssh://git@github.com:22/acme/fleet.git",
      "git@github.com:acme/fleet.git",
      "ssh://git@ssh.github.com:443/acme/fleet.git",
    ]
  ) assert.ok(sameRepository(ours, url), url);
  for (
    const url of [
      "https://github.com/acme/fleet-staging",
      "https://github.com/other/fleet",
      "https://gitlab.com/acme/fleet",
      "not a url",
    ]
  ) assert.ok(!sameRepository(ours, url), url);
  const azure = parseGitUrl("https://dev.azure.com/o/p/_git/r");
  assert.ok(sameRepository(azure, "ssh://git@ssh.dev.azure.com/v3/o/p/r"));
  assert.ok(!sameRepository(azure, "ssh://git@ssh.dev.azure.com/v3/o/q/r"));
});
