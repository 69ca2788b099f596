/**
 * Azure DevOps commit statuses (dev.azure.com, *.visualstudio.com, Azure DevOps Server
 * collections) through `azure-devops-node-api`'s `GitApi`. The status identity is genre
 * `flux-status`, name `<instance>/<action>` (the original tool's form, so branch policies keep
 * matching); the UI shows `flux-status/<instance>/<action>`, our full name.
 *
 * Quirks handled (docs/providers.md): a bad PAT may be answered with `203` and an HTML sign-in page (or
 * a 302 to it) instead of 401: `X-TFS-FedAuthRedirect: Suppress` is sent, and any non-JSON
 * answer is reported as an authentication failure (retried slowly, like a 401). 429 carries
 * `Retry-After`. Statuses are append-only; reads take the newest of ours by id. The SDK's own
 * retries stay off (`allowRetries: false`): the outbox owns every retry.
 *
 * @module
 */
import { GitApi } from "azure-devops-node-api/GitApi.js";
import { getPersonalAccessTokenHandler } from "azure-devops-node-api/WebApi.js";
import { GitStatusState } from "azure-devops-node-api/interfaces/GitInterfaces.js";
import type { GitRemote } from "./git_url.ts";
import { apiUrlFor, PROVIDER_TABLE } from "./providers.ts";
import { abortable } from "./_abortable.ts";
import { readCaFile, REQUEST_TIMEOUT_MS } from "./_transport.ts";
import { noAnswer, providerFailure } from "./_errors.ts";
import {
  checkNotifierOptions,
  newestPerName,
  type Notifier,
  NotifierError,
  type ProviderError,
  type ReadStatus,
  type State,
  stateFor,
  type Token,
  tokenValue,
  truncate,
} from "./notifier.ts";
import { rateLimitRemaining } from "./retry_after.ts";

const LABEL = PROVIDER_TABLE["azure-devops"].label;

/** Our states → Azure DevOps' (`canceled` has no word of its own: `notApplicable`). */
export const TO_AZURE = {
  pending: GitStatusState.Pending,
  succeeded: GitStatusState.Succeeded,
  failed: GitStatusState.Failed,
  canceled: GitStatusState.NotApplicable,
} as const satisfies Record<State, GitStatusState>;

/** Azure DevOps' state (enum number or name) → ours. */
export function fromAzureState(state: GitStatusState | string | undefined): State {
  const value = typeof state === "string"
    ? GitStatusState[
      (state.charAt(0).toUpperCase() + state.slice(1)) as keyof typeof GitStatusState
    ]
    : state;
  const own = value === undefined ? undefined : stateFor<GitStatusState>(TO_AZURE, value);
  return own ?? (value === GitStatusState.NotSet ? "pending" : "failed");
}

/** Statuses read per request (`top`); later pages are read with `skip`. */
const PAGE_SIZE = 1000;

/** The genre every flux-status status carries. */
export const AZURE_GENRE = "flux-status";

/** Description limit we keep to (not documented by Azure DevOps). */
export const AZURE_DESCRIPTION_LIMIT = 400;

/** Splits `flux-status/<instance>/<action>` into Azure's genre and name. */
export function toAzureContext(name: string): { genre: string; name: string } {
  const prefix = `${AZURE_GENRE}/`;
  return name.startsWith(prefix)
    ? { genre: AZURE_GENRE, name: name.slice(prefix.length) }
    : { genre: "", name };
}

/** Options for {@linkcode createAzureDevOpsNotifier}. */
export interface AzureDevOpsOptions {
  /** The repository. */
  remote: GitRemote;
  /** Personal access token with Code (status) scope. */
  token: Token;
  /** Organization or collection URL; @default derived from the remote */
  apiUrl?: string;
  /** PEM file of extra CA certificates to trust. */
  caFile?: string;
  /** The process environment, for the proxy variables (`HTTPS_PROXY`, `NO_PROXY`). */
  env?: Record<string, string | undefined>;
  /** Time source for rate-limit resets; @default Date.now */
  now?: () => number;
}

const HINTS: Record<number, string> = {
  401: "check the PAT is valid, not expired, and has the Code (status) scope",
  403: "check the PAT has the Code (status) scope on this project",
  404: "check the organization, project and repository names",
};

/** The commit statuses resource of the Git area (what `GitApi` itself asks the location service for). */
const STATUSES_LOCATION = "428dd4fb-fda5-4722-af02-9313b80305da";
const STATUSES_API_VERSION = "7.2-preview.2";

