/**
 * The start-up self-check: one cheap read per provider (the statuses of a commit that does not
 * exist) shows whether the token can read the repository, before any status is due. A refused
 * token, a wrong repository or a token without the status scope is said clearly, in the log and in
 * `/readyz`; a failing check never stops events from being accepted and stored.
 *
 * @module
 */
import { type Notifier, ProviderError } from "./notifiers/notifier.ts";

/** The commit the check reads: no repository has it. */
export const PROBE_SHA = "0".repeat(40);

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
    if (err instanceof ProviderError) return { ok: false, reason: err.message, error: err };
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}
