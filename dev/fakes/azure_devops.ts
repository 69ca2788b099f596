/**
 * A fake Azure DevOps Git statuses API, checked against the Swagger 2.0 description in
 * dev/fixtures/specs/azure-devops/. It answers as Azure DevOps does: 201 with the created status (the
 * spec says 200), `{"count","value"}` lists (the spec says a bare array), `api-version` taken from
 * the query or from the `Accept` header (as the service does, and as azure-devops-node-api sends
 * it), enum values by name or number (the SDK sends numbers), a bad PAT answered with `203` and an HTML sign-in page unless `X-TFS-FedAuthRedirect:
 * Suppress` is sent (then 401), TF-coded error bodies, 429 with `Retry-After` by script. It also
 * serves the location lookup the SDK makes first (`OPTIONS /{org}/_apis/git`), which the trimmed
 * description leaves out.
 *
 * @module
 */
import type { State } from "../../src/notifiers/notifier.ts";
import { ApiSpec } from "./openapi.ts";
import { type FakeForge, json, startFakeServer } from "./_server.ts";

let cachedSpec: ApiSpec | undefined;

function azureSpec(): ApiSpec {
  cachedSpec ??= new ApiSpec(JSON.parse(Deno.readTextFileSync(
    new URL("../fixtures/specs/azure-devops/git-7.1.statuses.json", import.meta.url),
  )));
  return cachedSpec;
}

/** A status as the fake stores it (Azure's fields). */
export interface AzureStatus {
  id: number;
  state: string;
  description: string;
  context: { genre?: string; name: string };
  targetUrl?: string;
  creationDate: string;
  updatedDate: string;
  createdBy: { displayName: string; id: string };
}

/** Options of {@linkcode startFakeAzureDevOps}. */
export interface FakeAzureOptions {
  /** Serve HTTPS with the test CA's certificate. */
  tls?: boolean;
  /** PATs that authenticate. @default ["test-token"] */
  tokens?: string[];
  /** Repositories that exist, `org/project/repo`. @default ["acme/app/app"] */
  repos?: string[];
  /** Called with each status created. */
  onStatus?: (sha: string, status: AzureStatus) => void;
  /** Answer a bad PAT with the 203 sign-in page even when asked to suppress it. @default true */
  honorSuppress?: boolean;
}

/** A running fake Azure DevOps. */
export interface FakeAzureDevOps extends FakeForge {
  /** Organization URL of the first repo (for `--api-url`). */
  url: string;
  /** Statuses of one commit, oldest first (Azure's words). */
  statusesOf(sha: string): AzureStatus[];
}

const STATE_NAMES = ["notSet", "pending", "succeeded", "failed", "error", "notApplicable"];
const STATUSES_LOCATION = "428dd4fb-fda5-4722-af02-9313b80305da";

function tfError(status: number, message: string, typeKey: string): Response {
  return json(status, {
    $id: "1",
    innerException: null,
    message,
    typeName: `Microsoft.TeamFoundation.Git.Server.${typeKey}, Microsoft.TeamFoundation.Git.Server`,
    typeKey,
    errorCode: 0,
    eventId: 3000,
  });
}

/** How the fake reads Azure DevOps' state names in our terms: its own table, never the product's. */
const OUR_STATE: Record<string, State> = {
  notSet: "pending",
  pending: "pending",
  succeeded: "succeeded",
  failed: "failed",
  error: "failed",
  notApplicable: "canceled",
};

