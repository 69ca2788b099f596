/**
 * fluxd's events (`POST /v6/events`, docs/flux-protocol.md §5): valibot schemas, and the status changes
 * a sync event stands for.
 *
 * Which commits get a status: fluxd applies the tree at `commits[0]`, the head, and a sync event
 * lists every commit between the previous sync marker and that head. Each of them is now running
 * in the cluster, and a CI gate may be waiting on any of them (`status --wait` on the commit it
 * built), so every listed commit gets the same sync (and later workload) status, newest first,
 * up to {@linkcode MAX_COMMITS_PER_SYNC}. Older commits in a larger push were never individually
 * asked about in practice (a merge's head is), and this keeps one sync from spending a provider's
 * rate limit. An initial sync lists the whole history: only its head gets a status.
 *
 * @module
 */
import * as v from "valibot";
import type { State, StatusChange } from "../../notifiers/notifier.ts";

/** Most commits of one sync event that get a status (newest first). */
export const MAX_COMMITS_PER_SYNC = 20;

/** An event body that cannot be accepted; the server answers it with `status`. */
export class EventError extends Error {
  /** HTTP status to answer with (400 or 413). */
  readonly status: number;
  /** Where in the body each problem is, with what is wrong. */
  readonly issues: { path: string; message: string }[];

  /**
   * Creates the error.
   *
   * @param message what is wrong
   * @param options `status` to answer (default 400) and `issues` by JSON path
   */
  constructor(
    message: string,
    options: { status?: number; issues?: { path: string; message: string }[] } & ErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "EventError";
    this.status = options.status ?? 400;
    this.issues = options.issues ?? [];
  }
}

const Sha = v.pipe(
  v.string(),
  v.regex(/^[0-9a-f]{40}(?:[0-9a-f]{24})?$/i, "expected a full commit SHA"),
);

/** A validated fluxd event envelope. */
export interface FluxEvent {
  /** Always 0 from fluxd. */
  id?: number | undefined;
  /** Resources affected. */
  serviceIDs?: string[] | null | undefined;
  /** `sync`, `commit`, `release`, `autorelease`, … */
  type: string;
  /** RFC 3339 start time. */
  startedAt?: string | undefined;
  /** RFC 3339 end time. */
  endedAt?: string | undefined;
  /** `info` from released fluxd; `error` from builds that report aborted syncs. */
  logLevel?: "debug" | "info" | "warn" | "error" | undefined;
  /** Free text, omitted by released fluxd. */
  message?: string | undefined;
  /** Per-type metadata. */
  metadata?: unknown;
}

/**
 * The envelope every fluxd event has.
 *
 * @ignore
 */
const FluxEventSchema = v.object({
  id: v.optional(v.pipe(v.number(), v.integer())),
  serviceIDs: v.nullish(v.array(v.string())),
  type: v.pipe(v.string(), v.minLength(1, "must not be empty")),
  startedAt: v.optional(v.string()),
  endedAt: v.optional(v.string()),
  logLevel: v.optional(v.picklist(["debug", "info", "warn", "error"])),
  message: v.optional(v.string()),
  metadata: v.optional(v.unknown()),
});

/**
 * `metadata` of a `sync` event.
 *
 * @ignore
 */
const SyncMetadataSchema = v.object({
  commits: v.nullish(v.array(v.object({ revision: Sha, message: v.optional(v.string()) }))),
  revisions: v.nullish(v.array(Sha)),
  includes: v.nullish(v.record(v.string(), v.boolean())),
  errors: v.nullish(
    v.array(v.object({ ID: v.string(), Path: v.optional(v.string()), Error: v.string() })),
  ),
  initialSync: v.optional(v.boolean()),
});

/** What one sync event means for the commits it names. */
export interface SyncOutcome {
  /** The commit fluxd applied (`commits[0]`). */
  head: string;
  /** Commits that get a status, head first. */
  commits: string[];
  /** Whether the sync failed (resource errors, or an error-level event). */
  failed: boolean;
  /** The sync status description. */
  description: string;
  /** Resource IDs the sync touched (`serviceIDs`). */
  resources: string[];
}

/** A parsed event: a sync with its outcome, or any other type (accepted, ignored). */
export type ParsedEvent =
  | { type: "sync"; event: FluxEvent; outcome: SyncOutcome }
  | { type: string; event: FluxEvent; outcome?: undefined };

/**
 * Decodes and validates an event body.
 *
 * @param body the raw request body
 * @throws {EventError} naming the JSON path of each problem
 */
