/**
 * A fake GitLab REST API v4 for commit statuses, checked against the hand-written description in
 * dev/fixtures/specs/gitlab/. It answers as GitLab does: statuses are external jobs with GitLab's state
 * machine (a pending job cannot be enqueued again: 400 "Cannot transition status via :enqueue
 * from :pending …"; a finished job makes the next status a new job), 401/403/404 `{"message"}`
 * bodies, 400 `{"error"}` for a bad parameter, offset pagination with `X-Next-Page`/`Link`, and
 * scripted faults such as 429 "Retry later" with `Retry-After`, or 409.
 *
 * @module
 */
import { parse } from "yaml";
import type { State } from "../../src/notifiers/notifier.ts";
import { ApiSpec } from "./openapi.ts";
import { type FakeForge, json, startFakeServer } from "./_server.ts";

let cachedSpec: ApiSpec | undefined;

function gitlabSpec(): ApiSpec {
  cachedSpec ??= new ApiSpec(parse(Deno.readTextFileSync(
    new URL("../fixtures/specs/gitlab/gitlab-v4.commit-statuses.yaml", import.meta.url),
  )));
  return cachedSpec;
}

/** A job as the fake stores it (GitLab's fields). */
export interface GitLabJob {
  id: number;
  sha: string;
  ref: string;
  status: string;
  name: string;
  description: string | null;
  target_url: string | null;
  created_at: string;
  finished_at: string | null;
  pipeline_id: number;
  allow_failure: boolean;
}

/** Options of {@linkcode startFakeGitLab}. */
export interface FakeGitLabOptions {
  /** Serve HTTPS with the test CA's certificate. */
  tls?: boolean;
  /** Tokens that authenticate. @default ["test-token"] */
  tokens?: string[];
  /** Projects that exist, by full path. @default ["acme/app"] */
  projects?: string[];
  /** Called with each status set. */
  onStatus?: (sha: string, job: GitLabJob) => void;
}

/** A running fake GitLab. */
export interface FakeGitLab extends FakeForge {
  /** API base (for `--api-url`), ending in /api/v4. */
  url: string;
  /** Every status POST that landed, oldest first, per sha. */
  history: Map<string, GitLabJob[]>;
  /** Jobs of one commit, oldest first. */
  jobsOf(sha: string): GitLabJob[];
}

const TERMINAL = new Set(["success", "failed", "canceled", "skipped"]);

/** How the fake reads GitLab's job states in our terms: its own table, never the product's. */
const OUR_STATE: Record<string, State> = {
  created: "pending",
  pending: "pending",
  running: "pending",
  success: "succeeded",
  failed: "failed",
  canceled: "canceled",
  skipped: "canceled",
};

/** Starts the fake on a free loopback port. */
export function startFakeGitLab(options: FakeGitLabOptions = {}): Promise<FakeGitLab> {
  const tokens = new Set(options.tokens ?? ["test-token"]);
  const projects = new Set((options.projects ?? ["acme/app"]).map((p) => p.toLowerCase()));
  const jobs = new Map<string, GitLabJob[]>();
  const history = new Map<string, GitLabJob[]>();
  let nextId = 100;

  const server = startFakeServer({
    tls: options.tls,
    spec: gitlabSpec(),
    prefix: "/api/v4",
    authorize(request) {
      const token = request.headers.get("private-token") ??
        /^bearer\s+(.+)$/i.exec(request.headers.get("authorization") ?? "")?.[1];
      if (!token || !tokens.has(token)) return json(401, { message: "401 Unauthorized" });
    },
    invalid(violations, operation) {
      if (!operation) return json(404, { error: "404 Not Found" });
      const v = violations[0]!;
      return json(400, { error: `${v.where.replace(/^(body|query)\./, "")} ${v.message}` });
    },
    route({ url, path, body, operation }) {
      const m = /^\/projects\/([^/]+)\//.exec(path);
      const project = decodeURIComponent(m?.[1] ?? "").toLowerCase();
      if (!projects.has(project)) return json(404, { message: "404 Project Not Found" });
      const sha = /\/(?:statuses|commits)\/([0-9a-f]+)/.exec(path)?.[1] ?? "";
      if (!/^[0-9a-f]{40}$/.test(sha)) return json(404, { message: "404 Commit Not Found" });
      if (operation === "postCommitStatus") return post(sha, body as Record<string, string>);
      if (operation === "getCommitStatuses") return list(url, sha);
      return json(404, { error: "404 Not Found" });
    },
  });

  function post(sha: string, input: Record<string, string>): Response {
    const name = input.name ?? input.context ?? "default";
    if (name.length > 255) {
      return json(400, { message: { name: ["is too long (maximum is 255 characters)"] } });
    }
    const list = jobs.get(sha) ?? [];
    const open = [...list].reverse().find((j) => j.name === name && !TERMINAL.has(j.status));
    const now = new Date().toISOString();
    let job: GitLabJob;
    if (open) {
      const event = input.state === "pending" ? "enqueue" : input.state === "running" ? "run" : "";
      if (event && (open.status === "pending" || (open.status === "running" && event === "run"))) {
        return json(400, {
          message:
            `Cannot transition status via :${event} from :${open.status} (Reason(s): Status cannot transition via "${event}")`,
        });
      }
      open.status = input.state!;
      open.description = input.description ?? open.description;
      open.target_url = input.target_url ?? open.target_url;
      if (TERMINAL.has(open.status)) open.finished_at = now;
      job = open;
    } else {
      job = {
        id: nextId++,
        sha,
        ref: input.ref ?? "main",
        status: input.state!,
        name,
        description: input.description ?? null,
        target_url: input.target_url ?? null,
        created_at: now,
        finished_at: TERMINAL.has(input.state!) ? now : null,
        pipeline_id: 1,
        allow_failure: false,
      };
      jobs.set(sha, [...list, job]);
    }
    history.set(sha, [...history.get(sha) ?? [], { ...job }]);
    options.onStatus?.(sha, job);
    return json(201, {
      ...job,
      author: { id: 1, username: "flux" },
      coverage: null,
      started_at: null,
    });
  }

  function list(url: URL, sha: string): Response {
    let all = jobs.get(sha) ?? [];
    const name = url.searchParams.get("name");
    if (name) all = all.filter((j) => j.name === name);
    if (url.searchParams.get("all") !== "true") {
      const latest = new Map<string, GitLabJob>();
      for (const j of all) latest.set(j.name, j);
      all = [...latest.values()].sort((a, b) => a.id - b.id);
    }
    const perPage = Number(url.searchParams.get("per_page") ?? 20);
    const page = Number(url.searchParams.get("page") ?? 1);
    const headers: Record<string, string> = {
      "x-total": String(all.length),
      "x-page": String(page),
      "x-per-page": String(perPage),
      "x-total-pages": String(Math.max(1, Math.ceil(all.length / perPage))),
    };
    if (page * perPage < all.length) {
      const next = new URL(url);
      next.searchParams.set("page", String(page + 1));
      next.searchParams.set("per_page", String(perPage));
      headers["x-next-page"] = String(page + 1);
      headers.link = `<${next}>; rel="next"`;
    }
    return json(200, all.slice((page - 1) * perPage, page * perPage), headers);
  }

  return Promise.resolve({
    ...server,
    url: `${server.origin}/api/v4`,
    tokens,
    history,
    jobsOf: (sha) => jobs.get(sha) ?? [],
    commitStatuses: (sha) =>
      (history.get(sha) ?? []).map((j) => ({
        name: j.name,
        state: OUR_STATE[j.status] ?? "failed",
        description: j.description ?? "",
      })),
  });
}