/** Starts the fake on a free loopback port. */
export function startFakeAzureDevOps(options: FakeAzureOptions = {}): Promise<FakeAzureDevOps> {
  const tokens = new Set(options.tokens ?? ["test-token"]);
  const repos = options.repos ?? ["acme/app/app"];
  const known = new Set(repos.map((r) => r.toLowerCase()));
  const statuses = new Map<string, AzureStatus[]>();
  let nextId = 1;

  const server = startFakeServer({
    tls: options.tls,
    spec: azureSpec(),
    prefix: "",
    extra(request, path) {
      // The location lookup azure-devops-node-api makes before its first call in an area.
      if (request.method === "OPTIONS" && /^\/[^/]+\/_apis\/git\/?$/.test(path)) {
        return json(200, {
          count: 1,
          value: [{
            id: STATUSES_LOCATION,
            area: "git",
            resourceName: "statuses",
            routeTemplate:
              "{project}/_apis/{area}/repositories/{repositoryId}/commits/{commitId}/{resource}",
            resourceVersion: 1,
            minVersion: "1.0",
            maxVersion: "7.1",
            releasedVersion: "7.1",
          }],
        });
      }
    },
    normalizeBody(body) {
      // The service reads enums by name or by number (the SDK sends numbers), per GitStatusState.
      const b = body as { state?: unknown };
      if (typeof b?.state === "number") return { ...b, state: STATE_NAMES[b.state] ?? b.state };
      return body;
    },
    queryFor(request, url) {
      const query = new URLSearchParams(url.search);
      const fromAccept = /api-version=([^;,\s]+)/.exec(request.headers.get("accept") ?? "")?.[1];
      if (!query.has("api-version") && fromAccept) query.set("api-version", fromAccept);
      return query;
    },
    authorize(request) {
      const basic = /^basic\s+(.+)$/i.exec(request.headers.get("authorization") ?? "")?.[1];
      const pat = basic ? atob(basic).split(":").slice(1).join(":") : undefined;
      if (pat && tokens.has(pat)) return;
      const suppress = request.headers.get("x-tfs-fedauthredirect")?.toLowerCase() === "suppress";
      if (suppress && options.honorSuppress !== false) {
        return new Response(null, {
          status: 401,
          headers: { "www-authenticate": 'Basic realm="https://dev.azure.com/"' },
        });
      }
      return new Response(
        "<html><head><title>Azure DevOps Services | Sign In</title></head><body>Sign in</body></html>",
        {
          status: 203,
          headers: { "content-type": "text/html; charset=utf-8" },
        },
      );
    },
    invalid(violations, operation) {
      if (!operation) {
        return tfError(404, "The controller for the path was not found.", "HttpException");
      }
      const v = violations[0]!;
      if (v.where === "query.api-version") {
        return tfError(
          400,
          "No api-version was supplied for the request.",
          "VssVersionNotSpecifiedException",
        );
      }
      return tfError(
        400,
        `Invalid request: ${v.where} ${v.message}`,
        "InvalidArgumentValueException",
      );
    },
    route({ path, query, body, operation }) {
      const version = query.get("api-version") ?? "";
      if (!/^7\.1(-preview(\.\d+)?)?$/.test(version)) {
        return tfError(
          400,
          `The requested REST API version of ${version} is out of range for this server.`,
          "VssVersionOutOfRangeException",
        );
      }
      const m =
        /^\/([^/]+)\/([^/]+)\/_apis\/git\/repositories\/([^/]+)\/commits\/([^/]+)\/statuses$/.exec(
          path,
        );
      if (!m) return tfError(404, "The resource cannot be found.", "HttpException");
      const [org, project, repo, sha] = m.slice(1).map(decodeURIComponent) as [
        string,
        string,
        string,
        string,
      ];
      if (!known.has(`${org}/${project}/${repo}`.toLowerCase())) {
        return tfError(
          404,
          `TF401019: The Git repository with name or identifier ${repo} does not exist or you do not have permissions for the operation you are attempting.`,
          "GitRepositoryNotFoundException",
        );
      }
      if (operation === "Statuses_Create") {
        const input = body as {
          state?: string;
          description?: string;
          targetUrl?: string;
          context?: { genre?: string; name?: string };
        };
        if (!input.context?.name) {
          return tfError(
            400,
            "The Context.Name field is required.",
            "InvalidArgumentValueException",
          );
        }
        const now = new Date().toISOString();
        const status: AzureStatus = {
          id: nextId++,
          state: input.state ?? "notSet",
          description: input.description ?? "",
          context: {
            ...(input.context.genre ? { genre: input.context.genre } : {}),
            name: input.context.name,
          },
          ...(input.targetUrl ? { targetUrl: input.targetUrl } : {}),
          creationDate: now,
          updatedDate: now,
          createdBy: { displayName: "flux", id: "00000000-0000-0000-0000-000000000001" },
        };
        statuses.set(sha, [...statuses.get(sha) ?? [], status]);
        options.onStatus?.(sha, status);
        return json(201, status);
      }
      let list = statuses.get(sha) ?? [];
      if (query.get("latestOnly") === "true") {
        const latest = new Map<string, AzureStatus>();
        for (const s of list) latest.set(`${s.context.genre ?? ""}/${s.context.name}`, s);
        list = [...latest.values()];
      }
      const skip = Number(query.get("skip") ?? 0), top = Number(query.get("top") ?? 1000);
      const page = list.slice(skip, skip + top);
      return json(200, { count: page.length, value: page });
    },
  });

  const [firstOrg] = repos[0]!.split("/");
  const statusesOf = (sha: string) => statuses.get(sha) ?? [];
  return Promise.resolve({
    ...server,
    url: `${server.origin}/${firstOrg}`,
    tokens,
    statusesOf,
    commitStatuses: (sha) =>
      statusesOf(sha).map((s) => ({
        name: s.context.genre ? `${s.context.genre}/${s.context.name}` : s.context.name,
        state: OUR_STATE[String(s.state)] ?? "failed",
        description: s.description,
      })),
  });
}