export function parseEvent(body: string): ParsedEvent {
  const json = decodeJson(body);
  const event = checkEvent(FluxEventSchema, json);
  if (event.type !== "sync") return { type: event.type, event };
  const { metadata: raw, listed } = keepUsedCommits(event.metadata ?? {});
  const metadata = checkEvent(SyncMetadataSchema, raw, "metadata");
  const revisions = metadata.commits?.map((c) => c.revision) ?? metadata.revisions ?? [];
  if (revisions.length === 0) {
    throw new EventError("Cannot use a sync event that names no commit", {
      issues: [{ path: "metadata.commits", message: "a sync event must list at least one commit" }],
    });
  }
  return { type: "sync", event, outcome: syncOutcome(event, metadata, revisions, listed) };
}

/**
 * Cuts the commit list of a sync's metadata to the commits that can get a status (an initial sync
 * lists the whole history: 150,000 commits are ~17 MB), before validation; the rest is counted,
 * not checked.
 */
function keepUsedCommits(metadata: unknown): { metadata: unknown; listed: number | undefined } {
  if (typeof metadata !== "object" || metadata === null) return { metadata, listed: undefined };
  const m = metadata as Record<string, unknown>;
  const keep = m.initialSync === true ? 1 : MAX_COMMITS_PER_SYNC;
  const cut = (list: unknown) => Array.isArray(list) ? list.slice(0, keep) : list;
  const listed = Array.isArray(m.commits)
    ? m.commits.length
    : Array.isArray(m.revisions)
    ? m.revisions.length
    : undefined;
  return { metadata: { ...m, commits: cut(m.commits), revisions: cut(m.revisions) }, listed };
}

/**
 * Decodes an event body as JSON.
 *
 * @throws {EventError} when it is not JSON
 * @ignore
 */
export function decodeJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch (err) {
    throw new EventError(`Cannot decode event as JSON: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Validates `value` against an event schema.
 *
 * @param prefix the JSON path of `value` in the body ("" for the body itself)
 * @throws {EventError} naming the JSON path of each problem
 * @ignore
 */
export function checkEvent<T extends v.GenericSchema>(
  schema: T,
  value: unknown,
  prefix = "",
): v.InferOutput<T> {
  const where = prefix || "(body)";
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    const issues = [{ path: where, message: "expected a JSON object" }];
    throw new EventError(`Invalid event: ${where}: expected a JSON object`, { issues });
  }
  const parsed = v.safeParse(schema, value);
  if (parsed.success) return parsed.output;
  const issues = parsed.issues.map((i) => ({
    path: [prefix, ...(i.path ?? []).map((p) => String(p.key))].filter((p) => p !== "").join(".") ||
      "(body)",
    message: i.message,
  }));
  const first = issues[0]!;
  throw new EventError(`Invalid event: ${first.path}: ${first.message}`, { issues });
}

/** Resource IDs named in a failed sync's description. */
const IDS_IN_DESCRIPTION = 10;

function syncOutcome(
  event: FluxEvent,
  metadata: v.InferOutput<typeof SyncMetadataSchema>,
  revisions: string[],
  listed = revisions.length,
): SyncOutcome {
  const head = revisions[0]!.toLowerCase();
  const commits = metadata.initialSync
    ? [head]
    : [...new Set(revisions.map((r) => r.toLowerCase()))].slice(0, MAX_COMMITS_PER_SYNC);
  const errors = metadata.errors ?? [];
  const short = head.slice(0, 7);
  let description: string;
  if (errors.length > 0) {
    const more = errors.length > IDS_IN_DESCRIPTION ? ", …" : "";
    const ids = errors.slice(0, IDS_IN_DESCRIPTION).map((e) => e.ID).join(", ") + more;
    description = `Sync failed: ${errors.length} resource${
      errors.length === 1 ? "" : "s"
    } (${ids})`;
  } else if (event.logLevel === "error") {
    description = `Sync failed: ${event.message?.trim() || "fluxd reported an error"}`;
  } else {
    const n = listed;
    description = `Synced ${short}${n > 1 ? ` (${n} commits)` : ""}`;
  }
  return {
    head,
    commits,
    failed: errors.length > 0 || event.logLevel === "error",
    description,
    resources: event.serviceIDs ?? [],
  };
}

/**
 * The sync status changes for a sync outcome, one per commit.
 *
 * @example
 * ```ts
 * syncChanges(outcome); // [{ sha, action: "sync", state: "succeeded", description: "Synced 2f0ab35 (2 commits)" }, …]
 * ```
 */
export function syncChanges(outcome: SyncOutcome): StatusChange[] {
  const state: State = outcome.failed ? "failed" : "succeeded";
  return outcome.commits.map((sha) => ({
    sha,
    action: "sync",
    state,
    description: outcome.description,
    ...(sha === outcome.head ? { isHead: true } : {}),
  }));
}
