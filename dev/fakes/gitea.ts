/**
 * A fake Gitea/Forgejo API v1 for commit statuses, checked against dev/fixtures/specs/gitea/. It
 * answers as Gitea does: `Authorization: token …` (or Bearer), a status appended per POST (201),
 * lists newest first with `page`/`limit` and `X-Total-Count`, 401/404 `{message, url}` bodies,
 * 422 for a body the API refuses, and scripted faults.
 *
 * @module
 */
import type { State } from "../../src/notifiers/notifier.ts";
import { ApiSpec } from "./openapi.ts";
import { type FakeForge, json, startFakeServer } from "./_server.ts";

let cachedSpec: ApiSpec | undefined;
const spec = () =>
  cachedSpec ??= new ApiSpec(JSON.parse(Deno.readTextFileSync(
    new URL("../fixtures/specs/gitea/gitea-1.23.statuses.json", import.meta.url),
  )));

/** A status as Gitea stores it. */
export interface GiteaStatus {
  id: number;
  status: string;
  context: string;
  description: string;
  target_url: string;
  created_at: string;
  updated_at: string;
}

/** A running fake Gitea. */
export interface FakeGitea extends FakeForge {
  /** API base, ending in /api/v1. */
  url: string;
}

/** How the fake reads Gitea's states in our terms: its own table. */
const OUR_STATE: Record<string, State> = {
  pending: "pending",
  success: "succeeded",
  failure: "failed",
  warning: "failed",
};

/** Starts the fake on a free loopback port. */
export function startFakeGitea(
  options: { tokens?: string[]; repos?: string[]; tls?: boolean } = {},
): Promise<FakeGitea> {
  const tokens = new Set(options.tokens ?? ["test-token"]);
  const repos = new Set((options.repos ?? ["acme/app"]).map((r) => r.toLowerCase()));
  const statuses = new Map<string, GiteaStatus[]>();
  let nextId = 1;
  const notFound = () =>
    json(404, { errors: [], message: "The target couldn't be found.", url: "/api/swagger" });

  const server = startFakeServer({
    tls: options.tls,
    spec: spec(),
    prefix: "/api/v1",
    authorize(request) {
      const m = /^(?:token|bearer)\s+(.+)$/i.exec(request.headers.get("authorization") ?? "");
      if (!m || !tokens.has(m[1]!)) {
        return json(401, { message: "token is required", url: "/api/swagger" });
      }
    },
    invalid(violations, operation) {
      if (!operation) return notFound();
      return json(422, { message: `${violations[0]!.where} ${violations[0]!.message}`, url: "" });
    },
    route({ path, url, body, operation }) {
      const m = /^\/repos\/([^/]+)\/([^/]+)\/(?:statuses|commits)\/([^/]+)/.exec(path);
      if (
        !m || !repos.has(`${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`.toLowerCase())
      ) {
        return notFound();
      }
      const sha = m[3]!;
      if (operation === "repoCreateStatus") {
        const input = body as Record<string, string>;
        const now = new Date().toISOString();
        const s: GiteaStatus = {
          id: nextId++,
          status: input.state!,
          context: input.context ?? "",
          description: input.description ?? "",
          target_url: input.target_url ?? "",
          created_at: now,
          updated_at: now,
        };
        statuses.set(sha, [...statuses.get(sha) ?? [], s]);
        return json(201, { ...s, url: "", creator: { id: 1, login: "flux" } });
      }
      if (operation === "repoListStatusesByRef" || operation === "repoListStatuses") {
        const all = [...statuses.get(sha) ?? []].reverse(); // newest first
        const limit = Number(url.searchParams.get("limit") ?? 30);
        const page = Number(url.searchParams.get("page") ?? 1);
        return json(200, all.slice((page - 1) * limit, page * limit), {
          "x-total-count": String(all.length),
        });
      }
      return notFound();
    },
  });

  return Promise.resolve({
    ...server,
    url: `${server.origin}/api/v1`,
    tokens,
    commitStatuses: (sha) =>
      (statuses.get(sha) ?? []).map((s) => {
        const canceled = s.status === "error" && /^canceled: /i.test(s.description);
        return {
          name: s.context,
          state: canceled ? "canceled" : OUR_STATE[s.status] ?? "failed",
          description: canceled ? s.description.replace(/^canceled: /i, "") : s.description,
        };
      }),
  });
}
