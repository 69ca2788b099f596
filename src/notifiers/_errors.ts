/**
 * One policy for turning a provider's HTTP failure into a {@linkcode ProviderError} with its
 * {@linkcode FailureKind}, shared by every notifier so that a kind means the same everywhere (the
 * outbox, the provider pause and the gate act on it).
 *
 * @module
 */
import { type HeaderSource, retryAfterMs } from "./retry_after.ts";
import { type FailureKind, ProviderError } from "./notifier.ts";
import { RedirectedWrite } from "./_transport.ts";

/** Facts about one failed call. */
export interface Failure {
  /** Provider name, e.g. `gitlab`. */
  provider: string;
  /** Provider name as people write it, e.g. `GitLab`. */
  label: string;
  /** What was being done: `set status on 3f2a9c1`. */
  doing: string;
  /** HTTP status, 0 when no response arrived. */
  status: number;
  /** The provider's own message. */
  message: string;
  /** Response headers, for Retry-After and rate-limit resets. */
  headers?: HeaderSource;
  /** Current time, epoch ms. */
  now: number;
  /** Fix hints by status, e.g. `{ 401: "check the token" }`. */
  hints?: Record<number, string>;
  /** The underlying error, for a network failure only (never a request object). */
  cause?: unknown;
}

/** A 403/429 text that says a rate limit was hit (GitHub's primary and secondary limits, Azure's TF400733). */
const RATE_LIMIT_TEXT = /rate limit|TF400733/i;

/** Wait for a rate limit that names no reset: GitHub's documented rule, at least a minute. */
const DEFAULT_RATE_LIMIT_WAIT_MS = 60_000;

/**
 * The longest wait a provider's answer can ask for. A far Retry-After or reset (a clock gone
 * wrong, a proxy's odd header) would otherwise stop every call for days; after this one call
 * goes out as a probe, and a provider still limited says so again.
 */
export const MAX_PROVIDER_WAIT_MS = 3_600_000;

/**
 * Builds the ProviderError for a failure, deciding its kind once for every consumer:
 * - no answer, 5xx, 408, 409: `transient`;
 * - 429, or 403/503 with Retry-After, `x-ratelimit-remaining: 0` or a rate-limit message:
 *   `rateLimited`, waiting at least what the provider asked (a minute when it did not say);
 * - 401 and any other 403: `auth`;
 * - any other 4xx: `rejected`.
 */
export function providerFailure(f: Failure): ProviderError {
  if (f.status === 0) {
    return new ProviderError(
      `Cannot ${f.doing} as ${f.label} could not be reached: ${f.message}`,
      { provider: f.provider, status: 0, kind: "transient", cause: f.cause },
    );
  }
  const asked = f.headers ? retryAfterMs(f.headers, f.now) : undefined;
  const wait = asked === undefined ? undefined : Math.min(asked, MAX_PROVIDER_WAIT_MS);
  const kind = kindOf(f.status, f.message, wait);
  const hint = asked !== undefined && asked > MAX_PROVIDER_WAIT_MS
    ? `it asked to wait ${Math.round(asked / 1000)} s, more than the 1 h flux-status waits at most`
    : kind === "rateLimited"
    ? "pausing calls until the rate limit resets"
    : f.hints?.[f.status] ??
      (f.status >= 500 ? `${f.label} had a problem, will try again` : "check the request");
  return new ProviderError(
    `Cannot ${f.doing} as ${f.label} answered ${f.status} ${
      f.message || "with no message"
    }: ${hint}`,
    {
      provider: f.provider,
      status: f.status,
      kind,
      ...(kind === "rateLimited"
        ? { retryAfterMs: wait ?? DEFAULT_RATE_LIMIT_WAIT_MS }
        : wait !== undefined
        ? { retryAfterMs: wait }
        : {}),
    },
  );
}

function kindOf(status: number, message: string, wait: number | undefined): FailureKind {
  if (status === 429 || (RATE_LIMIT_TEXT.test(message) && [403, 503].includes(status))) {
    return "rateLimited";
  }
  if (status === 403 && wait !== undefined) return "rateLimited";
  if (status === 401 || status === 403) return "auth";
  if (status >= 500 || status === 408 || status === 409) return "transient";
  return "rejected";
}

/**
 * The ProviderError for a call that got no HTTP answer (network error or timeout).
 *
 * @param f who, what, when; `status`, `message` and `headers` are filled in here
 * @param err what the HTTP client threw
 */
export function noAnswer(
  f: Omit<Failure, "status" | "message" | "headers">,
  err: unknown,
): ProviderError {
  // Octokit wraps what fetch threw; the timeout (or the redirect) is then its cause.
  let timedOut = false;
  for (let e: unknown = err; e instanceof Error && !timedOut; e = e.cause) {
    timedOut = e.name === "TimeoutError";
    if (e instanceof RedirectedWrite) return redirected(f, e);
  }
  return providerFailure({
    ...f,
    status: 0,
    message: timedOut ? "the request timed out" : "no response arrived",
  });
}

/**
 * A write answered with a redirect: the address is not the API (or a login page stands in front
 * of it). Every status would meet the same, so it pauses calls like a refused token, and the
 * statuses wait for the configuration to be fixed.
 */
function redirected(
  f: Omit<Failure, "status" | "message" | "headers">,
  e: RedirectedWrite,
): ProviderError {
  return new ProviderError(
    `Cannot ${f.doing} as ${f.label}'s address ${e.message}, not the API's own answer: check --api-url points at the ${f.label} API itself (not its web address, a login page or a proxy in front of it)`,
    { provider: f.provider, status: e.status, kind: "auth" },
  );
}

/**
 * A 2xx without the answer the API gives (no JSON where it returns JSON: a proxy's or a login
 * page's HTML). Not a delivery; transient, as the API may answer again behind it.
 *
 * @param f who and what
 * @param status the 2xx status
 * @param what what the API returns, e.g. `the JSON object its API returns`
 */
export function notTheApi(
  f: Pick<Failure, "provider" | "label" | "doing">,
  status: number,
  what: string,
): ProviderError {
  return new ProviderError(
    `Cannot ${f.doing} as ${f.label} answered ${status} without ${what}: check --api-url points at the API (a proxy or login page answers HTML)`,
    { provider: f.provider, status, kind: "transient" },
  );
}

/** Whether a parsed body is a JSON object (not an array, not text). */
export function isJsonObject(data: unknown): boolean {
  return typeof data === "object" && data !== null && !Array.isArray(data);
}
