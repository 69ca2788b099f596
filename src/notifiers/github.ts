/**
 * GitHub commit statuses (github.com, GHEC with data residency, GitHub Enterprise Server) through
 * `@octokit/core` (`@octokit/rest` adds every endpoint's method: 3.4 MB of RSS and ~15 ms of
 * start-up for the two routes used here). Pages are followed by their `Link: rel="next"` here:
 * `@octokit/plugin-paginate-rest`'s iterator drops the request options after building the first
 * URL, so a page request ignored our AbortSignal and timeout and hung on a provider that never
 * answers.
 *
 * Status POSTs are paced the way GitHub asks (content-creating requests one at a time, a second
 * apart, which keeps a burst of statuses under the secondary rate limit; src/notifiers/_pacing.ts
 * says why not `@octokit/plugin-throttling`). Nothing here retries: each failure becomes a
 * {@linkcode ProviderError} carrying the wait GitHub asked for (Retry-After, x-ratelimit-reset),
 * and the outbox owns every retry, durably (see src/outbox/outbox.ts). `@octokit/plugin-retry` is not
 * used: it would be a second, in-memory retry loop for the 5xx and network errors the outbox
 * already retries.
 *
 * @module
 */
import { Octokit as OctokitCore } from "@octokit/core";
import type { GitRemote } from "./git_url.ts";
import { apiUrlFor, PROVIDER_TABLE } from "./providers.ts";
import { isJsonObject, noAnswer, notTheApi, providerFailure } from "./_errors.ts";
import { createPacer } from "./_pacing.ts";
import { providerFetch, REQUEST_TIMEOUT_MS, withTimeout } from "./_transport.ts";
import type { GitHubApp } from "./github_app.ts";
import {
  checkNotifierOptions,
  markedDescription,
  newestPerName,
  type Notifier,
  NotifierError,
  ProviderError,
  readMarked,
  type ReadStatus,
  type State,
  type Token,
  tokenValue,
} from "./notifier.ts";
import { rateLimitRemaining } from "./retry_after.ts";

const LABEL = PROVIDER_TABLE.github.label;
/** Who fails, in every ProviderError of this notifier. */
const WHO = { provider: "github", label: LABEL };

/** GitHub's state words. */
export type GitHubState = "pending" | "success" | "failure" | "error";

/** Our states → GitHub's. `canceled` has no GitHub word: `error` with a "Canceled: " prefix. */
export const TO_GITHUB = {
  pending: "pending",
  succeeded: "success",
  failed: "failure",
  canceled: "error",
} as const satisfies Record<State, GitHubState>;

/** GitHub's limit on a status description, in characters. */
export const GITHUB_DESCRIPTION_LIMIT = 140;

/** Octokit's logger, silenced: failures reach our log as ProviderErrors, once. */
export const SILENT = { debug() {}, info() {}, warn() {}, error() {} };

/** GitHub's advice: content-creating requests at least a second apart. */
const WRITE_SPACING_MS = 1000;

/** GitHub's state → ours; `error` is `canceled` only when we wrote it so (our marker, any case). */
export function fromGitHubState(state: string, description: string): State {
  return readMarked(TO_GITHUB, state, description).state;
}

/** Options for {@linkcode createGitHubNotifier}. */
export interface GitHubOptions {
  /** The repository. */
  remote: GitRemote;
  /** Token with commit status access (or how to read its current value); unused with `app`. */
  token: Token;
  /** Authenticate as this GitHub App installation instead of with `token`. */
  app?: GitHubApp;
  /** API base URL; @default derived from the remote */
  apiUrl?: string;
  /** PEM file of extra CA certificates to trust. */
  caFile?: string;
  /** Time source for rate-limit resets; @default Date.now */
  now?: () => number;
  /** Per-request timeout (a connection that never answers). @default 30000 */
  timeoutMs?: number;
}

/**
 * Creates the GitHub notifier.
 *
 * @example
 * ```ts
 * const gh = createGitHubNotifier({ remote: parseGitUrl("https://github.com/o/r"), token });
 * await gh.setStatus(sha, { name: "flux-status/dev/sync", state: "succeeded", description: "Synced" });
 * ```
 */
