/**
 * The one map from provider name to notifier factory; a new provider is a file plus a line here.
 *
 * @module
 */
import { ConfigError } from "../config.ts";
import type { GitRemote, ProviderName } from "../git_url.ts";
import type { Notifier } from "./notifier.ts";

/** The tokens a notifier may need, keyed as the config names them. */
export interface Tokens {
  /** `--github-token`. */
  githubToken?: string | undefined;
  /** `--gitlab-token`. */
  gitlabToken?: string | undefined;
  /** `--azdo-pat`. */
  azdoPat?: string | undefined;
}

type Options = { remote: GitRemote; token: string; apiUrl?: string };

interface Factory {
  /** Which token this provider uses. */
  token: keyof Tokens;
  /** Loads the provider's module (and its SDK) only when it is used: start-up stays fast. */
  create(options: Options): Promise<Notifier>;
}

const FACTORIES: Partial<Record<ProviderName, Factory>> = {
  github: {
    token: "githubToken",
    create: async (o) => (await import("./github.ts")).createGitHubNotifier(o),
  },
  gitlab: {
    token: "gitlabToken",
    create: async (o) => (await import("./gitlab.ts")).createGitLabNotifier(o),
  },
  "azure-devops": {
    token: "azdoPat",
    create: async (o) => (await import("./azure_devops.ts")).createAzureDevOpsNotifier(o),
  },
};

/** Options for {@linkcode createNotifier}. */
export interface CreateNotifierOptions {
  /** The repository. */
  remote: GitRemote;
  /** Available tokens; the provider's own must be set. */
  tokens: Tokens;
  /** API base URL override. */
  apiUrl?: string;
}

/**
 * Creates the notifier for a repository's provider.
 *
 * @throws {ConfigError} when the provider is not supported yet or its token is missing
 */
export function createNotifier(
  { remote, tokens, apiUrl }: CreateNotifierOptions,
): Promise<Notifier> {
  const factory = FACTORIES[remote.provider];
  if (!factory) {
    const supported = Object.keys(FACTORIES).join(", ");
    throw new ConfigError(
      `Cannot set statuses on ${remote.provider} as it is not supported yet: use one of ${supported}`,
    );
  }
  const token = tokens[factory.token];
  if (!token) {
    const flag = factory.token.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
    throw new ConfigError(
      `--${flag} is required for ${remote.provider}: pass --${flag}, --${flag}-file or set its env var`,
    );
  }
  return factory.create({ remote, token, ...(apiUrl ? { apiUrl } : {}) });
}
