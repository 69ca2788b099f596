/**
 * The providers the end-to-end suite runs against, each as its fake server plus the daemon and
 * CLI arguments that point flux-status at it. A suite written once loops over `PROVIDERS`.
 *
 * @module
 */
import type { State } from "../src/notifiers/notifier.ts";
import { startFakeAzureDevOps } from "../dev/fakes/azure_devops.ts";
import { startFakeBitbucket } from "../dev/fakes/bitbucket.ts";
import { startFakeBitbucketServer } from "../dev/fakes/bitbucket_server.ts";
import { startFakeGitea } from "../dev/fakes/gitea.ts";
import { startFakeGitHub } from "../dev/fakes/github.ts";
import { startFakeGitLab } from "../dev/fakes/gitlab.ts";
import type { FakeServer } from "../dev/fakes/_server.ts";
import type { Violation } from "../dev/fakes/openapi.ts";

/** A running fake provider, seen the same way whatever the provider. */
export interface FakeProvider extends FakeServer {
  /** Daemon/CLI flags: git URL, API URL (no token). */
  args: string[];
  /** The same as config values. */
  config: { gitUrl: string; apiUrl: string; provider?: string; bitbucketUsername?: string };
  /** The config key of this provider's token. */
  tokenKey: "githubToken" | "gitlabToken" | "azdoPat" | "bitbucketToken" | "giteaToken";
  /** Env vars carrying `token` for this provider. */
  tokenEnv(token: string): Record<string, string>;
  /** Tokens the fake accepts (mutable). */
  tokens: Set<string>;
  /** Statuses set on a commit, oldest first, in our words. */
  statuses(sha: string): { name: string; state: State; description: string }[];
  violations: Violation[];
}

/** How to start one provider's fake. */
export interface ProviderHarness {
  name: "github" | "gitlab" | "azure-devops" | "bitbucket" | "bitbucket-server" | "gitea";
  start(tokens?: string[], options?: { tls?: boolean }): Promise<FakeProvider>;
}

/** Every provider the suite covers. */
export const PROVIDERS: ProviderHarness[] = [
  {
    name: "github",
    async start(tokens = ["test-token"], { tls = false } = {}) {
      const fake = await startFakeGitHub({ tls, tokens });
      const config = { gitUrl: "git@github.com:acme/app.git", apiUrl: fake.url };
      return {
        ...fake,
        config,
        tokenKey: "githubToken",
        args: ["--git-url", config.gitUrl, "--api-url", fake.url],
        tokenEnv: (token) => ({ GITHUB_TOKEN: token }),
        statuses: fake.commitStatuses,
      };
    },
  },
  {
    name: "gitlab",
    async start(tokens = ["test-token"], { tls = false } = {}) {
      const fake = await startFakeGitLab({ tls, tokens, projects: ["acme/platform/app"] });
      const config = {
        gitUrl: "ssh://git@gitlab.example.com:2222/acme/platform/app.git",
        provider: "gitlab",
        apiUrl: fake.url,
      };
      return {
        ...fake,
        config,
        tokenKey: "gitlabToken",
        args: ["--git-url", config.gitUrl, "--provider", "gitlab", "--api-url", fake.url],
        tokenEnv: (token) => ({ GITLAB_TOKEN: token }),
        statuses: fake.commitStatuses,
      };
    },
  },
  {
    name: "azure-devops",
    async start(tokens = ["test-token"], { tls = false } = {}) {
      const fake = await startFakeAzureDevOps({ tls, tokens, repos: ["acme/Platform/app"] });
      const config = {
        gitUrl: "https://acme@dev.azure.com/acme/Platform/_git/app",
        apiUrl: fake.url,
      };
      return {
        ...fake,
        config,
        tokenKey: "azdoPat",
        args: ["--git-url", config.gitUrl, "--api-url", fake.url],
        tokenEnv: (token) => ({ FLUX_STATUS_AZDO_PAT: token }),
        statuses: fake.commitStatuses,
      };
    },
  },
  {
    name: "bitbucket",
    async start(tokens = ["test-token"], { tls = false } = {}) {
      const email = "flux@example.com";
      const fake = await startFakeBitbucket({ tls, tokens, email, repos: ["acme/app"] });
      const config = {
        gitUrl: "git@bitbucket.org:acme/app.git",
        apiUrl: fake.url,
        bitbucketUsername: email,
      };
      return {
        ...fake,
        config,
        tokenKey: "bitbucketToken",
        args: [
          "--git-url",
          config.gitUrl,
          "--api-url",
          fake.url,
          "--bitbucket-username",
          email,
        ],
        tokenEnv: (token) => ({ BITBUCKET_TOKEN: token }),
        statuses: fake.commitStatuses,
      };
    },
  },
  {
    name: "bitbucket-server",
    async start(tokens = ["test-token"], { tls = false } = {}) {
      const fake = await startFakeBitbucketServer({ tls, tokens, repos: ["ACME/app"] });
      const config = {
        gitUrl: "ssh://git@bitbucket.corp.example:7999/acme/app.git",
        apiUrl: fake.url,
      };
      return {
        ...fake,
        config,
        tokenKey: "bitbucketToken",
        args: ["--git-url", config.gitUrl, "--api-url", fake.url],
        tokenEnv: (token) => ({ FLUX_STATUS_BITBUCKET_TOKEN: token }),
        statuses: fake.commitStatuses,
      };
    },
  },
  {
    name: "gitea",
    async start(tokens = ["test-token"], { tls = false } = {}) {
      const fake = await startFakeGitea({ tls, tokens, repos: ["acme/app"] });
      const config = {
        gitUrl: "https://git.example.org/forge/acme/app.git",
        provider: "gitea",
        apiUrl: fake.url,
      };
      return {
        ...fake,
        config,
        tokenKey: "giteaToken",
        args: ["--git-url", config.gitUrl, "--provider", "gitea", "--api-url", fake.url],
        tokenEnv: (token) => ({ GITEA_TOKEN: token }),
        statuses: fake.commitStatuses,
      };
    },
  },
];
