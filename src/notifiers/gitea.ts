/**
 * Gitea and Forgejo (and Codeberg) commit statuses through their REST API v1, with `fetch`
 * (`_http.ts`): Gitea's only official SDK is Go's. `POST /repos/{owner}/{repo}/statuses/{sha}`
 * appends a status; the newest per context wins, as on GitHub. Read back from
 * `GET /repos/{owner}/{repo}/commits/{sha}/statuses`, paged, keeping the newest (highest id) per
 * context. `canceled` has no Gitea word: it is written as `error` with a "Canceled: " prefix and
 * read back as canceled only with that prefix.
 *
 * @module
 */
import type { GitRemote } from "./git_url.ts";
import { createHttpClient } from "./_http.ts";
import { providerFetch } from "./_transport.ts";
import { apiUrlFor, PROVIDER_TABLE } from "./providers.ts";
import {
  checkNotifierOptions,
  markedDescription,
  MAX_DESCRIPTION_LENGTH,
  newestPerName,
  type Notifier,
  readMarked,
  type ReadStatus,
  type State,
  type Token,
  tokenValue,
} from "./notifier.ts";

const LABEL = PROVIDER_TABLE.gitea.label;

/** Our states → Gitea's. */
export const TO_GITEA = {
  pending: "pending",
  succeeded: "success",
  failed: "failure",
  canceled: "error",
} as const satisfies Record<State, string>;

/** Statuses per page; Gitea caps pages at its MAX_RESPONSE_ITEMS (50 by default). */
const PAGE = 50;
/** Pages read at most (a commit with more statuses than this is read partly). */
const MAX_PAGES = 20;

/** A Gitea status as the API returns it. */
interface GiteaStatus {
  id: number;
  status: string;
  context: string;
  description: string | null;
  target_url: string | null;
  updated_at?: string;
}

/** Gitea's state and description → ours (`warning` reads as `error`). */
function readGitea(state: string, description: string) {
  return readMarked(TO_GITEA, state === "warning" ? "error" : state, description);
}

/** Options for {@linkcode createGiteaNotifier}. */
export interface GiteaOptions {
  /** The repository. */
  remote: GitRemote;
  /** Access token with `write:repository` (read: `read:repository`). */
  token: Token;
  /** API base URL, `https://HOST[/sub-path]/api/v1`; @default derived from the remote */
  apiUrl?: string;
  /** PEM file of extra CA certificates to trust. */
  caFile?: string;
}

/**
 * Creates the Gitea/Forgejo notifier.
 *
 * @throws {NotifierError} on an empty token or a non-http(s) API URL
 */
export function createGiteaNotifier(options: GiteaOptions): Notifier {
  const { remote, token } = options;
  const baseUrl = checkNotifierOptions(LABEL, token, apiUrlFor(remote, options.apiUrl));
  const http = createHttpClient({
    fetch: providerFetch(options.caFile),
    provider: "gitea",
    label: LABEL,
    baseUrl,
    authorization: () => `token ${tokenValue(token)}`,
    hints: {
      401: "check the token is valid",
      403: "check the token has write:repository scope",
      404: "check the repository exists and the token can see it",
      422: "check the commit exists in this repository",
    },
  });
  const repoPath = `/repos/${encodeURIComponent(remote.owner)}/${encodeURIComponent(remote.repo)}`;

  /** The newest status per context (lower-cased), newest first. */
  async function newestByContext(sha: string, signal?: AbortSignal) {
    const all: GiteaStatus[] = [];
    for (let page = 1; page <= MAX_PAGES; page++) {
      const { data } = await http.request<GiteaStatus[]>({
        method: "GET",
        path: `${repoPath}/commits/${sha}/statuses`,
        query: { page, limit: PAGE },
        expect: "array",
        signal,
        doing: `read statuses of ${sha.slice(0, 7)}`,
      });
      all.push(...data ?? []);
      if (!data || data.length < PAGE) break;
    }
    const newestFirst = all.sort((a, b) => b.id - a.id);
    return newestPerName(newestFirst, (s) => s.context, (n) => n.toLowerCase());
  }

  return {
    provider: "gitea",
    get rateLimitRemaining() {
      return http.rateLimitRemaining;
    },
    async setStatus(sha, status, signal) {
      await http.request({
        method: "POST",
        path: `${repoPath}/statuses/${sha}`,
        body: {
          state: TO_GITEA[status.state],
          context: status.name,
          description: markedDescription(status, MAX_DESCRIPTION_LENGTH),
          ...(status.targetUrl ? { target_url: status.targetUrl } : {}),
        },
        signal,
        doing: `set status on ${sha.slice(0, 7)}`,
        expect: "object",
      });
    },
    async getStatus(sha, name, signal) {
      const found = (await newestByContext(sha, signal)).get(name.toLowerCase());
      return found ? toReadStatus(found, name) : undefined;
    },
    async listStatuses(sha, prefix, signal) {
      const all = [...(await newestByContext(sha, signal)).values()];
      return all.filter((s) => s.context.toLowerCase().startsWith(prefix.toLowerCase()))
        .map((s) => toReadStatus(s, s.context));
    },
  };
}

function toReadStatus(s: GiteaStatus, name: string): ReadStatus {
  return {
    name,
    ...readGitea(s.status, s.description ?? ""),
    ...(s.target_url ? { targetUrl: s.target_url } : {}),
    ...(s.updated_at ? { updatedAt: s.updated_at } : {}),
  };
}
