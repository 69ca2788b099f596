/**
 * A fake GitHub REST API for commit statuses. Every request is checked against GitHub's official
 * OpenAPI description (dev/fixtures/specs/github/, trimmed from npm `@octokit/openapi`); a request the description does not allow is
 * recorded in `violations` and answered 422 as GitHub would. It answers like GitHub: 201 with the
 * created status, newest-first lists with Link pagination, 401/404/422 error bodies, the primary
 * rate limit (403 + `x-ratelimit-remaining: 0` + `x-ratelimit-reset`), the secondary limit
 * (403/429 + `retry-after`) and 5xx, scripted per test through `faults`.
 *
 * @module
 */
import type { State } from "../../src/notifiers/notifier.ts";
import { ApiSpec } from "./openapi.ts";
import { type FakeForge, json, startFakeServer } from "./_server.ts";

let cachedSpec: ApiSpec | undefined;

function githubSpec(): ApiSpec {
  if (!cachedSpec) {
    const file = new URL("../fixtures/specs/github/api.github.com.statuses.json", import.meta.url);
    cachedSpec = new ApiSpec(JSON.parse(Deno.readTextFileSync(file)));
  }
  return cachedSpec;
}

/** A status as the fake stores it (GitHub's fields). */
export interface GitHubStatus {
  id: number;
  state: string;
  description: string | null;
  target_url: string | null;
  context: string;
  created_at: string;
  updated_at: string;
}

/** Options of {@linkcode startFakeGitHub}. */
export interface FakeGitHubOptions {
  /** Serve HTTPS with the test CA's certificate. */
  tls?: boolean;
  /** Tokens that authenticate. @default ["test-token"] */
  tokens?: string[];
  /** Repositories that exist, `owner/repo`. @default ["acme/app"] */
  repos?: string[];
  /** Path prefix of the API: GitHub Enterprise Server's, as a loopback address is no `api.` host. @default "/api/v3" */
  prefix?: string;
  /** Called with each status created. */
  onStatus?: (sha: string, status: GitHubStatus) => void;
  /** Requests per window before the primary rate limit answers 403. @default 5000 */
  rateLimit?: number;
  /** Seconds until the rate-limit window resets (x-ratelimit-reset). @default 3600 */
  rateLimitResetSeconds?: number;
  /** Answer each status POST this late, in ms, as a slow GitHub would (benchmarks). @default 0 */
  answerDelayMs?: number;
  /** A GitHub App installed on the repositories: its ID, public key (SPKI PEM), installation. */
  app?: { id: number; publicKey: string; installationId: number };
}

/** A running fake GitHub. */
export interface FakeGitHub extends FakeForge {
  /** API base URL (for `--api-url`). */
  url: string;
  /** Statuses per `owner/repo@sha`, newest first. */
  statuses: Map<string, GitHubStatus[]>;
  /** Statuses of one commit, newest first, in GitHub's words. */
  statusesOf(sha: string, repo?: string): GitHubStatus[];
  /** Installation tokens minted (POST /app/installations/{id}/access_tokens), in order. */
  appTokens: string[];
  /** Statuses created with an installation token: posted by the app, not a person. */
  byApp: number;
}

const DOCS = "https://docs.github.com/rest";

/**
 * How the fake reads GitHub's words in our terms, with its own table (never the product's, so a
 * mapping bug can fail a test): `error` is canceled only behind our marker, in any case.
 */
const OUR_STATE: Record<string, State> = {
  pending: "pending",
  success: "succeeded",
  failure: "failed",
};
const CANCELED = /^canceled:\s*/i;

function ourState(state: string, description: string): State {
  if (state === "error") return CANCELED.test(description) ? "canceled" : "failed";
  return OUR_STATE[state] ?? "failed";
}

