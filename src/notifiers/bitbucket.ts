/**
 * Bitbucket Cloud build statuses through its REST API 2.0, with `fetch` (`_http.ts`): Atlassian
 * ships no JavaScript SDK. A status is keyed: `POST …/commit/{sha}/statuses/build` with the same
 * `key` overwrites it. Keys are at most 40 characters, so the key is the SHA-1 (hex, exactly 40)
 * of our status name, as Flux's own notifier does, and the readable name goes in `name`. `url`
 * is required in practice: `--target-url`, else the commit's page on bitbucket.org.
 *
 * Auth: an Atlassian API token with the account's email (Basic, `--bitbucket-username`), or a
 * repository, project or workspace access token (Bearer). App passwords were removed on
 * 28 Jul 2026.
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

const LABEL = PROVIDER_TABLE.bitbucket.label;

/** Our states → Bitbucket's. */
export const TO_BITBUCKET = {
  pending: "INPROGRESS",
  succeeded: "SUCCESSFUL",
  failed: "FAILED",
  canceled: "STOPPED",
} as const satisfies Record<State, string>;

/** Pages read at most when listing (100 statuses each). */
const MAX_PAGES = 20;

/** A build status as the API returns it. */
interface BitbucketStatus {
  key: string;
  name?: string;
  state: string;
  description?: string;
  url?: string;
  updated_on?: string;
}

/** The key of a status name: its SHA-1, 40 hex characters (Bitbucket's limit is 40). */
export async function statusKey(name: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(name));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Options for {@linkcode createBitbucketNotifier}. */
export interface BitbucketOptions {
  /** The repository. */
  remote: GitRemote;
  /** API token (with `username`) or access token. */
  token: Token;
  /** The Atlassian account email for an API token (Basic auth); absent: Bearer. */
  username?: string;
  /** API base URL; @default https://api.bitbucket.org/2.0 */
  apiUrl?: string;
  /** PEM file of extra CA certificates to trust. */
  caFile?: string;
}

/**
 * Creates the Bitbucket Cloud notifier.
 *
 * @throws {NotifierError} on an empty token or a non-http(s) API URL
 */
export function createBitbucketNotifier(options: BitbucketOptions): Notifier {
  const { remote, token, username } = options;
  const baseUrl = checkNotifierOptions(LABEL, token, apiUrlFor(remote, options.apiUrl));
  const authorization = () =>
    username
      ? `Basic ${
        btoa(String.fromCharCode(...new TextEncoder().encode(`${username}:${tokenValue(token)}`)))
      }`
      : `Bearer ${tokenValue(token)}`;
  const http = createHttpClient({
    fetch: providerFetch(options.caFile),
    provider: "bitbucket",
    label: LABEL,
    baseUrl,
    authorization,
    hints: {
      401: username
        ? "check the API token and --bitbucket-username (the account's email)"
        : "check the access token (an API token also needs --bitbucket-username)",
      403: "check the token can read the repository (scope read:repository:bitbucket)",
      404: "check the workspace, repository and commit exist and the token can see them",
    },
  });
  const commitPath = (sha: string) =>
    `/repositories/${encodeURIComponent(remote.owner)}/${
      encodeURIComponent(remote.repo)
    }/commit/${sha}`;
  const webUrl = (sha: string) =>
    `${remote.origin}/${encodeURIComponent(remote.owner)}/${
      encodeURIComponent(remote.repo)
    }/commits/${sha}`;

  return {
    provider: "bitbucket",
    get rateLimitRemaining() {
      return http.rateLimitRemaining;
    },
    async setStatus(sha, status, signal) {
      await http.request({
        method: "POST",
        path: `${commitPath(sha)}/statuses/build`,
        body: {
          type: "build", // the type every status object carries (the API description requires it)
          key: await statusKey(status.name),
          name: status.name,
          state: TO_BITBUCKET[status.state],
          description: status.description,
          url: status.targetUrl ?? webUrl(sha),
        },
        signal,
        doing: `set status on ${sha.slice(0, 7)}`,
        expect: "object",
      });
    },
    async getStatus(sha, name, signal) {
      const res = await http.request<BitbucketStatus>({
        method: "GET",
        path: `${commitPath(sha)}/statuses/build/${await statusKey(name)}`,
        signal,
        doing: `read statuses of ${sha.slice(0, 7)}`,
        accept: [404],
        expect: "object",
      });
      return res.status === 404 ? undefined : toReadStatus(res.data, name);
    },
    async listStatuses(sha, prefix, signal) {
      const all: BitbucketStatus[] = [];
      for (let page = 1; page <= MAX_PAGES; page++) {
        const { data } = await http.request<{ values?: BitbucketStatus[]; next?: string }>({
          method: "GET",
          path: `${commitPath(sha)}/statuses`,
          query: { pagelen: 100, page, sort: "-created_on" },
          expect: "object",
          signal,
          doing: `read statuses of ${sha.slice(0, 7)}`,
        });
        all.push(...data?.values ?? []); // newest first (sort=-created_on)
        if (!data?.next) break;
      }
      const ours = all.filter((s) =>
        (s.name ?? s.key).toLowerCase().startsWith(prefix.toLowerCase())
      );
      return [...newestPerName(ours, (s) => s.name ?? s.key)]
        .map(([name, s]) => toReadStatus(s, name));
    },
  };
}

function toReadStatus(s: BitbucketStatus, name: string): ReadStatus {
  return {
    name,
    state: stateFor<string>(TO_BITBUCKET, s.state) ?? "failed",
    description: s.description ?? "",
    ...(s.url ? { targetUrl: s.url } : {}),
    ...(s.updated_on ? { updatedAt: s.updated_on } : {}),
  };
}
