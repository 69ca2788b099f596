/**
 * The start-up self-check: one cheap read per provider (the statuses of a commit that does not
 * exist) shows whether the token can read the repository, before any status is due. A refused
 * token, a wrong repository or a token without the status scope is said clearly, in the log and in
 * `/readyz`; a failing check never stops events from being accepted and stored.
 *
 * The same read tells a 404 on one write apart: the commit's own (the status is dropped), or the
 * repository's (a wrong `--api-url`, a renamed or deleted repository, a token that cannot see it),
 * which every status would meet, so it pauses calls like a refused token and keeps the statuses.
 *
 * @module
 */
import { type Notifier, ProviderError } from "./notifier.ts";
import { errorText } from "../runtime/error_text.ts";

/** The commit the check reads: no repository has it. */
const PROBE_SHA = "0".repeat(40);

/** A provider's own words for "no such commit": the repository answered, only the commit is unknown. */
const UNKNOWN_COMMIT = /Commit Not Found|No commit found|TF401175/i;

/** What the check found: the repository is usable with the token, or why not. */
export type Access = { ok: true } | { ok: false; reason: string; error?: ProviderError };

/**
 * Reads the statuses of {@linkcode PROBE_SHA} once.
 *
 * @param notifier the provider's notifier
 * @param signal aborts the call
 */
export async function checkAccess(notifier: Notifier, signal?: AbortSignal): Promise<Access> {
  try {
    await notifier.listStatuses(PROBE_SHA, "flux-status/", signal);
    return { ok: true };
  } catch (err) {
    if (
      err instanceof ProviderError && err.kind === "rejected" && UNKNOWN_COMMIT.test(err.message)
    ) {
      return { ok: true };
    }
    if (err instanceof ProviderError) {
      const error = err.kind === "rejected" ? repositoryUnreadable(err, err.message) : err;
      return { ok: false, reason: error.message, error };
    }
    return { ok: false, reason: errorText(err) };
  }
}

/**
 * Decides whose a write's 404 is. While the repository reads fine it is the commit's, and `err`
 * is returned as is (a `rejected` failure: that one status is dropped). Otherwise it is returned
 * as an `auth` failure, which pauses every call and keeps the statuses until the repository can
 * be read again.
 *
 * @param notifier the provider's notifier
 * @param err the write's failure
 * @param signal aborts the check
 */
export async function whoseRejection(
  notifier: Notifier,
  err: ProviderError,
  signal?: AbortSignal,
): Promise<ProviderError> {
  if (err.kind !== "rejected" || err.status !== 404) return err;
  const access = await checkAccess(notifier, signal);
  if (access.ok) return err;
  return repositoryUnreadable(err, access.reason);
}

function repositoryUnreadable(err: ProviderError, reason: string): ProviderError {
  return new ProviderError(
    `${err.message} (the repository itself cannot be read, so calls pause until it can: check --git-url and --api-url)${
      reason === err.message ? "" : `: ${reason}`
    }`,
    { provider: err.provider, status: err.status, kind: "auth" },
  );
}
