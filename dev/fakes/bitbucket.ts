/**
 * A fake Bitbucket Cloud API 2.0 for build statuses, checked against dev/fixtures/specs/bitbucket-cloud/.
 * It answers as Bitbucket does: a status is upserted by `key` (at most 40 characters, else 400
 * "key: Ensure this value has at most 40 characters"), `url` is required, Basic (account email +
 * API token) or Bearer (access token) auth, `{"type":"error","error":{…}}` bodies, pages of
 * `{values, page, pagelen, next}`, and scripted faults.
 *
 * @module
 */
import type { State } from "../../src/notifiers/notifier.ts";
import { ApiSpec } from "./openapi.ts";
import { type FakeForge, json, startFakeServer } from "./_server.ts";

let cachedSpec: ApiSpec | undefined;
const spec = () =>
  cachedSpec ??= new ApiSpec(JSON.parse(Deno.readTextFileSync(
    new URL(
      "../fixtures/specs/bitbucket-cloud/bitbucket-cloud-2.0.statuses.json",
      import.meta.url,
    ),
  )));

/** A build status as Bitbucket stores it. */
interface Stored {
  key: string;
  name: string;
  state: string;
  description: string;
  url: string;
  created_on: string;
  updated_on: string;
}

/** A running fake Bitbucket Cloud. */
export interface FakeBitbucket extends FakeForge {
  /** API base, ending in /2.0. */
  url: string;
}

/** How the fake reads Bitbucket's states in our terms: its own table. */
const OUR_STATE: Record<string, State> = {
  INPROGRESS: "pending",
  SUCCESSFUL: "succeeded",
  FAILED: "failed",
  STOPPED: "canceled",
};

const error = (status: number, message: string, fields?: Record<string, string[]>) =>
  json(status, { type: "error", error: { message, ...(fields ? { fields } : {}) } });

/** Starts the fake; `email` is the account an API token belongs to (Basic auth). */
export function startFakeBitbucket(
  options: { tokens?: string[]; email?: string; repos?: string[]; tls?: boolean } = {},
): Promise<FakeBitbucket> {
  const tokens = new Set(options.tokens ?? ["test-token"]);
  const email = options.email ?? "flux@example.com";
  const repos = new Set((options.repos ?? ["acme/app"]).map((r) => r.toLowerCase()));
  const current = new Map<string, Map<string, Stored>>();
  const history = new Map<string, Stored[]>();

  const server = startFakeServer({
    tls: options.tls,
    spec: spec(),
    prefix: "/2.0",
    authorize(request) {
      const header = request.headers.get("authorization") ?? "";
      const bearer = /^bearer\s+(.+)$/i.exec(header)?.[1];
      const basic = /^basic\s+(.+)$/i.exec(header)?.[1];
      const [user, token] = basic ? atob(basic).split(/:(.*)/s) : [];
      if ((bearer && tokens.has(bearer)) || (user === email && token && tokens.has(token))) return;
      return error(401, "Unauthorized");
    },
    // page and pagelen are Bitbucket's pagination parameters on every list, not per operation.
    queryFor(_request, url) {
      const q = new URLSearchParams(url.searchParams);
      q.delete("page");
      q.delete("pagelen");
      return q;
    },
    invalid(violations, operation) {
      if (!operation) return error(404, "Resource not found");
      const v = violations[0]!;
      return error(400, `${v.where}: ${v.message}`);
    },
    route({ path, url, body, operation, request }) {
      const m = /^\/repositories\/([^/]+)\/([^/]+)\/commit\/([0-9a-f]+)\/statuses/.exec(path);
      if (!m || !repos.has(`${m[1]}/${m[2]}`.toLowerCase())) {
        return error(404, "Repository not found");
      }
      const sha = m[3]!;
      const byKey = current.get(sha) ?? new Map<string, Stored>();
      current.set(sha, byKey);
      if (request.method === "POST" && operation.endsWith("/statuses/build")) {
        const input = body as Record<string, string>;
        if (input.key!.length > 40) {
          const message = `Ensure this value has at most 40 characters (it has ${
            input.key!.length
          }).`;
          return error(400, `key: ${message}`, { key: [message] });
        }
        if (!input.url) {
          return error(400, "url: This field is required.", { url: ["This field is required."] });
        }
        const now = new Date().toISOString();
        const s: Stored = {
          key: input.key!,
          name: input.name ?? input.key!,
          state: input.state!,
          description: input.description ?? "",
          url: input.url,
          created_on: byKey.get(input.key!)?.created_on ?? now,
          updated_on: now,
        };
        byKey.set(s.key, s);
        history.set(sha, [...history.get(sha) ?? [], s]);
        return json(201, { type: "build", ...s });
      }
      const key = /\/statuses\/build\/([^/]+)$/.exec(path)?.[1];
      if (request.method === "GET" && key) {
        const s = byKey.get(decodeURIComponent(key));
        return s ? json(200, { type: "build", ...s }) : error(404, "Commit status not found");
      }
      if (request.method === "GET") {
        const all = [...byKey.values()].sort((a, b) => b.created_on.localeCompare(a.created_on));
        const pagelen = Number(url.searchParams.get("pagelen") ?? 10);
        const page = Number(url.searchParams.get("page") ?? 1);
        const values = all.slice((page - 1) * pagelen, page * pagelen).map((s) => ({
          type: "build",
          ...s,
        }));
        const next = page * pagelen < all.length ? new URL(url) : undefined;
        next?.searchParams.set("page", String(page + 1));
        return json(200, {
          size: all.length,
          page,
          pagelen,
          values,
          ...(next ? { next: String(next) } : {}),
        });
      }
      return error(404, "Resource not found");
    },
  });

  return Promise.resolve({
    ...server,
    url: `${server.origin}/2.0`,
    tokens,
    commitStatuses: (sha) =>
      (history.get(sha) ?? []).map((s) => ({
        name: s.name,
        state: OUR_STATE[s.state] ?? "failed",
        description: s.description,
      })),
  });
}
