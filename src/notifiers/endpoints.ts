/**
 * Each provider's default API base URL, derived from the repository's remote: light enough for
 * the CLI to know a provider's host (for `flux-status permissions`) without loading its SDK.
 *
 * @module
 */
import type { GitRemote, ProviderName } from "./git_url.ts";

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
 * `--api-url` as users write it: the API root (used as is), or the forge's bare address (no
 * path), to which the provider's standard API path is added: `/api/v3` GitHub Enterprise Server
 * (`github.com` and `*.ghe.com` become their `api.` hosts), `/api/v4` GitLab, `/api/v1` Gitea and
 * Forgejo, `/rest` Bitbucket Data Center, `/2.0` Bitbucket Cloud (`bitbucket.org` becomes
 * `api.bitbucket.org`), and the organization or collection for Azure DevOps.
 *
 * @param remote the repository (its provider, and Azure DevOps's organization)
 * @param apiUrl the URL given, if any
 * @returns the API root, or undefined when none was given (or it is not a URL: checked later)
 */
export function withStandardPath(remote: GitRemote, apiUrl?: string): string | undefined {
  if (apiUrl === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(apiUrl.trim());
  } catch {
    return apiUrl;
  }
  if (url.pathname !== "/" || url.search || url.hash) return apiUrl;
  const host = url.host, origin = url.origin;
  switch (remote.provider) {
    case "github":
      if (host === "github.com") return "https://api.github.com";
      if (host.startsWith("api.")) return origin;
      if (host.endsWith(".ghe.com")) return `${url.protocol}//api.${host}`;
      return `${origin}/api/v3`;
    case "gitlab":
      return `${origin}/api/v4`;
    case "gitea":
      return `${origin}/api/v1`;
    case "bitbucket-server":
      return `${origin}/rest`;
    case "bitbucket":
      return host === "bitbucket.org" ? "https://api.bitbucket.org/2.0" : `${origin}/2.0`;
    case "azure-devops":
      return `${origin}${remote.basePath}/${encodeURIComponent(remote.owner)}`;
    default:
      return apiUrl;
  }
}

/**
 * The API base URL a notifier for `remote` calls: `apiUrl` when given (with the provider's
 * standard path added to a bare address, see {@linkcode withStandardPath}), else the provider's
 * default.
 *
 * @returns the URL, or undefined for a provider with no notifier yet
 */
export function apiUrlFor(remote: GitRemote, apiUrl?: string): string | undefined {
  return withStandardPath(remote, apiUrl) ?? DEFAULTS[remote.provider]?.(remote);
}
