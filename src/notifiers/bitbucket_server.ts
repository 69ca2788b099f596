/**
 * Bitbucket Data Center (and Server 7.4+) build statuses through its REST API, with `fetch`
 * (`_http.ts`): there is no official JavaScript client. `POST /api/latest/projects/{key}/repos/
 * {slug}/commits/{sha}/builds` upserts by `key` (≤255 characters, so the status name itself) and
 * answers 204; `GET` the same path `?key=` reads one back (7.14+), and the build-status resource
 * `GET /build-status/latest/commits/{sha}` lists them, newest first. `url` is required:
 * `--target-url`, else the commit's page. `--api-url` is the REST root,
 * `https://HOST[/context-path]/rest`, derived from the git URL (https `/scm/` or ssh on 7999).
 * Auth: an HTTP access token (personal, project or repository) as Bearer.
 *
 * @module
 */
import type { GitRemote } from "./git_url.ts";
import { createHttpClient } from "./_http.ts";
import { providerFetch } from "./_transport.ts";
import { apiUrlFor, PROVIDER_TABLE } from "./providers.ts";
import {
  checkNotifierOptions,
  newestPerName,
  type Notifier,
  type ReadStatus,
  type State,
  stateFor,
  type Token,
  tokenValue,
} from "./notifier.ts";

const LABEL = PROVIDER_TABLE["bitbucket-server"].label;

/** Our states → Bitbucket Data Center's (CANCELLED exists since 8.x; older servers say 400). */
export const TO_BITBUCKET_SERVER = {
  pending: "INPROGRESS",
  succeeded: "SUCCESSFUL",
  failed: "FAILED",
  canceled: "CANCELLED",
} as const satisfies Record<State, string>;

/** Statuses per page and pages read at most when listing. */
const PAGE = 100, MAX_PAGES = 20;

/** A build status as the API returns it (`RestBuildStatus`). */
interface ServerStatus {
  key: string;
  name?: string;
  state: string;
  description?: string;
  url?: string;
  updatedDate?: number;
}

/** Options for {@linkcode createBitbucketServerNotifier}. */
export interface BitbucketServerOptions {
  /** The repository: `owner` is the project key. */
  remote: GitRemote;
  /** HTTP access token with repository read (write is the safe choice). */
  token: Token;
  /** REST root, `https://HOST[/context]/rest`; @default derived from the remote */
  apiUrl?: string;
  /** PEM file of extra CA certificates to trust. */
  caFile?: string;
}

/**
 * Creates the Bitbucket Data Center notifier.
 *
 * @throws {NotifierError} on an empty token or a non-http(s) API URL
 */
export function createBitbucketServerNotifier(options: BitbucketServerOptions): Notifier {
  const { remote, token } = options;
  const baseUrl = checkNotifierOptions(LABEL, token, apiUrlFor(remote, options.apiUrl));
  const http = createHttpClient({
    fetch: providerFetch(options.caFile),
    provider: "bitbucket-server",
    label: LABEL,
    baseUrl,
    authorization: () => `Bearer ${tokenValue(token)}`,
    headers: { "x-atlassian-token": "no-check" },
    hints: {
      401: "check the HTTP access token is valid and not expired",
      403: "check the token has repository read (or write) permission",
      404: "check the project key, repository and commit exist and the token can see them",
    },
  });
  // Project keys are upper-case in the API; a personal repository's `~user` is not a key.
  const key = remote.owner.startsWith("~") ? remote.owner : remote.owner.toUpperCase();
  const project = encodeURIComponent(key);
  const slug = encodeURIComponent(remote.repo);
  const buildsPath = (sha: string) =>
    `/api/latest/projects/${project}/repos/${slug}/commits/${sha}/builds`;
  const webUrl = (sha: string) =>
    `${remote.origin}${remote.basePath}/projects/${project}/repos/${slug}/commits/${sha}`;

  return {
    provider: "bitbucket-server",
    get rateLimitRemaining() {
      return http.rateLimitRemaining;
    },
    async setStatus(sha, status, signal) {
      await http.request({
        method: "POST",
        path: buildsPath(sha),
        body: {
          key: status.name,
          name: status.name,
          state: TO_BITBUCKET_SERVER[status.state],
          description: status.description,
          url: status.targetUrl ?? webUrl(sha),
        },
        signal,
        doing: `set status on ${sha.slice(0, 7)}`,
        expect: "nothing",
      });
    },
    async getStatus(sha, name, signal) {
      const res = await http.request<ServerStatus>({
        method: "GET",
        path: buildsPath(sha),
        query: { key: name },
        signal,
        doing: `read statuses of ${sha.slice(0, 7)}`,
        accept: [404],
        expect: "object",
      });
      return res.status === 404 ? undefined : toReadStatus(res.data, name);
    },
    async listStatuses(sha, prefix, signal) {
      const all: ServerStatus[] = [];
      let start = 0;
      for (let page = 0; page < MAX_PAGES; page++) {
        const { data } = await http.request<
          { values?: ServerStatus[]; isLastPage?: boolean; nextPageStart?: number }
        >({
          method: "GET",
          path: `/build-status/latest/commits/${sha}`,
          query: { orderBy: "NEWEST", start, limit: PAGE },
          expect: "object",
          signal,
          doing: `read statuses of ${sha.slice(0, 7)}`,
        });
        all.push(...data?.values ?? []); // newest first (orderBy=NEWEST)
        if (!data || data.isLastPage !== false || data.nextPageStart === undefined) break;
        start = data.nextPageStart;
      }
      const ours = all.filter((s) => s.key.toLowerCase().startsWith(prefix.toLowerCase()));
      return [...newestPerName(ours, (s) => s.key)].map(([key, s]) => toReadStatus(s, key));
    },
  };
}

function toReadStatus(s: ServerStatus, name: string): ReadStatus {
  return {
    name,
    state: stateFor<string>(TO_BITBUCKET_SERVER, s.state) ?? "failed",
    description: s.description ?? "",
    ...(s.url ? { targetUrl: s.url } : {}),
    ...(s.updatedDate ? { updatedAt: new Date(s.updatedDate).toISOString() } : {}),
  };
}