/** Starts the fake on a free loopback port. */
export function startFakeGitHub(options: FakeGitHubOptions = {}): Promise<FakeGitHub> {
  const prefix = options.prefix ?? "/api/v3";
  const repos = new Set(options.repos ?? ["acme/app"]);
  const tokens = new Set(options.tokens ?? ["test-token"]);
  const statuses = new Map<string, GitHubStatus[]>();
  let nextId = 1;
  const limit = options.rateLimit ?? 5000;
  const reset = Math.floor(Date.now() / 1000) + (options.rateLimitResetSeconds ?? 3600);
  let remaining = limit;
  const rateHeaders = () => ({
    "x-ratelimit-limit": String(limit),
    "x-ratelimit-remaining": String(remaining),
    "x-ratelimit-used": String(limit - remaining),
    "x-ratelimit-reset": String(reset),
    "x-ratelimit-resource": "core",
  });
  const answer = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    json(status, body, { ...rateHeaders(), ...headers });

  const appTokens: string[] = [];
  let byApp = 0;
  /** The app endpoints (outside the trimmed description): JWT checked like GitHub does. */
  async function appRoute(request: Request, path: string): Promise<Response | undefined> {
    const app = options.app;
    const installation = /^\/repos\/([^/]+)\/([^/]+)\/installation$/.exec(path);
    const mint = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(path);
    if (!app || (!installation && !mint)) return undefined;
    const jwt = /^bearer\s+(.+)$/i.exec(request.headers.get("authorization") ?? "")?.[1] ?? "";
    if (!(await validAppJwt(jwt, app))) {
      return answer(401, {
        message: "A JSON web token could not be decoded",
        documentation_url: DOCS,
        status: "401",
      });
    }
    if (installation && request.method === "GET") {
      if (!repos.has(`${installation[1]}/${installation[2]}`)) {
        return answer(404, { message: "Not Found", documentation_url: DOCS });
      }
      return answer(200, { id: app.installationId, app_id: app.id, target_type: "Organization" });
    }
    if (mint && request.method === "POST" && Number(mint[1]) === app.installationId) {
      const token = `ghs_${crypto.randomUUID().replaceAll("-", "")}`;
      appTokens.push(token);
      tokens.add(token);
      const expires = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, "Z");
      return answer(201, { token, expires_at: expires, permissions: { statuses: "write" } });
    }
    return answer(404, { message: "Not Found", documentation_url: DOCS });
  }

  const server = startFakeServer({
    tls: options.tls,
    extra: (request, path) => appRoute(request, path),
    spec: githubSpec(),
    prefix,
    authorize(request) {
      if (!request.headers.get("user-agent")) {
        return answer(403, {
          message:
            "Request forbidden by administrative rules. Please make sure your request has a User-Agent header",
        });
      }
      const token = /^(?:token|bearer)\s+(.+)$/i.exec(request.headers.get("authorization") ?? "")
        ?.[1];
      if (!token || !tokens.has(token)) {
        return answer(401, { message: "Bad credentials", documentation_url: DOCS, status: "401" });
      }
    },
    invalid(violations, operation) {
      if (!operation) return answer(404, { message: "Not Found", documentation_url: DOCS });
      return answer(422, {
        message: "Invalid request.",
        errors: violations.map((v) => `${v.where} ${v.message}`),
        documentation_url: DOCS,
      });
    },
    route({ url, path, body, operation, request }) {
      const by =
        /^(?:token|bearer)\s+(.+)$/i.exec(request.headers.get("authorization") ?? "")?.[1] ?? "";
      const m =
        /^\/repos\/([^/]+)\/([^/]+)\/(?:statuses\/([^/]+)|commits\/([^/]+)\/(statuses|status))$/
          .exec(path);
      if (!m) return answer(404, { message: "Not Found", documentation_url: DOCS });
      const repo = `${m[1]}/${m[2]}`;
      if (!repos.has(repo)) return answer(404, { message: "Not Found", documentation_url: DOCS });
      if (remaining === 0) {
        return answer(403, {
          message:
            "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID.",
          documentation_url:
            "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api",
        });
      }
      remaining--;
      if (operation === "repos/create-commit-status") {
        const delay = options.answerDelayMs ?? 0;
        if (delay > 0) {
          return new Promise<Response>((resolve) =>
            setTimeout(() => resolve(create(url, repo, m[3]!, body, by)), delay)
          );
        }
        return create(url, repo, m[3]!, body, by);
      }
      const list = statuses.get(`${repo}@${m[4]}`) ?? [];
      return m[5] === "statuses" ? page(url, list) : combined(m[4]!, list);
    },
  });

  function create(url: URL, repo: string, sha: string, body: unknown, by: string): Response {
    const input = body as {
      state: string;
      description?: string | null;
      target_url?: string | null;
      context?: string;
    };
    if (!/^[0-9a-f]{40}$/.test(sha)) {
      return answer(422, { message: `No commit found for SHA: ${sha}`, documentation_url: DOCS });
    }
    const validation = (field: string, message: string) =>
      answer(422, {
        message: "Validation Failed",
        errors: [{ resource: "Status", code: "custom", field, message }],
        documentation_url: DOCS,
      });
    if ((input.description?.length ?? 0) > 140) {
      return validation("description", "description is too long (maximum is 140 characters)");
    }
    const list = statuses.get(`${repo}@${sha}`) ?? [];
    const context = input.context ?? "default";
    if (list.filter((s) => s.context.toLowerCase() === context.toLowerCase()).length >= 1000) {
      return validation(
        "context",
        "This SHA and context has reached the maximum number of statuses.",
      );
    }
    if (appTokens.includes(by)) byApp++;
    const now = new Date().toISOString();
    const status: GitHubStatus = {
      id: nextId++,
      state: input.state,
      description: input.description ?? null,
      target_url: input.target_url ?? null,
      context,
      created_at: now,
      updated_at: now,
    };
    statuses.set(`${repo}@${sha}`, [status, ...list]);
    options.onStatus?.(sha, status);
    const location = `${url.origin}${prefix}/repos/${repo}/statuses/${sha}`;
    return answer(201, {
      url: location,
      node_id: `SC_${status.id}`,
      avatar_url: null,
      creator: null,
      ...status,
    }, {
      location,
    });
  }

  function page(url: URL, list: GitHubStatus[]): Response {
    const perPage = Number(url.searchParams.get("per_page") ?? 30);
    const n = Number(url.searchParams.get("page") ?? 1);
    const headers: Record<string, string> = {};
    if (n * perPage < list.length) {
      const next = new URL(url);
      next.searchParams.set("page", String(n + 1));
      headers.link = `<${next}>; rel="next"`;
    }
    const items = list.slice((n - 1) * perPage, n * perPage)
      .map((s) => ({ url: "", node_id: `SC_${s.id}`, avatar_url: null, creator: null, ...s }));
    return answer(200, items, headers);
  }

  function combined(sha: string, list: GitHubStatus[]): Response {
    const latest = new Map<string, GitHubStatus>();
    for (const s of list) {
      if (!latest.has(s.context.toLowerCase())) latest.set(s.context.toLowerCase(), s);
    }
    const all = [...latest.values()];
    const state = all.some((s) => s.state === "error" || s.state === "failure")
      ? "failure"
      : all.length === 0 || all.some((s) => s.state === "pending")
      ? "pending"
      : "success";
    return answer(200, { state, sha, total_count: all.length, statuses: all });
  }

  const statusesOf = (sha: string, repo = [...repos][0]!) => statuses.get(`${repo}@${sha}`) ?? [];
  return Promise.resolve({
    ...server,
    appTokens,
    get byApp() {
      return byApp;
    },
    url: `${server.origin}${prefix}`,
    statuses,
    tokens,
    statusesOf,
    commitStatuses: (sha) =>
      statusesOf(sha).slice().reverse().map((s) => {
        const state = ourState(s.state, s.description ?? "");
        const description = (s.description ?? "").replace(CANCELED, "");
        return { name: s.context, state, description };
      }),
  });
}

/** Whether `jwt` is an RS256 JWT the app signed, issued by it, and within its lifetime. */
async function validAppJwt(
  jwt: string,
  app: { id: number; publicKey: string },
): Promise<boolean> {
  const [head, payload, signature] = jwt.split(".");
  if (!head || !payload || !signature) return false;
  const decode = (part: string) =>
    Uint8Array.from(atob(part.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  try {
    const header = JSON.parse(new TextDecoder().decode(decode(head)));
    const claims = JSON.parse(new TextDecoder().decode(decode(payload)));
    const der = decode(app.publicKey.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""));
    const key = await crypto.subtle.importKey(
      "spki",
      der,
      { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
      false,
      ["verify"],
    );
    const signed = await crypto.subtle.verify(
      "RSASSA-PKCS1-v1_5",
      key,
      decode(signature),
      new TextEncoder().encode(`${head}.${payload}`),
    );
    const now = Math.floor(Date.now() / 1000);
    return signed && header.alg === "RS256" && String(claims.iss) === String(app.id) &&
      claims.exp > now && claims.iat <= now + 60 && claims.exp - claims.iat <= 600;
  } catch {
    return false;
  }
}