/** What the SDK's RestClient throws for an answer over 299. */
interface SdkError {
  statusCode?: number;
  message?: string;
  result?: { message?: string } | null;
  responseHeaders?: Record<string, string>;
}

/** An HTTP failure seen on the SDK's own RestClient answer. */
class AzureHttpError extends Error {
  constructor(readonly status: number, readonly headers: Record<string, string>, message: string) {
    super(message);
  }
}

/**
 * Creates the Azure DevOps notifier.
 *
 * @example
 * ```ts
 * const az = createAzureDevOpsNotifier({ remote: parseGitUrl("https://dev.azure.com/o/p/_git/r"), token });
 * ```
 */
export function createAzureDevOpsNotifier(options: AzureDevOpsOptions): Notifier {
  const { remote, token, now = Date.now } = options;
  const collectionUrl = checkNotifierOptions(LABEL, token, apiUrlFor(remote, options.apiUrl));
  checkProxyHost(collectionUrl, options.env ?? {});
  // The signal of the SDK call being started: the SDK builds its request options synchronously
  // when a call starts, and hands them to every request handler (a seam it supports), where the
  // signal is put on the underlying request.
  let starting: AbortSignal | undefined;
  const handler = {
    prepareRequest(request: { headers: Record<string, unknown>; signal?: AbortSignal }) {
      // The token is read on every call: a rotated one takes effect at once.
      getPersonalAccessTokenHandler(tokenValue(token)).prepareRequest(request as never);
      request.headers["X-TFS-FedAuthRedirect"] = "Suppress";
      if (starting) request.signal = starting;
    },
    canHandleAuthentication: () => false,
    handleAuthentication: () => Promise.reject(new Error("not handled")),
  };
  // The SDK does its own HTTP: it reads HTTPS_PROXY/NO_PROXY itself and gets --ca-file here,
  // checked first, as the SDK skips a file it cannot read without a word.
  if (options.caFile) readCaFile(options.caFile);
  const git = new GitApi(collectionUrl, [handler as never], {
    allowRetries: false,
    socketTimeout: REQUEST_TIMEOUT_MS,
    allowRedirects: false,
    ...(options.caFile ? { cert: { caFile: options.caFile } } : {}),
  }, "flux-status");
  const project = remote.project ?? remote.repo;
  const route = (sha: string) => ({ project, commitId: sha, repositoryId: remote.repo });
  let remaining: number | undefined;
  const observe = (headers: Record<string, string> | undefined) => {
    remaining = rateLimitRemaining(headers) ?? remaining;
  };

  /**
   * One call to the statuses resource through the SDK's location service and RestClient, whose
   * answer carries the HTTP status (GitApi's own methods turn a 404 or a 203 sign-in page into a
   * null result). Any answer but a JSON 2xx becomes an {@linkcode AzureHttpError}.
   */
  async function call<T>(
    sha: string,
    send: (url: string, options: ReturnType<GitApi["createRequestOptions"]>) => Promise<
      { statusCode: number; result: T | null; headers: object }
    >,
    query: Record<string, unknown> | undefined,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    signal?.throwIfAborted();
    const headersOf = (a: { headers: object }) => a.headers as Record<string, string>;
    const version = await abortable(
      git.vsoClient.getVersioningData(
        STATUSES_API_VERSION,
        "git",
        STATUSES_LOCATION,
        route(sha),
        query,
      ),
      signal,
    );
    const options = git.createRequestOptions("application/json", version.apiVersion);
    let answer;
    try {
      starting = signal;
      const sent = send(version.requestUrl!, options);
      starting = undefined;
      answer = await abortable(sent, signal);
      observe(headersOf(answer));
    } catch (err) {
      starting = undefined;
      const e = err as SdkError;
      observe(e?.responseHeaders);
      if (e?.statusCode === undefined) throw err;
      throw new AzureHttpError(
        e.statusCode,
        e.responseHeaders ?? {},
        e.result?.message ?? e.message ?? "",
      );
    }
    if (answer.statusCode === 404) {
      throw new AzureHttpError(404, headersOf(answer), "the repository or project was not found");
    }
    if (answer.statusCode !== 200 && answer.statusCode !== 201 || answer.result === null) {
      // A 203 (or any 2xx without JSON) is the sign-in page a refused PAT gets.
      throw new AzureHttpError(401, headersOf(answer), "with a sign-in page instead of JSON");
    }
    return answer.result;
  }

  const fail = (err: unknown, doing: string): ProviderError => {
    const f = { provider: "azure-devops", label: LABEL, doing, now: now(), hints: HINTS };
    if (err instanceof AzureHttpError) {
      const signIn = err.status === 203 || err.status === 302;
      return providerFailure({
        ...f,
        status: signIn ? 401 : err.status,
        message: signIn ? "with a sign-in page instead of JSON" : err.message.slice(0, 300),
        headers: err.headers,
      });
    }
    return noAnswer(f, err);
  };

  return {
    provider: "azure-devops",
    get rateLimitRemaining() {
      return remaining;
    },
    async setStatus(sha, status, signal) {
      const body = {
        state: AZURE_STATE_NAMES[status.state],
        description: truncate(status.description, AZURE_DESCRIPTION_LIMIT),
        context: toAzureContext(status.name),
        ...(status.targetUrl ? { targetUrl: status.targetUrl } : {}),
      };
      try {
        await call(sha, (url, options) => git.rest.create(url, body, options), undefined, signal);
      } catch (err) {
        throw fail(err, `set status on ${sha.slice(0, 7)}`);
      }
    },
    async getStatus(sha, name, signal): Promise<ReadStatus | undefined> {
      return (await newest(sha, signal)).find((s) => s.name === name);
    },
    async listStatuses(sha, prefix, signal): Promise<ReadStatus[]> {
      return (await newest(sha, signal)).filter((s) => s.name.startsWith(prefix));
    },
  };

  /** The newest status of each context on a commit, named as we name them. */
  async function newest(sha: string, signal?: AbortSignal): Promise<ReadStatus[]> {
    const statuses: WireStatus[] = [];
    try {
      for (let skip = 0;; skip += PAGE_SIZE) {
        const page = await call<{ value?: WireStatus[] } | WireStatus[]>(
          sha,
          (url, options) => git.rest.get(url, options),
          { top: PAGE_SIZE, skip, latestOnly: true },
          signal,
        );
        const items = Array.isArray(page) ? page : page.value ?? [];
        statuses.push(...items);
        if (items.length < PAGE_SIZE) break;
      }
    } catch (err) {
      throw fail(err, `read statuses of ${sha.slice(0, 7)}`);
    }
    const newestFirst = statuses.sort((a, b) => (b.id ?? 0) - (a.id ?? 0));
    return [...newestPerName(newestFirst, (s) => fromAzureContext(s.context))].map(([name, s]) => {
      const when = s.updatedDate ?? s.creationDate;
      return {
        name,
        state: fromAzureState(s.state),
        description: s.description ?? "",
        ...(s.targetUrl ? { targetUrl: s.targetUrl } : {}),
        ...(when ? { updatedAt: new Date(when).toISOString() } : {}),
      };
    });
  }
}

