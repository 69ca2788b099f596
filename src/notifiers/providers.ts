/**
 * Every provider flux-status talks to, one row each: how people write its name, which option holds
 * its token, where its API is (by default, and for a forge's bare address given as `--api-url`),
 * and how its notifier is loaded. The table is typed `satisfies Record<ProviderName, Provider>`, so
 * a provider added to {@linkcode PROVIDERS} without a row (or a notifier file) is a type error.
 * Notifiers are loaded only when used (the SDKs stay out of start-up), so the CLI can read a row,
 * e.g. for `flux-status permissions`, without loading any.
 *
 * @module
 */
import type { GitRemote, ProviderName } from "./git_url.ts";
import type { Notifier } from "./notifier.ts";
import type { CreateNotifierOptions } from "./mod.ts";

/** The options that hold a provider's token. */
export type TokenOption =
  | "githubToken"
  | "gitlabToken"
  | "azdoPat"
  | "bitbucketToken"
  | "giteaToken";

/** What flux-status knows of one provider. */
export interface Provider {
  /** The name as people write it, e.g. `GitHub`. */
  label: string;
  /** The option holding its token. */
  tokenOption: TokenOption;
  /** Its API root for a repository, when `--api-url` is not given. */
  defaultApiUrl(remote: GitRemote): string;
  /** Its API root for a forge's bare address (`--api-url https://HOST`, no path). */
  bareApiUrl(url: URL, remote: GitRemote): string;
  /** Loads its notifier factory (and SDK). */
  load(): Promise<(options: CreateNotifierOptions) => Notifier>;
}

/** The web origin and path prefix of a remote: `https://HOST[/prefix]`. */
const site = (remote: GitRemote) => `${remote.origin}${remote.basePath}`;

/** The table. */
export const PROVIDER_TABLE = {
  github: {
    label: "GitHub",
    tokenOption: "githubToken",
    defaultApiUrl(remote) {
      const host = new URL(remote.origin).host;
      if (host === "github.com") return "https://api.github.com";
      if (host.endsWith(".ghe.com")) return `https://api.${host}`;
      return `${remote.origin}/api/v3`;
    },
    bareApiUrl(url) {
      if (url.host === "github.com") return "https://api.github.com";
      if (url.host.startsWith("api.")) return url.origin;
      if (url.host.endsWith(".ghe.com")) return `${url.protocol}//api.${url.host}`;
      return `${url.origin}/api/v3`;
    },
    load: async () => (await import("./github.ts")).createGitHubNotifier,
  },
  gitlab: {
    label: "GitLab",
    tokenOption: "gitlabToken",
    defaultApiUrl: (remote) => `${site(remote)}/api/v4`,
    bareApiUrl: (url) => `${url.origin}/api/v4`,
    load: async () => (await import("./gitlab.ts")).createGitLabNotifier,
  },
  "azure-devops": {
    label: "Azure DevOps",
    tokenOption: "azdoPat",
    defaultApiUrl(remote) {
      const host = new URL(remote.origin).host;
      const org = encodeURIComponent(remote.owner);
      if (
        host === "dev.azure.com" || host.endsWith(".visualstudio.com") || host.endsWith("azure.com")
      ) {
        return `https://dev.azure.com/${org}`;
      }
      return `${site(remote)}/${org}`;
    },
    bareApiUrl: (url, remote) =>
      `${url.origin}${remote.basePath}/${encodeURIComponent(remote.owner)}`,
    load: async () => (await import("./azure_devops.ts")).createAzureDevOpsNotifier,
  },
  bitbucket: {
    label: "Bitbucket",
    tokenOption: "bitbucketToken",
    defaultApiUrl: () => "https://api.bitbucket.org/2.0",
    bareApiUrl: (url) =>
      url.host === "bitbucket.org" ? "https://api.bitbucket.org/2.0" : `${url.origin}/2.0`,
    load: async () => (await import("./bitbucket.ts")).createBitbucketNotifier,
  },
  "bitbucket-server": {
    label: "Bitbucket Data Center",
    tokenOption: "bitbucketToken",
    defaultApiUrl: (remote) => `${site(remote)}/rest`,
    bareApiUrl: (url) => `${url.origin}/rest`,
    load: async () => (await import("./bitbucket_server.ts")).createBitbucketServerNotifier,
  },
  gitea: {
    label: "Gitea",
    tokenOption: "giteaToken",
    defaultApiUrl: (remote) => `${site(remote)}/api/v1`,
    bareApiUrl: (url) => `${url.origin}/api/v1`,
    load: async () => (await import("./gitea.ts")).createGiteaNotifier,
  },
} as const satisfies Record<ProviderName, Provider>;

/**
 * The API root a notifier for `remote` calls. `--api-url` as users write it: an API root is used
 * as is; a forge's bare address (no path) gets the provider's standard API path (`/api/v3` GitHub
 * Enterprise Server, `/api/v4` GitLab, `/api/v1` Gitea and Forgejo, `/rest` Bitbucket Data Center,
 * `/2.0` Bitbucket Cloud, the organization or collection for Azure DevOps). Without `--api-url`,
 * the provider's default for the remote.
 *
 * @param remote the repository
 * @param apiUrl `--api-url`, if given
 */
export function apiUrlFor(remote: GitRemote, apiUrl?: string): string {
  const provider: Provider = PROVIDER_TABLE[remote.provider];
  if (apiUrl === undefined) return provider.defaultApiUrl(remote);
  let url: URL;
  try {
    url = new URL(apiUrl.trim());
  } catch {
    return apiUrl; // not a URL: the notifier says so
  }
  if (url.pathname !== "/" || url.search || url.hash) return apiUrl;
  return provider.bareApiUrl(url, remote);
}
