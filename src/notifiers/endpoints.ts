/**
 * Each provider's default API base URL, derived from the repository's remote: light enough for
 * the CLI to know a provider's host (for `flux-status permissions`) without loading its SDK.
 *
 * @module
 */
import type { GitRemote, ProviderName } from "../git_url.ts";

/** The API base for a remote: api.github.com, api.SUB.ghe.com, or https://HOST/api/v3. */
export function defaultGitHubApiUrl(remote: GitRemote): string {
  const host = new URL(remote.origin).host;
  if (host === "github.com") return "https://api.github.com";
  if (host.endsWith(".ghe.com")) return `https://api.${host}`;
  return `${remote.origin}/api/v3`;
}

/** The API base for a remote: `https://HOST/api/v4`. */
export function defaultGitLabApiUrl(remote: GitRemote): string {
  return `${remote.origin}${remote.basePath}/api/v4`;
}

/**
 * The collection URL for a remote: `https://dev.azure.com/ORG` or `https://HOST/tfs/COLLECTION`.
 */
export function defaultAzureApiUrl(remote: GitRemote): string {
  const host = new URL(remote.origin).host;
  if (
    host === "dev.azure.com" || host.endsWith(".visualstudio.com") || host.endsWith("azure.com")
  ) {
    return `https://dev.azure.com/${encodeURIComponent(remote.owner)}`;
  }
  return `${remote.origin}${remote.basePath}/${encodeURIComponent(remote.owner)}`;
}

/** The API base for a remote: `https://HOST[/sub-path]/api/v1` (Gitea, Forgejo). */
export function defaultGiteaApiUrl(remote: GitRemote): string {
  return `${remote.origin}${remote.basePath}/api/v1`;
}

/** The REST base for a remote: `https://HOST[/context-path]/rest` (Bitbucket Data Center). */
export function defaultBitbucketServerApiUrl(remote: GitRemote): string {
  return `${remote.origin}${remote.basePath}/rest`;
}

/** Bitbucket Cloud's API: `https://api.bitbucket.org/2.0`. */
export function defaultBitbucketApiUrl(_remote: GitRemote): string {
  return "https://api.bitbucket.org/2.0";
}

const DEFAULTS: Partial<Record<ProviderName, (remote: GitRemote) => string>> = {
  github: defaultGitHubApiUrl,
  gitlab: defaultGitLabApiUrl,
  "azure-devops": defaultAzureApiUrl,
  gitea: defaultGiteaApiUrl,
  "bitbucket-server": defaultBitbucketServerApiUrl,
  bitbucket: defaultBitbucketApiUrl,
};

/**
 * The API base URL a notifier for `remote` calls: `apiUrl` when given, else the provider's default.
 *
 * @returns the URL, or undefined for a provider with no notifier yet
 */
export function apiUrlFor(remote: GitRemote, apiUrl?: string): string | undefined {
  return apiUrl ?? DEFAULTS[remote.provider]?.(remote);
}
