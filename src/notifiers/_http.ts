/**
 * The one HTTP helper of the notifiers that have no SDK (Bitbucket Cloud, Bitbucket Data Center,
 * Gitea/Forgejo): `fetch` with a request timeout and the caller's AbortSignal, JSON in and out,
 * the provider's JSON error body turned into its message, and every failure (including no answer
 * at all) turned into a {@linkcode ProviderError} by the shared policy in `_errors.ts`, so
 * Retry-After and rate-limit headers count the same as for the SDK-based notifiers.
 *
 * @module
 */
import { isJsonObject, noAnswer, notTheApi, providerFailure } from "./_errors.ts";
import type { ProviderError } from "./notifier.ts";
import { withTimeout } from "./_transport.ts";
import { rateLimitRemaining } from "./retry_after.ts";

/** Options of {@linkcode createHttpClient}. */
export interface HttpClientOptions {
  /** Provider name, e.g. `gitea`. */
  provider: string;
  /** Provider name as people write it, e.g. `Gitea`. */
  label: string;
  /** API base URL, without a trailing slash. */
  baseUrl: string;
  /** The Authorization header value (read on every call). */
  authorization: () => string;
  /** More headers sent on every call. */
  headers?: Record<string, string>;
  /** Fix hints by HTTP status, e.g. `{ 401: "check the token" }`. */
  hints?: Record<number, string>;
  /** Time source for rate-limit resets. @default Date.now */
  now?: () => number;
  /** Per-request timeout. @default 30000 */
  timeoutMs?: number;
  /** The fetch to call through (`providerFetch`: proxy and CA). @default fetch */
  fetch?: typeof fetch;
}

/** One call. */
export interface HttpRequest {
  method: "GET" | "POST" | "PUT";
  /** Path below the base URL, already encoded, starting with `/`. */
  path: string;
  query?: Record<string, string | number>;
  /** Sent as JSON. */
  body?: unknown;
  signal?: AbortSignal | undefined;
  /** What is being done, for error messages: `set status on 3f2a9c1`. */
  doing: string;
  /** Statuses answered as a result rather than thrown (e.g. 404 for "no such status"). */
  accept?: number[];
  /**
   * What a 2xx must carry: a JSON array or object, or `nothing` (no body, or JSON); anything else
   * (an HTML page from a proxy, say) is a failure, so a write counts only on the API's own answer.
   */
  expect?: "array" | "object" | "nothing";
}

/** An answer. */
export interface HttpResponse<T> {
  status: number;
  headers: Headers;
  /** The parsed JSON body; undefined when empty. */
  data: T;
}

/** A provider's HTTP API. */
export interface HttpClient {
  /**
   * Makes one call.
   *
   * @throws {ProviderError} on a non-2xx answer not in `accept`, or no answer
   */
  request<T>(req: HttpRequest): Promise<HttpResponse<T>>;
  /** The rate-limit remaining the provider reported on its last answer, if it reports one. */
  readonly rateLimitRemaining: number | undefined;
}

/** Creates the client of one provider's API. */
export function createHttpClient(o: HttpClientOptions): HttpClient {
  const now = o.now ?? Date.now;
  let remaining: number | undefined;
  const failure = (doing: string) => ({
    provider: o.provider,
    label: o.label,
    doing,
    now: now(),
    ...(o.hints ? { hints: o.hints } : {}),
  });

  return {
    get rateLimitRemaining() {
      return remaining;
    },
    async request<T>(req: HttpRequest): Promise<HttpResponse<T>> {
      const url = new URL(o.baseUrl + req.path);
      for (const [k, v] of Object.entries(req.query ?? {})) url.searchParams.set(k, String(v));
      let res: Response;
      try {
        res = await (o.fetch ?? fetch)(url, {
          method: req.method,
          headers: {
            accept: "application/json",
            authorization: o.authorization(),
            "user-agent": "flux-status",
            ...(req.body === undefined ? {} : { "content-type": "application/json" }),
            ...o.headers,
          },
          ...(req.body === undefined ? {} : { body: JSON.stringify(req.body) }),
          signal: withTimeout(req.signal, o.timeoutMs),
        });
      } catch (err) {
        if (req.signal?.aborted) throw err; // called off: not the provider's failure
        throw noAnswer(failure(req.doing), err);
      }
      remaining = rateLimitRemaining(res.headers) ?? remaining;
      const text = await res.text().catch(() => "");
      const data = parseJson(text);
      if (res.ok && req.expect && !shaped(text, data, req.expect)) {
        throw notTheApi(
          failure(req.doing),
          res.status,
          req.expect === "nothing"
            ? "an answer its API gives"
            : `the JSON ${req.expect} its API returns`,
        );
      }
      if (res.ok || req.accept?.includes(res.status)) {
        return { status: res.status, headers: res.headers, data: data as T };
      }
      throw providerError(req.doing, res, data ?? text);
    },
  };

  function providerError(doing: string, res: Response, body: unknown): ProviderError {
    return providerFailure({
      ...failure(doing),
      status: res.status,
      message: providerMessage(body),
      headers: res.headers,
    });
  }
}

function shaped(text: string, data: unknown, expect: "array" | "object" | "nothing"): boolean {
  if (expect === "nothing") return text.trim() === "" || data !== undefined;
  return expect === "array" ? Array.isArray(data) : isJsonObject(data);
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The provider's own words from an error body: `{message}` (Gitea, GitLab), `{error: {message,
 * detail, fields}}` (Bitbucket Cloud), `{errors: [{message}]}` (Bitbucket Data Center),
 * `{error: "…"}`, or a short plain-text body.
 */
export function providerMessage(body: unknown): string {
  if (typeof body === "string") return body.trim().slice(0, 200);
  if (!body || typeof body !== "object") return "";
  const b = body as Record<string, unknown>;
  const parts: string[] = [];
  if (typeof b.message === "string") parts.push(b.message);
  if (typeof b.error === "string") parts.push(b.error);
  if (b.error && typeof b.error === "object") {
    const e = b.error as { message?: unknown; detail?: unknown; fields?: unknown };
    if (typeof e.message === "string") parts.push(e.message);
    if (typeof e.detail === "string") parts.push(e.detail);
    if (e.fields && typeof e.fields === "object") {
      for (const [field, problems] of Object.entries(e.fields)) {
        parts.push(`${field}: ${[problems].flat().join(", ")}`);
      }
    }
  }
  if (Array.isArray(b.errors)) {
    for (const e of b.errors) {
      if (e && typeof e === "object" && typeof e.message === "string") parts.push(e.message);
    }
  }
  return parts.join(": ");
}
