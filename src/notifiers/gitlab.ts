/**
 * GitLab commit statuses (gitlab.com, self-managed, Dedicated) through `@gitbeaker/core`'s
 * `Commits` resource. Gitbeaker's stock requester retries 429 and 502 ten times on its own and
 * drops Retry-After; here it gets a one-attempt requester instead, so the outbox stays the only
 * retry owner and sees GitLab's `Retry-After` / `RateLimit-Reset`.
 *
 * GitLab quirks handled (docs/providers.md): a status is an external job that moves through a state
 * machine. `pending` on a job that is already pending answers 400 "Cannot transition status via
 * :enqueue from :pending": the notifier reads the status back and, when GitLab already shows the
 * wanted state, counts it delivered (no retry loop); a final state always lands, as GitLab opens
 * a new job once the old one finished. 409 (a concurrent update of the same commit) is retried.
 * Without `ref`, GitLab attaches the status to the first branch holding the commit, creating an
 * external pipeline when the commit has none.
 *
 * @module
 */
import { Commits } from "@gitbeaker/core";
import { createRequesterFn } from "@gitbeaker/requester-utils";
import type { GitRemote } from "./git_url.ts";
import { apiUrlFor, PROVIDER_TABLE } from "./providers.ts";
import { isJsonObject, noAnswer, notTheApi, providerFailure } from "./_errors.ts";
import { providerFetch, withTimeout } from "./_transport.ts";
import {
  checkNotifierOptions,
  newestPerName,
  type Notifier,
  ProviderError,
  type ReadStatus,
  type State,
  stateFor,
  type Token,
  tokenValue,
  truncate,
} from "./notifier.ts";
import { rateLimitRemaining } from "./retry_after.ts";

const LABEL = PROVIDER_TABLE.gitlab.label;
/** Who fails, in every ProviderError of this notifier. */
const WHO = { provider: "gitlab", label: LABEL };

/** The states GitLab accepts on create. */
export type GitLabState = "pending" | "running" | "success" | "failed" | "canceled";

/** Our states → GitLab's. */
export const TO_GITLAB = {
  pending: "pending",
  succeeded: "success",
  failed: "failed",
  canceled: "canceled",
} as const satisfies Record<State, GitLabState>;

/** GitLab's job states → ours (everything in progress is pending). */
export function fromGitLabState(status: string): State {
  const own = stateFor<string>(TO_GITLAB, status);
  if (own) return own;
  if (["canceling", "skipped"].includes(status)) return "canceled";
  if (
    ["created", "waiting_for_resource", "preparing", "running", "manual", "scheduled"].includes(
      status,
    )
  ) return "pending";
  return "failed";
}

/** Description limit we keep to (GitLab documents none; job fields are 255 characters). */
export const GITLAB_DESCRIPTION_LIMIT = 255;

/** Options for {@linkcode createGitLabNotifier}. */
export interface GitLabOptions {
  /** The repository. */
  remote: GitRemote;
  /** Token with api scope. */
  token: Token;
  /** API base URL, ending in `/api/v4`; @default derived from the remote */
  apiUrl?: string;
  /** PEM file of extra CA certificates to trust. */
  caFile?: string;
  /** Time source for rate-limit resets; @default Date.now */
  now?: () => number;
}

/** An HTTP failure as the one-attempt requester reports it. */
class GitLabHttpError extends Error {
  constructor(readonly status: number, readonly headers: Headers, message: string) {
    super(message);
  }
}

