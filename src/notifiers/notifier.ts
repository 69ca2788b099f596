/**
 * The provider-neutral status model and the {@linkcode Notifier} interface every git provider
 * implements. Nothing here knows about Flux.
 *
 * @module
 */

/** The states flux-status writes; each notifier maps them to its provider's words and back. */
export const STATES = ["pending", "succeeded", "failed", "canceled"] as const;

/** One of {@linkcode STATES}. */
export type State = typeof STATES[number];

/** What a status is about: the sync of manifests, or the rollout of workloads. */
export type Action = "sync" | "workload";

/** Whether a state is final (no later update is expected for it). */
export function isTerminal(state: State): boolean {
  return state !== "pending";
}

/** A commit status as flux-status sees it. */
export interface CommitStatus {
  /** Full status name, `flux-status/<instance>/<action>`. */
  name: string;
  /** Our state. */
  state: State;
  /** Short human text; each notifier trims it to its provider's limit. */
  description: string;
  /** Link shown next to the status, if any. */
  targetUrl?: string;
}

/** A status read back from a provider. */
export interface ReadStatus extends CommitStatus {
  /** When the provider recorded it (ISO 8601), if it says. */
  updatedAt?: string;
}

/** Sets and reads commit statuses on one repository of one provider. */
export interface Notifier {
  /** Provider name, e.g. `github`. */
  readonly provider: string;
  /** The rate-limit remaining the provider reported on its last answer, if it reports one. */
  readonly rateLimitRemaining?: number | undefined;
  /**
   * Sets `status` on commit `sha`.
   *
   * @throws {ProviderError} when the provider refuses or cannot be reached
   */
  setStatus(sha: string, status: CommitStatus, signal?: AbortSignal): Promise<void>;
  /**
   * Reads the newest status named `name` on commit `sha`, or `undefined` when there is none.
   *
   * @throws {ProviderError} when the provider refuses or cannot be reached
   */
  getStatus(sha: string, name: string, signal?: AbortSignal): Promise<ReadStatus | undefined>;
  /**
   * Reads the newest status of every name starting with `prefix` on commit `sha`.
   *
   * @throws {ProviderError} when the provider refuses or cannot be reached
   */
  listStatuses(sha: string, prefix: string, signal?: AbortSignal): Promise<ReadStatus[]>;
}

/**
 * What kind of failure a provider call met, decided once where the error is born; the outbox,
 * the provider pause and the `status --wait` gate all act on it:
 * - `transient`: no answer, 5xx, 408, 409: try this call again with backoff.
 * - `rateLimited`: the provider's rate limit (primary or secondary): pause every call to the
 *   provider until `retryAfterMs` has passed.
 * - `auth`: the token was refused (401, or 403 without a rate limit): pause every call to the
 *   provider and probe again slowly; a fixed or rotated token then delivers.
 * - `rejected`: this request can never succeed (404, 422, other 4xx): drop it with the reason.
 */
export type FailureKind = "transient" | "rateLimited" | "auth" | "rejected";

/** Options for {@linkcode ProviderError}. */
export interface ProviderErrorOptions extends ErrorOptions {
  /** Provider name. */
  provider: string;
  /** HTTP status, 0 when no response arrived. */
  status: number;
  /** What kind of failure it is, and so what every caller does about it. */
  kind: FailureKind;
  /** How long the provider asked us to wait, if it said (always set for `rateLimited`). */
  retryAfterMs?: number;
}

/** A provider call failed. Messages never contain a token. */
export class ProviderError extends Error {
  /** Provider name. */
  readonly provider: string;
  /** HTTP status, 0 when no response arrived. */
  readonly status: number;
  /** What kind of failure it is (see {@linkcode FailureKind}). */
  readonly kind: FailureKind;
  /** How long the provider asked us to wait, if it said. */
  readonly retryAfterMs: number | undefined;

