/**
 * A fake Bitbucket Data Center REST API for build statuses, checked against
 * dev/fixtures/specs/bitbucket-server/. It answers as Data Center does: Bearer HTTP access tokens,
 * `POST …/commits/{sha}/builds` upserting by `key` with 204 (key, state and url required; key
 * ≤255, url ≤450), `GET …/builds?key=` one status or 404, the build-status list newest first in
 * pages of `{values, isLastPage, nextPageStart}`, `{"errors":[{message}]}` bodies, and scripted
 * faults.
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
      "../fixtures/specs/bitbucket-server/bitbucket-dc-9.2.build-status.json",
      import.meta.url,
    ),
  )));

/** A build status as Data Center stores it. */
interface Stored {
  key: string;
  name: string;
  state: string;
  description: string;
  url: string;
  createdDate: number;
  updatedDate: number;
}

/** A running fake Bitbucket Data Center. */
export interface FakeBitbucketServer extends FakeForge {
  /** REST root, ending in /rest. */
  url: string;
}

/** How the fake reads Data Center's states in our terms: its own table. */
const OUR_STATE: Record<string, State> = {
  INPROGRESS: "pending",
  SUCCESSFUL: "succeeded",
  FAILED: "failed",
  CANCELLED: "canceled",
};
const STATES = new Set([...Object.keys(OUR_STATE), "UNKNOWN"]);

const errors = (status: number, message: string) =>
  json(status, { errors: [{ context: null, message, exceptionName: null }] });

/** Starts the fake; `repos` are `PROJECT/slug`. */
export function startFakeBitbucketServer(
  options: { tokens?: string[]; repos?: string[]; tls?: boolean } = {},
): Promise<FakeBitbucketServer> {
  const tokens = new Set(options.tokens ?? ["test-token"]);
  const repos = new Set(options.repos ?? ["ACME/app"]);
  const current = new Map<string, Map<string, Stored>>();
  const history = new Map<string, Stored[]>();
  let clock = Date.now();

  const server = startFakeServer({
    tls: options.tls,
    spec: spec(),
    prefix: "/rest",
    authorize(request) {
      const token = /^bearer\s+(.+)$/i.exec(request.headers.get("authorization") ?? "")?.[1];
      if (!token || !tokens.has(token)) {
        return errors(401, "Authentication failed. Please check your credentials and try again.");
      }
    },
    invalid(violations, operation) {
      if (!operation) return errors(404, "No such resource");
      return errors(400, `${violations[0]!.where} ${violations[0]!.message}`);
    },
    route({ path, url, body, operation }) {
      const scoped = /^\/api\/latest\/projects\/([^/]+)\/repos\/([^/]+)\/commits\/([0-9a-f]+)/.exec(
        path,
      );
      if (
        scoped && !repos.has(`${decodeURIComponent(scoped[1]!)}/${decodeURIComponent(scoped[2]!)}`)
      ) {
        return errors(404, `Repository ${scoped[1]}/${scoped[2]} does not exist.`);
      }
      const sha = scoped?.[3] ?? /\/commits\/([0-9a-f]+)$/.exec(path)?.[1] ?? "";
      const byKey = current.get(sha) ?? new Map<string, Stored>();
      current.set(sha, byKey);
      if (operation === "add") {
        const input = (body ?? {}) as Record<string, string>;
        if (!input.key || !input.state || !input.url) {
          return errors(400, "key, state and url are required");
        }
        if (input.key.length > 255) return errors(400, "key must be 255 characters or fewer");
        if (input.url.length > 450) return errors(400, "url must be 450 characters or fewer");
        if (!STATES.has(input.state)) return errors(400, `${input.state} is not a valid state`);
        const now = ++clock;
        const s: Stored = {
          key: input.key,
          name: input.name ?? input.key,
          state: input.state,
          description: input.description ?? "",
          url: input.url,
          createdDate: byKey.get(input.key)?.createdDate ?? now,
          updatedDate: now,
        };
        byKey.set(s.key, s);
        history.set(sha, [...history.get(sha) ?? [], s]);
        return new Response(null, { status: 204 });
      }
      if (operation === "get") {
        const s = byKey.get(url.searchParams.get("key") ?? "");
        return s ? json(200, s) : errors(404, "No build status with that key on this commit");
      }
      if (operation === "getBuildStatus") {
        const all = [...byKey.values()].sort((a, b) => b.updatedDate - a.updatedDate);
        const start = Number(url.searchParams.get("start") ?? 0);
        const limit = Number(url.searchParams.get("limit") ?? 25);
        const values = all.slice(start, start + limit);
        const isLastPage = start + limit >= all.length;
        return json(200, {
          size: values.length,
          limit,
          start,
          isLastPage,
          values,
          ...(isLastPage ? {} : { nextPageStart: start + limit }),
        });
      }
      return errors(404, "No such resource");
    },
  });

  return Promise.resolve({
    ...server,
    url: `${server.origin}/rest`,
    tokens,
    commitStatuses: (sha) =>
      (history.get(sha) ?? []).map((s) => ({
        name: s.name,
        state: OUR_STATE[s.state] ?? "failed",
        description: s.description,
      })),
  });
}
