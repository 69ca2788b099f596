/**
 * A fake GitHub REST API for commit statuses. Every request is checked against GitHub's official
 * OpenAPI description (npm `@octokit/openapi`); a request the description does not allow is
 * recorded in `violations` and answered 422 as GitHub would. It answers like GitHub: 201 with the
 * created status, newest-first lists with Link pagination, 401/404/422 error bodies, the primary
 * rate limit (403 + `x-ratelimit-remaining: 0` + `x-ratelimit-reset`), the secondary limit
 * (403/429 + `retry-after`) and 5xx, scripted per test.
 *
 * @module
 */
import { createRequire } from "node:module";
import { ApiSpec, type Violation } from "./openapi.ts";

let cachedSpec: ApiSpec | undefined;

function githubSpec(): ApiSpec {
  if (!cachedSpec) {
    const require = createRequire(import.meta.url);
    const file = require.resolve("@octokit/openapi/generated/api.github.com.json");
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

/** A scripted answer to the next matching request(s). */
export interface Fault {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Only for requests with this method. */
  method?: string;
}

/** A request the fake received (the Authorization header is not kept). */
export interface Received {
  method: string;
  path: string;
  body: unknown;
  status: number;
  userAgent: string | null;
}

/** Options of {@linkcode startFakeGitHub}. */
export interface FakeGitHubOptions {
  /** Tokens that authenticate. @default ["test-token"] */
  tokens?: string[];
  /** Repositories that exist, `owner/repo`. @default ["acme/app"] */
  repos?: string[];
  /** Path prefix of the API (GHES: `/api/v3`). @default "" */
  prefix?: string;
  /** Called with each status created. */
  onStatus?: (sha: string, status: GitHubStatus) => void;
}

/** A running fake GitHub. */
export interface FakeGitHub extends AsyncDisposable {
  /** API base URL (for `--api-url`). */
  url: string;
  /** Statuses per `owner/repo@sha`, newest first. */
  statuses: Map<string, GitHubStatus[]>;
  /** Every request, in order. */
  received: Received[];
  /** Requests the API description does not allow. */
  violations: Violation[];
  /** Tokens that authenticate (mutable: rotate a token mid-test). */
  tokens: Set<string>;
  /** Answers the next requests with these, in order. */
  faults: Fault[];
  /** Statuses of one commit, newest first. */
  statusesOf(sha: string, repo?: string): GitHubStatus[];
  /** Resolves once `predicate` holds; checked after every request. */
  waitFor(predicate: () => boolean, what?: string): Promise<void>;
  close(): Promise<void>;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });

/** Starts the fake on a free loopback port. */
export function startFakeGitHub(options: FakeGitHubOptions = {}): Promise<FakeGitHub> {
  const spec = githubSpec();
  const prefix = options.prefix ?? "";
  const repos = new Set(options.repos ?? ["acme/app"]);
  const tokens = new Set(options.tokens ?? ["test-token"]);
  const statuses = new Map<string, GitHubStatus[]>();
  const received: Received[] = [];
  const violations: Violation[] = [];
  const faults: Fault[] = [];
  const listeners = new Set<() => void>();
  let nextId = 1;
  let remaining = 5000;

  const rateHeaders = () => ({
    "x-ratelimit-limit": "5000",
    "x-ratelimit-remaining": String(remaining),
    "x-ratelimit-used": String(5000 - remaining),
    "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + 3600),
    "x-ratelimit-resource": "core",
  });

  async function handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (!url.pathname.startsWith(prefix)) return json(404, { message: "Not Found" });
    const path = url.pathname.slice(prefix.length);
    const text = await request.text();
    let body: unknown;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        return json(400, { message: "Problems parsing JSON" });
      }
    }
    const record = (status: number) => {
      received.push({
        method: request.method,
        path,
        body,
        status,
        userAgent: request.headers.get("user-agent"),
      });
    };
    const answer = (status: number, resBody: unknown, headers: Record<string, string> = {}) => {
      record(status);
      return json(status, resBody, { ...rateHeaders(), ...headers });
    };

    if (!request.headers.get("user-agent")) {
      return answer(403, {
        message:
          "Request forbidden by administrative rules. Please make sure your request has a User-Agent header",
      });
    }
    const auth = request.headers.get("authorization") ?? "";
    const token = /^(?:token|bearer)\s+(.+)$/i.exec(auth)?.[1];
    if (!token || !tokens.has(token)) {
      return answer(401, {
        message: "Bad credentials",
        documentation_url: "https://docs.github.com/rest",
        status: "401",
      });
    }
    const faultIndex = faults.findIndex((f) => !f.method || f.method === request.method);
    if (faultIndex >= 0) {
      const [fault] = faults.splice(faultIndex, 1);
      return answer(fault!.status, fault!.body ?? { message: "Server Error" }, fault!.headers);
    }
    const checked = spec.check(request.method, path, url.searchParams, body);
    if (checked.violations.length > 0) {
      violations.push(...checked.violations);
      if (!checked.operation) {
        return answer(404, {
          message: "Not Found",
          documentation_url: "https://docs.github.com/rest",
        });
      }
      return answer(422, {
        message: "Invalid request.",
        errors: checked.violations.map((v) => `${v.where} ${v.message}`),
        documentation_url: "https://docs.github.com/rest",
      });
    }
    const m =
      /^\/repos\/([^/]+)\/([^/]+)\/(?:statuses\/([^/]+)|commits\/([^/]+)\/(statuses|status))$/.exec(
        path,
      );
    if (!m) return answer(404, { message: "Not Found" });
    const repo = `${m[1]}/${m[2]}`;
    if (!repos.has(repo)) {
      return answer(404, {
        message: "Not Found",
        documentation_url: "https://docs.github.com/rest",
      });
    }
    remaining = Math.max(0, remaining - 1);

    if (checked.operation === "repos/create-commit-status") {
      const sha = m[3]!;
      const input = body as {
        state: string;
        description?: string | null;
        target_url?: string | null;
        context?: string;
      };
      if (!/^[0-9a-f]{40}$/.test(sha)) {
        return answer(422, {
          message: `No commit found for SHA: ${sha}`,
          documentation_url: "https://docs.github.com/rest",
        });
      }
      if ((input.description?.length ?? 0) > 140) {
        return answer(422, {
          message: "Validation Failed",
          errors: [{
            resource: "Status",
            code: "custom",
            field: "description",
            message: "description is too long (maximum is 140 characters)",
          }],
          documentation_url: "https://docs.github.com/rest",
        });
      }
      const list = statuses.get(`${repo}@${sha}`) ?? [];
      const context = input.context ?? "default";
      if (list.filter((s) => s.context.toLowerCase() === context.toLowerCase()).length >= 1000) {
        return answer(422, {
          message: "Validation Failed",
          errors: [{
            resource: "Status",
            code: "custom",
            field: "context",
            message: "This SHA and context has reached the maximum number of statuses.",
          }],
          documentation_url: "https://docs.github.com/rest",
        });
      }
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
      return answer(201, {
        url: `${url.origin}${prefix}/repos/${repo}/statuses/${sha}`,
        node_id: `SC_${status.id}`,
        avatar_url: null,
        creator: null,
        ...status,
      }, {
        location: `${url.origin}${prefix}/repos/${repo}/statuses/${sha}`,
      });
    }
    const sha = m[4]!;
    const list = statuses.get(`${repo}@${sha}`) ?? [];
    if (m[5] === "statuses") {
      const perPage = Number(url.searchParams.get("per_page") ?? 30);
      const page = Number(url.searchParams.get("page") ?? 1);
      const slice = list.slice((page - 1) * perPage, page * perPage);
      const headers: Record<string, string> = {};
      if (page * perPage < list.length) {
        const next = new URL(url);
        next.searchParams.set("page", String(page + 1));
        headers.link = `<${next}>; rel="next"`;
      }
      return answer(
        200,
        slice.map((s) => ({
          url: "",
          node_id: `SC_${s.id}`,
          avatar_url: null,
          creator: null,
          ...s,
        })),
        headers,
      );
    }
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

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const res = await handle(req);
    for (const l of [...listeners]) l();
    return res;
  });
  const fake: FakeGitHub = {
    url: `http://127.0.0.1:${server.addr.port}${prefix}`,
    statuses,
    received,
    violations,
    tokens,
    faults,
    statusesOf: (sha, repo = [...repos][0]!) => statuses.get(`${repo}@${sha}`) ?? [],
    waitFor(predicate, what = "condition") {
      if (predicate()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const check = () => {
          if (predicate()) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`fake GitHub: timed out waiting for ${what}`));
        }, 30_000);
        listeners.add(check);
      });
    },
    close: () => server.shutdown(),
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
  return Promise.resolve(fake);
}