export function createGitHubNotifier(options: GitHubOptions): Notifier {
  const { remote, token, app, now = Date.now, timeoutMs = REQUEST_TIMEOUT_MS } = options;
  const baseUrl = checkNotifierOptions(
    app ? `${LABEL} as an app` : LABEL,
    app ? app.privateKey : token,
    apiUrlFor(remote, options.apiUrl),
  );
  const fetch = providerFetch(options.caFile);
  if (app && !/-----BEGIN (RSA )?PRIVATE KEY-----/.test(tokenValue(app.privateKey))) {
    throw new NotifierError(
      "Cannot use the GitHub App as --github-app-private-key is not a PEM private key: give the .pem file GitHub issued",
    );
  }
  // The app's auth library is loaded only for an app (a token needs none of it).
  let minting: Promise<() => Promise<string>> | undefined;
  const appToken = app
    ? async () => {
      minting ??= import("./github_app.ts").then((m) =>
        m.installationTokens(app, remote, { baseUrl, fetch })
      );
      return await (await minting)();
    }
    : undefined;
  const octokit = new OctokitCore({
    baseUrl,
    userAgent: "flux-status",
    log: SILENT,
    request: { retries: 0, fetch },
  });
  const paced = createPacer(WRITE_SPACING_MS);
  const { owner, repo } = remote;

  let remaining: number | undefined;
  const observe = (headers?: Record<string, string | number | undefined>) => {
    remaining = rateLimitRemaining(headers) ?? remaining;
  };
  // The token is read on every call: a rotated one takes effect at once, an app's is minted.
  octokit.hook.before("request", async (request) => {
    request.headers.authorization = `token ${appToken ? await appToken() : tokenValue(token)}`;
  });
  octokit.hook.after("request", (response) => observe(response.headers));
  octokit.hook.error("request", (error) => {
    observe((error as OctokitErrorShape).response?.headers);
    throw error;
  });

  /** Every status of a commit, newest first, 100 a page, each request under `signal`. */
  async function* statusPages(sha: string, signal?: AbortSignal) {
    const reading = { ...WHO, doing: `read statuses of ${sha.slice(0, 7)}` };
    let page = await octokit.request("GET /repos/{owner}/{repo}/commits/{ref}/statuses", {
      owner,
      repo,
      ref: sha,
      per_page: 100,
      request: { signal: withTimeout(signal, timeoutMs) },
    });
    for (;;) {
      // A login page or proxy answers 200 HTML: not the API's list.
      if (!Array.isArray(page.data)) {
        throw notTheApi(reading, page.status, "the JSON array its API returns");
      }
      yield page.data;
      const next = nextPage(page.headers.link);
      if (!next) return;
      page = await octokit.request({
        method: "GET",
        url: next,
        request: { signal: withTimeout(signal, timeoutMs) },
      }) as typeof page;
    }
  }

  function fail(err: unknown, doing: string): ProviderError {
    return toProviderError(err, doing, now());
  }

  return {
    provider: "github",
    get rateLimitRemaining() {
      return remaining;
    },
    async setStatus(sha, status, signal) {
      const description = markedDescription(status, GITHUB_DESCRIPTION_LIMIT);
      const doing = `set status on ${sha.slice(0, 7)}`;
      let created: { status: number; data: unknown };
      try {
        created = await paced(() =>
          octokit.request("POST /repos/{owner}/{repo}/statuses/{sha}", {
            owner,
            repo,
            sha,
            state: TO_GITHUB[status.state],
            context: status.name,
            description,
            ...(status.targetUrl ? { target_url: status.targetUrl } : {}),
            request: { signal: withTimeout(signal, timeoutMs) },
          }), signal);
      } catch (err) {
        throw fail(err, doing);
      }
      if (!isJsonObject(created.data)) {
        throw notTheApi(
          { ...WHO, doing },
          created.status,
          "the JSON status its API returns",
        );
      }
    },
    async listStatuses(sha, prefix, signal): Promise<ReadStatus[]> {
      let all;
      try {
        all = (await Array.fromAsync(statusPages(sha, signal))).flat();
      } catch (err) {
        throw fail(err, `read statuses of ${sha.slice(0, 7)}`);
      }
      const ours = all.filter((s) => s.context.toLowerCase().startsWith(prefix.toLowerCase()));
      return [...newestPerName(ours, (s) => s.context, (n) => n.toLowerCase()).values()]
        .map((s) => toReadStatus(s, s.context));
    },
    async getStatus(sha, name, signal): Promise<ReadStatus | undefined> {
      try {
        const pages = statusPages(sha, signal);
        for await (const page of pages) {
          const found = page.find((s) => s.context.toLowerCase() === name.toLowerCase());
          if (found) return toReadStatus(found, name);
        }
        return undefined;
      } catch (err) {
        throw fail(err, `read statuses of ${sha.slice(0, 7)}`);
      }
    },
  };
}

function toReadStatus(
  s: { state: string; description: string | null; target_url: string | null; updated_at: string },
  name: string,
): ReadStatus {
  return {
    name,
    ...readMarked(TO_GITHUB, s.state, s.description ?? ""),
    ...(s.target_url ? { targetUrl: s.target_url } : {}),
    updatedAt: s.updated_at,
  };
}

/** The `rel="next"` URL of a `Link` header, if any. */
function nextPage(link: string | undefined): string | undefined {
  return /<([^<>]+)>;\s*rel="next"/.exec(link ?? "")?.[1];
}

interface OctokitErrorShape {
  response?: {
    status: number;
    headers: Record<string, string | number | undefined>;
    data?: unknown;
  };
}

const HINTS: Record<number, string> = {
  401: "check the token is valid and not expired",
  403: "check the token has repo:status scope (fine-grained: Commit statuses read & write)",
  404: "check the repository exists and the token can see it",
  422: "check the commit exists in this repository",
};

function toProviderError(err: unknown, doing: string, now: number): ProviderError {
  if (err instanceof ProviderError) return err;
  const response = (err as OctokitErrorShape)?.response;
  if (!response) return noAnswer({ ...WHO, doing, now }, err);
  const data = response.data as { message?: string; errors?: { message?: string }[] } | undefined;
  const message = [data?.message, ...(data?.errors ?? []).map((x) => x.message)]
    .filter(Boolean).join(": ");
  return providerFailure({
    ...WHO,
    doing,
    status: response.status,
    message,
    headers: response.headers,
    now,
    hints: HINTS,
  });
}
