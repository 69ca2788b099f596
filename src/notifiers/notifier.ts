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
}

/** Options for {@linkcode ProviderError}. */
export interface ProviderErrorOptions extends ErrorOptions {
  /** Provider name. */
  provider: string;
  /** HTTP status, 0 when no response arrived. */
  status: number;
  /** Whether trying again later may succeed. */
  retryable: boolean;
  /** How long the provider asked us to wait, if it said. */
  retryAfterMs?: number;
}

/** A provider call failed. Messages never contain a token. */
export class ProviderError extends Error {
  /** Provider name. */
  readonly provider: string;
  /** HTTP status, 0 when no response arrived. */
  readonly status: number;
  /** Whether trying again later may succeed. */
  readonly retryable: boolean;
  /** How long the provider asked us to wait, if it said. */
  readonly retryAfterMs: number | undefined;

  /**
   * Creates the error.
   *
   * @param message the action, the provider's answer and the fix; never a token
   * @param options provider, status, retryability and the wait asked for
   */
  constructor(message: string, options: ProviderErrorOptions) {
    super(message, { cause: options.cause });
    this.name = "ProviderError";
    this.provider = options.provider;
    this.status = options.status;
    this.retryable = options.retryable;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * Builds the status name for an instance and action.
 *
 * @example
 * ```ts
 * statusName("dev", "sync"); // "flux-status/dev/sync"
 * ```
 */
export function statusName(instance: string, action: Action): string {
  return `flux-status/${instance}/${action}`;
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
  /** New state. */
  state: State;
  /** Human text. */
  description: string;
}
