/**
 * Creates a repository's notifier through the provider table (providers.ts: a new provider is its
 * notifier file plus one row there). A factory takes its own token and options and throws
 * `NotifierError`; nothing here knows where the token came from (flags, env vars, files: that is
 * src/config/config.ts's business).
 *
 * @module
 */
import type { GitRemote } from "./git_url.ts";
import type { Notifier, Token } from "./notifier.ts";
import { PROVIDER_TABLE } from "./providers.ts";
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

/**
 * Creates the notifier for a repository's provider, loading its module (and SDK) only now:
 * start-up stays fast.
 *
 * @throws {NotifierError} from the provider's own factory: the token is empty or the API URL is
 *   not http(s)
 * @example
 * ```ts
 * const notifier = await createNotifier({ remote: parseGitUrl("git@github.com:acme/app.git"), token });
 * ```
 */
export async function createNotifier(options: CreateNotifierOptions): Promise<Notifier> {
  const create = await PROVIDER_TABLE[options.remote.provider].load();
  return create(options);
}