/** Azure's genre and name → our full name (the inverse of {@linkcode toAzureContext}). */
function fromAzureContext(context: WireStatus["context"]): string {
  const genre = context?.genre ?? "";
  return genre ? `${genre}/${context?.name ?? ""}` : context?.name ?? "";
}

/** A status as the service sends it (enums by name, dates as strings). */
interface WireStatus {
  id?: number;
  state?: string | GitStatusState;
  description?: string;
  targetUrl?: string;
  context?: { genre?: string; name?: string };
  creationDate?: string;
  updatedDate?: string;
}

/** Our states → the names the service reads (it also takes enum numbers). */
const AZURE_STATE_NAMES = {
  pending: "pending",
  succeeded: "succeeded",
  failed: "failed",
  canceled: "notApplicable",
} as const satisfies Record<State, string>;

/**
 * Refuses what the SDK's proxy tunnel cannot do: an HTTPS collection URL by IP address through a
 * proxy (the tunnel sends the IP as the TLS server name, which Deno's TLS refuses with an error
 * nothing can catch, so the process would die). A host name works.
 *
 * @throws {NotifierError} naming the fix
 */
function checkProxyHost(collectionUrl: string, vars: Record<string, string | undefined>): void {
  const url = new URL(collectionUrl);
  const env = (name: string) => vars[name] ?? vars[name.toLowerCase()];
  const proxy = url.protocol === "https:" ? env("HTTPS_PROXY") : env("HTTP_PROXY");
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const isIp = /^\d+\.\d+\.\d+\.\d+$/.test(host) || host.includes(":");
  const bypassed = (env("NO_PROXY") ?? "").split(",").map((h) => h.trim()).some((h) =>
    h === "*" || h === host || (h.startsWith(".") && host.endsWith(h))
  );
  if (url.protocol === "https:" && proxy && isIp && !bypassed) {
    throw new NotifierError(
      `Cannot call Azure DevOps at ${url.host} through HTTPS_PROXY by IP address: use the server's host name in --api-url, or list the address in NO_PROXY`,
    );
  }
}
