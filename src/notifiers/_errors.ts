/**
 * One policy for turning a provider's HTTP failure into a {@linkcode ProviderError}, shared by
 * every notifier so that retryability means the same everywhere (the outbox acts on it).
 *
 * @module
 */
import { type HeaderSource, retryAfterMs } from "./retry_after.ts";
import { ProviderError } from "./notifier.ts";

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

/**
 * Builds the ProviderError for a failure: network errors, 5xx, 408, 409, 429 and rate limits are
 * retryable (at least after the provider's wait); 401/403 are retryable slowly (a fixed or rotated
 * token may still deliver); any other 4xx is final.
 */
export function providerFailure(f: Failure): ProviderError {
  if (f.status === 0) {
    return new ProviderError(
      `Cannot ${f.doing} as ${f.label} could not be reached: ${f.message}`,
      { provider: f.provider, status: 0, retryable: true, cause: f.cause },
    );
  }
  const wait = f.headers ? retryAfterMs(f.headers, f.now) : undefined;
  const rateLimited = f.status === 429 ||
    (f.status === 403 && (wait !== undefined || /rate limit/i.test(f.message)));
  const retryable = rateLimited || f.status >= 500 || [401, 403, 408, 409].includes(f.status);
  const hint = rateLimited ? "waiting for the rate limit to reset" : f.hints?.[f.status] ??
    (f.status >= 500 ? `${f.label} had a problem, will try again` : "check the request");
  return new ProviderError(
    `Cannot ${f.doing} as ${f.label} answered ${f.status} ${
      f.message || "with no message"
    }: ${hint}`,
    {
      provider: f.provider,
      status: f.status,
      retryable,
      retryAfterMs: rateLimited ? (wait ?? 60_000) : wait,
    },
  );
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
  const timedOut = err instanceof Error && err.name === "TimeoutError";
  return providerFailure({
    ...f,
    status: 0,
    message: timedOut ? "the request timed out" : "no response arrived",
  });
}
