/**
 * How long a provider asked us to wait, read from its response headers. Which service sends what:
 * - `retry-after` (seconds or an HTTP date): GitHub secondary limits, GitLab 429, Azure DevOps 429.
 * - `x-ratelimit-remaining: 0` + `x-ratelimit-reset` (epoch seconds): GitHub primary limit,
 *   Azure DevOps.
 * - `ratelimit-remaining: 0` + `ratelimit-reset` (epoch seconds): GitLab.
 *
 * @module
 */

/** Header lookup, as `Headers#get` or a lower-cased record. */
export type HeaderSource = Headers | Record<string, string | number | undefined>;

function header(headers: HeaderSource, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const value = headers[name] ?? headers[name.toLowerCase()];
  return value === undefined ? undefined : String(value);
}

/**
 * Reads the wait a response asks for, in milliseconds from `now`.
 *
 * @param headers the response headers
 * @param now current time in epoch milliseconds
 * @returns the wait, or undefined when the headers ask for none
 * @example
 * ```ts
 * retryAfterMs(new Headers({ "retry-after": "30" }), Date.now()); // 30000
 * ```
 */
export function retryAfterMs(headers: HeaderSource, now: number): number | undefined {
  const retryAfter = header(headers, "retry-after");
  if (retryAfter !== undefined) {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  for (const prefix of ["x-ratelimit", "ratelimit"]) {
    if (header(headers, `${prefix}-remaining`) !== "0") continue;
    const reset = Number(header(headers, `${prefix}-reset`));
    if (Number.isFinite(reset) && reset > 0) return Math.max(0, reset * 1000 - now) + 1000;
  }
  return undefined;
}

/**
 * The calls left in the provider's rate-limit window, when its answer says
 * (`x-ratelimit-remaining`: GitHub, Azure DevOps, Gitea behind some proxies; `ratelimit-remaining`:
 * GitLab); undefined otherwise.
 *
 * @param headers the response headers
 */
export function rateLimitRemaining(headers: HeaderSource | undefined): number | undefined {
  if (!headers) return undefined;
  const value = header(headers, "x-ratelimit-remaining") ?? header(headers, "ratelimit-remaining");
  const n = Number(value);
  return value !== undefined && value !== "" && Number.isFinite(n) ? n : undefined;
}
