/**
 * Azure DevOps commit statuses (dev.azure.com, *.visualstudio.com, Azure DevOps Server
 * collections) through `azure-devops-node-api`'s `GitApi`. The status identity is genre
 * `flux-status`, name `<instance>/<action>` (the original tool's form, so branch policies keep
 * matching); the UI shows `flux-status/<instance>/<action>`, our full name.
 *
 * Quirks handled (providers.md): a bad PAT may be answered with `203` and an HTML sign-in page (or
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
import type { GitRemote } from "../git_url.ts";
import { providerFailure } from "./_errors.ts";
import {
  type Notifier,
  type ProviderError,
  type ReadStatus,
  type State,
  stateFor,
  truncate,
} from "./notifier.ts";

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

/** The collection URL for a remote: `https://dev.azure.com/ORG` or `https://HOST/tfs/COLLECTION`. */
export function defaultAzureApiUrl(remote: GitRemote): string {
  const host = new URL(remote.origin).host;
  if (
    host === "dev.azure.com" || host.endsWith(".visualstudio.com") || host.endsWith("azure.com")
  ) {
    return `https://dev.azure.com/${encodeURIComponent(remote.owner)}`;
  }
  return `${remote.origin}${remote.basePath}/${encodeURIComponent(remote.owner)}`;
}

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
  token: string;
  /** Organization or collection URL; @default derived from the remote */
  apiUrl?: string;
  /** Time source for rate-limit resets; @default Date.now */
  now?: () => number;
}

const HINTS: Record<number, string> = {
  401: "check the PAT is valid, not expired, and has the Code (status) scope",
  403: "check the PAT has the Code (status) scope on this project",
  404: "check the organization, project and repository names",
};

/** The HTTP answer behind one SDK call (the SDK hides 404 and 203 behind a null result). */
interface Answer {
  status?: number;
  headers?: Record<string, string>;
}

interface SdkRestClient {
  processResponse(
    res: { message: { statusCode?: number; headers: Record<string, string> } },
    options: unknown,
  ): Promise<unknown>;
}

interface SdkError {
  statusCode?: number;
  message?: string;
  result?: { message?: string } | null;
  responseHeaders?: Record<string, string>;
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
  const collectionUrl = (options.apiUrl ?? defaultAzureApiUrl(remote)).replace(/\/+$/, "");
  const auth = getPersonalAccessTokenHandler(token);
  const handler = {
    prepareRequest(request: { headers: Record<string, unknown> }) {
      auth.prepareRequest(request as never);
      request.headers["X-TFS-FedAuthRedirect"] = "Suppress";
    },
    canHandleAuthentication: () => false,
    handleAuthentication: () => Promise.reject(new Error("not handled")),
  };
  const git = new GitApi(collectionUrl, [handler as never], {
    allowRetries: false,
    socketTimeout: 30_000,
    allowRedirects: false,
  }, "flux-status");
  const project = remote.project ?? remote.repo;
  // The SDK turns a 404 (and an HTML 203) into a null result; record each answer's status where
  // it passes. Calls run one at a time so the record belongs to the call that reads it (Azure
  // DevOps' own limits make parallel calls pointless anyway).
  let answer: Answer = {};
  const rest = (git as unknown as { rest: SdkRestClient }).rest;
  const processResponse = rest.processResponse.bind(rest);
  rest.processResponse = (res, options) => {
    answer = {
      ...(res.message.statusCode ? { status: res.message.statusCode } : {}),
      headers: res.message.headers,
    };
    return processResponse(res, options);
  };
  let queue: Promise<unknown> = Promise.resolve();
  /**
   * Runs one SDK call after the previous one; a result that fails `isValid` (the SDK's stand-in
   * for a 404 or a sign-in page) becomes the error its HTTP status means.
   */
  function call<T>(fn: () => Promise<T>, isValid: (result: T) => boolean): Promise<T> {
    const run = queue.catch(() => {}).then(async () => {
      answer = {};
      const byStatus = (): SdkError => ({
        statusCode: answer.status ?? 203,
        message: answer.status === 404 ? "the repository or project was not found" : "",
        ...(answer.headers ? { responseHeaders: answer.headers } : {}),
      });
      let result: T;
      try {
        result = await fn();
      } catch (err) {
        // The SDK fails on its own null result without saying why: the status does.
        if ((err as SdkError)?.statusCode === undefined && answer.status) throw byStatus();
        throw err;
      }
      if (result !== null && result !== undefined && isValid(result)) return result;
      throw byStatus();
    });
    queue = run;
    return run;
  }

  const fail = (err: unknown, doing: string): ProviderError => {
    const e = err as SdkError;
    const message = e?.result?.message ?? e?.message ?? "";
    if (e?.statusCode === undefined) {
      // No HTTP status: either no response, or a non-JSON answer such as the sign-in page.
      const signIn = /Unexpected token|JSON|<html|sign-?in/i.test(message);
      return providerFailure({
        provider: "azure-devops",
        label: "Azure DevOps",
        doing,
        status: signIn ? 401 : 0,
        message: signIn ? "with a sign-in page instead of JSON" : "no response arrived",
        now: now(),
        hints: HINTS,
      });
    }
    const status = e.statusCode === 203 || e.statusCode === 302 ? 401 : e.statusCode;
    return providerFailure({
      provider: "azure-devops",
      label: "Azure DevOps",
      doing,
      status,
      message: status !== e.statusCode
        ? "with a sign-in page instead of JSON"
        : message.slice(0, 300),
      headers: e.responseHeaders ?? {},
      now: now(),
      hints: HINTS,
    });
  };

  return {
    provider: "azure-devops",
    async setStatus(sha, status) {
      try {
        await call(
          () =>
            git.createCommitStatus(
              {
                state: TO_AZURE[status.state],
                description: truncate(status.description, AZURE_DESCRIPTION_LIMIT),
                context: toAzureContext(status.name),
                ...(status.targetUrl ? { targetUrl: status.targetUrl } : {}),
              },
              sha,
              remote.repo,
              project,
            ),
          (created) => typeof created === "object" && "state" in created,
        );
      } catch (err) {
        throw fail(err, `set status on ${sha.slice(0, 7)}`);
      }
    },
    async getStatus(sha, name): Promise<ReadStatus | undefined> {
      const context = toAzureContext(name);
      try {
        const statuses = [];
        for (let skip = 0;; skip += PAGE_SIZE) {
          const page = await call(
            () => git.getStatuses(sha, remote.repo, project, PAGE_SIZE, skip, true),
            Array.isArray,
          );
          statuses.push(...page);
          if (page.length < PAGE_SIZE) break;
        }
        const ours = statuses
          .filter((s) =>
            (s.context?.genre ?? "") === context.genre && s.context?.name === context.name
          )
          .sort((a, b) => (b.id ?? 0) - (a.id ?? 0))[0];
        if (!ours) return undefined;
        return {
          name,
          state: fromAzureState(ours.state),
          description: ours.description ?? "",
          ...(ours.targetUrl ? { targetUrl: ours.targetUrl } : {}),
          ...(ours.updatedDate ?? ours.creationDate
            ? { updatedAt: new Date((ours.updatedDate ?? ours.creationDate)!).toISOString() }
            : {}),
        };
      } catch (err) {
        throw fail(err, `read statuses of ${sha.slice(0, 7)}`);
      }
    },
  };
}