  /**
   * Creates the error.
   *
   * @param message the action, the provider's answer and the fix; never a token
   * @param options provider, status, kind of failure and the wait asked for
   */
  constructor(message: string, options: ProviderErrorOptions) {
    super(message, { cause: options.cause });
    this.name = "ProviderError";
    this.provider = options.provider;
    this.status = options.status;
    this.kind = options.kind;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * A provider token: a value, or a function returning the current one (a rotated Secret is read
 * again while the daemon runs, src/config/secret_files.ts); notifiers read it on every call.
 */
export type Token = string | (() => string);

/** The current value of a token. */
export function tokenValue(token: Token): string {
  return typeof token === "function" ? token() : token;
}

/** Error of the notifier layer: a notifier cannot be built from the options it was given. */
export class NotifierError extends Error {
  /**
   * Creates the error.
   *
   * @param message the option, the rule and the fix
   * @param options the cause
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NotifierError";
  }
}

/**
 * Builds the status name for an instance and action, and the object it is about when there are
 * several per commit (Flux v2: `kind/namespace/name`).
 *
 * @example
 * ```ts
 * statusName("dev", "sync"); // "flux-status/dev/sync"
 * statusName("dev", "workload", "kustomization/flux-system/apps"); // "flux-status/dev/kustomization/flux-system/apps/workload"
 * ```
 */
export function statusName(instance: string, action: Action, object?: string): string {
  return `${statusPrefix(instance)}${object ? `${object}/` : ""}${action}`;
}

/** What every status name of an instance starts with: `flux-status/<instance>/`. */
export function statusPrefix(instance: string): string {
  return `flux-status/${instance}/`;
}

/**
 * Reads a provider's word back through a notifier's state table (the inverse of the table).
 *
 * @param table our state → the provider's word
 * @param word what the provider answered
 * @returns our state, or undefined when the word is not in the table
 * @example
 * ```ts
 * stateFor({ pending: "pending", succeeded: "success", failed: "failure", canceled: "error" }, "success"); // "succeeded"
 * ```
 */
export function stateFor<W>(table: Record<State, W>, word: W): State | undefined {
  return STATES.find((state) => table[state] === word);
}

/**
 * Cuts `text` to at most `max` characters, ending with "…" when cut.
 *
 * @param text the description
 * @param max the provider's limit in characters
 */
export function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : chars.slice(0, max - 1).join("") + "…";
}

/** A status change for one commit, before it is named for an instance. */
export interface StatusChange {
  /** Full commit SHA. */
  sha: string;
  /** Which status. */
  action: Action;
  /** The object it is about, when a commit has several (Flux v2: `kind/namespace/name`). */
  object?: string;
  /** New state. */
  state: State;
  /** Human text; cut to {@linkcode MAX_DESCRIPTION_LENGTH} when stored. */
  description: string;
  /** The head commit of its change set (a sync's newest commit): delivered before the rest. */
  isHead?: boolean;
}

/**
 * The longest description any notifier sends (Azure DevOps' 400; GitHub cuts to 140, GitLab to
 * 255): descriptions are cut to it once, when stored, so no stored value grows with an event.
 */
export const MAX_DESCRIPTION_LENGTH = 400;

/**
 * The description prefix that marks a canceled status on providers with no canceled state of
 * their own (GitHub's `error`). Written as here; read back in any case, so `canceled: superseded
 * by 3f2a9c1` (docs/providers.md's form) counts too.
 */
const CANCELED_MARKER = "Canceled: ";

const CANCELED_MARKER_PATTERN = /^canceled:\s*/i;

/**
 * Splits our canceled marker off a description read back from a provider.
 *
 * @param description the description the provider holds
 * @returns whether the marker was there, and the description without it
 * @example
 * ```ts
 * readCanceledMarker("canceled: superseded by 3f2a9c1"); // { canceled: true, rest: "superseded by 3f2a9c1" }
 * ```
 */
function readCanceledMarker(description: string): { canceled: boolean; rest: string } {
  const m = CANCELED_MARKER_PATTERN.exec(description);
  return m
    ? { canceled: true, rest: description.slice(m[0].length) }
    : { canceled: false, rest: description };
}

/**
 * The description to write where `canceled` has no word of its own (GitHub, Gitea: `error`):
 * behind {@linkcode CANCELED_MARKER}, cut to `max` characters.
 */
export function markedDescription(status: CommitStatus, max: number): string {
  return truncate((status.state === "canceled" ? CANCELED_MARKER : "") + status.description, max);
}

/**
 * A state and description read back where `canceled` was written as `table.canceled` behind
 * {@linkcode CANCELED_MARKER}: that word is canceled only with the marker (else failed), any other
 * word as the table says (an unknown one failed), and the description loses the marker.
 */
export function readMarked<W extends string>(
  table: Record<State, W>,
  word: string,
  description: string,
): { state: State; description: string } {
  if (word === table.canceled) {
    const { canceled, rest } = readCanceledMarker(description);
    return canceled ? { state: "canceled", description: rest } : { state: "failed", description };
  }
  return { state: stateFor<string>(table, word) ?? "failed", description };
}

/**
 * The newest status of each name, from statuses given newest first (the first of a name wins),
 * with the names compared as the provider compares them (`key`: lower-cased on GitHub and
 * Gitea, whose contexts are case-insensitive).
 *
 * @param statuses newest first
 * @param nameOf a status's name
 * @param key the name as the provider compares it
 * @example
 * ```ts
 * newestPerName([{ c: "A", n: 2 }, { c: "a", n: 1 }], (s) => s.c, (n) => n.toLowerCase()); // Map { "a" => { c: "A", n: 2 } }
 * ```
 */
export function newestPerName<T>(
  statuses: Iterable<T>,
  nameOf: (status: T) => string,
  key: (name: string) => string = (name) => name,
): Map<string, T> {
  const newest = new Map<string, T>();
  for (const s of statuses) {
    const k = key(nameOf(s));
    if (!newest.has(k)) newest.set(k, s);
  }
  return newest;
}

/**
 * Checks what every notifier needs before any request: a token and an http(s) API URL. Returns the
 * API base without a trailing slash.
 *
 * @param label the provider as people write it, e.g. `GitHub`
 * @param token the provider's token
 * @param apiUrl the API base URL (`apiUrlFor` in providers.ts)
 * @throws {NotifierError} naming what is wrong
 */
export function checkNotifierOptions(label: string, token: Token, apiUrl: string): string {
  if (!tokenValue(token).trim()) {
    throw new NotifierError(`Cannot set statuses on ${label} without a token: give one`);
  }
  const base = apiUrl.replace(/\/+$/, "");
  let protocol = "";
  try {
    protocol = new URL(base).protocol;
  } catch { /* reported below */ }
  if (protocol !== "http:" && protocol !== "https:") {
    throw new NotifierError(
      `Cannot set statuses on ${label} as its API URL must be http(s): current value is '${base}'`,
    );
  }
  return base;
}
