/**
 * The one map from provider name to notifier factory; a new provider is a file plus a line here.
 * A factory takes its own token and options and throws {@linkcode NotifierError}; nothing here
 * knows where the token came from (flags, env vars, files: that is src/config/config.ts's business).
 *
 * @module
 */
import type { GitRemote, ProviderName } from "./git_url.ts";
import { type Notifier, NotifierError, type Token } from "./notifier.ts";
import type { GitHubApp } from "./github_app.ts";

/** What every notifier factory takes. */
export interface CreateNotifierOptions {
  /** The repository. */
  remote: GitRemote;
  /** The provider's token (or how to read its current value); must not be empty. */
  token: Token;
  /** API base URL override (self-hosted). */
  apiUrl?: string;
  /** The account for Basic auth where a provider needs one (Bitbucket Cloud API tokens). */
  username?: string;
  /** PEM file of extra CA certificates to trust (`--ca-file`). */
  caFile?: string;
  /** The process environment, for the proxy variables where an SDK does its own HTTP. */
  env?: Record<string, string | undefined>;
  /** GitHub only: authenticate as this app installation instead of with `token`. */
  app?: GitHubApp;
}

/** Loads a provider's module (and its SDK) only when it is used: start-up stays fast. */
const FACTORIES: Partial<
  Record<ProviderName, (options: CreateNotifierOptions) => Promise<Notifier>>
> = {
  github: async (o) => (await import("./github.ts")).createGitHubNotifier(o),
  gitlab: async (o) => (await import("./gitlab.ts")).createGitLabNotifier(o),
  "azure-devops": async (o) => (await import("./azure_devops.ts")).createAzureDevOpsNotifier(o),
  bitbucket: async (o) => (await import("./bitbucket.ts")).createBitbucketNotifier(o),
  "bitbucket-server": async (o) =>
    (await import("./bitbucket_server.ts")).createBitbucketServerNotifier(o),
  gitea: async (o) => (await import("./gitea.ts")).createGiteaNotifier(o),
};

/**
 * Creates the notifier for a repository's provider.
 *
 * @throws {NotifierError} when the provider is not supported yet, or (from the provider's own
 *   factory) the token is empty or the API URL is not http(s)
 * @example
 * ```ts
 * const notifier = await createNotifier({ remote: parseGitUrl("git@github.com:acme/app.git"), token });
 * ```
 */
export function createNotifier(options: CreateNotifierOptions): Promise<Notifier> {
  const { remote } = options;
  const factory = FACTORIES[remote.provider];
  if (!factory) {
    const supported = Object.keys(FACTORIES).join(", ");
    return Promise.reject(
      new NotifierError(
        `Cannot set statuses on ${remote.provider} as it is not supported yet: use one of ${supported}`,
      ),
    );
  }
  return factory(options);
}