async function oneAttempt(
  fetchFn: typeof fetch,
  endpoint: string,
  options?: Record<string, unknown>,
) {
  const { prefixUrl, searchParams, method, headers, body, signal } = (options ?? {}) as {
    prefixUrl?: string;
    searchParams?: string;
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    signal?: AbortSignal;
  };
  const url = new URL(endpoint, prefixUrl?.endsWith("/") ? prefixUrl : `${prefixUrl}/`);
  url.search = searchParams ?? "";
  const response = await fetchFn(url, {
    method: method ?? "GET",
    headers: { ...headers, "user-agent": "flux-status" },
    ...(body !== undefined ? { body } : {}),
    signal: withTimeout(signal),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch { /* plain text, e.g. "Retry later" */ }
  if (!response.ok) {
    const data = parsed as { message?: unknown; error?: unknown } | string | null;
    const message = typeof data === "string"
      ? data.trim().slice(0, 200)
      : typeof data?.message === "string"
      ? data.message
      : JSON.stringify(data?.message ?? data?.error ?? "");
    throw new GitLabHttpError(response.status, response.headers, message);
  }
  return {
    body: parsed as Record<string, unknown>,
    headers: Object.fromEntries(response.headers.entries()),
    status: response.status,
  };
}

/**
 * A one-attempt requester whose requests end when `signal` aborts; `observe` sees every answer's
 * headers (for the rate-limit remaining).
 */
function requesterWith(
  signal: AbortSignal | undefined,
  observe: (headers: Headers) => void,
  fetchFn: typeof fetch,
) {
  return createRequesterFn(
    (_, options) => Promise.resolve(signal ? { ...options, signal } : options),
    async (endpoint: string, options?: Record<string, unknown>) => {
      try {
        const answer = await oneAttempt(fetchFn, endpoint, options);
        observe(new Headers(answer.headers));
        return answer;
      } catch (err) {
        if (err instanceof GitLabHttpError) observe(err.headers);
        throw err;
      }
    },
  );
}

const HINTS: Record<number, string> = {
  401: "check the token is valid and not expired",
  403: "check the token has api scope and at least the Developer role",
  404: "check the project path, that the token can see it, and that the commit is on a branch",
};

interface GitLabJob {
  id: number;
  status: string;
  name: string;
  description: string | null;
  target_url: string | null;
  created_at?: string;
  finished_at?: string | null;
}

/**
 * Creates the GitLab notifier; the project is addressed by its URL-encoded full path.
 *
 * @example
 * ```ts
 * const gl = createGitLabNotifier({ remote: parseGitUrl("git@gitlab.com:group/sub/app.git"), token });
 * ```
 */
export function createGitLabNotifier(options: GitLabOptions): Notifier {
  const { remote, token, now = Date.now } = options;
  const apiUrl = checkNotifierOptions(LABEL, token, apiUrlFor(remote, options.apiUrl));
  const host = apiUrl.replace(/\/api\/v4$/, "");
  let remaining: number | undefined;
  const observe = (headers: Headers) => {
    remaining = rateLimitRemaining(headers) ?? remaining;
  };
  const fetchFn = providerFetch(options.caFile);
  // Gitbeaker cannot take a signal per call, so each call gets a resource bound to its signal.
  const commits = (signal?: AbortSignal) =>
    new Commits({
      host,
      token: tokenValue(token),
      requesterFn: requesterWith(signal, observe, fetchFn),
      rateLimits: {},
      queryTimeout: null,
    });
  const project = `${remote.owner}/${remote.repo}`;

  const fail = (err: unknown, doing: string): ProviderError => {
    if (err instanceof ProviderError) return err;
    if (err instanceof GitLabHttpError) {
      return providerFailure({
        ...WHO,
        doing,
        status: err.status,
        message: err.message,
        headers: err.headers,
        now: now(),
        hints: HINTS,
      });
    }
    return noAnswer({ ...WHO, doing, now: now() }, err);
  };

  /** The newest job of each name (only `name`'s when given) on a commit. */
  async function newestJobs(sha: string, name: string | undefined, signal?: AbortSignal) {
    let jobs: GitLabJob[];
    try {
      jobs = await commits(signal).allStatuses(
        project,
        sha,
        name ? { name } : {},
      ) as unknown as GitLabJob[];
    } catch (err) {
      throw fail(err, `read statuses of ${sha.slice(0, 7)}`);
    }
    if (!Array.isArray(jobs)) {
      // A login page or proxy answers 200 HTML: not the API's list.
      throw notTheApi(
        { ...WHO, doing: `read statuses of ${sha.slice(0, 7)}` },
        200,
        "the JSON array its API returns",
      );
    }
    const newestFirst = jobs.slice().sort((a, b) => b.id - a.id);
    return [...newestPerName(newestFirst, (j) => j.name).values()].map((job): ReadStatus => ({
      name: job.name,
      state: fromGitLabState(job.status),
      description: job.description ?? "",
      ...(job.target_url ? { targetUrl: job.target_url } : {}),
      ...(job.finished_at ?? job.created_at
        ? { updatedAt: (job.finished_at ?? job.created_at)! }
        : {}),
    }));
  }

  async function getStatus(sha: string, name: string, signal?: AbortSignal) {
    return (await newestJobs(sha, name, signal)).find((s) => s.name === name);
  }

  return {
    provider: "gitlab",
    get rateLimitRemaining() {
      return remaining;
    },
    async setStatus(sha, status, signal) {
      const doing = `set status on ${sha.slice(0, 7)}`;
      let created: { data: unknown; status: number };
      try {
        created = await commits(signal).editStatus(project, sha, TO_GITLAB[status.state], {
          name: status.name,
          description: truncate(status.description, GITLAB_DESCRIPTION_LIMIT),
          ...(status.targetUrl ? { targetUrl: status.targetUrl } : {}),
          showExpanded: true,
        });
      } catch (err) {
        if (
          err instanceof GitLabHttpError && err.status === 400 &&
          /cannot transition status/i.test(err.message)
        ) {
          const current = await getStatus(sha, status.name, signal);
          if (current?.state === status.state) return; // already there: nothing to retry
          throw new ProviderError(
            `Cannot ${doing} as GitLab refused the transition to ${TO_GITLAB[status.state]} (now ${
              current?.state ?? "absent"
            }): ${err.message}`,
            { provider: "gitlab", status: 400, kind: "rejected" },
          );
        }
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
    getStatus,
    async listStatuses(sha, prefix, signal) {
      return (await newestJobs(sha, undefined, signal)).filter((s) => s.name.startsWith(prefix));
    },
  };
}
