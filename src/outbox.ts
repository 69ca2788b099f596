/**
 * The durable outbox: status changes are committed to Deno KV before fluxd gets its 2xx, then
 * delivered to the provider by a background loop that survives restarts and kill -9.
 *
 * - **Order and coalescing.** One KV entry per (commit, action) holds the newest wanted status.
 *   A change enqueued while an older one waits replaces it, so updates never reach the provider
 *   out of order; intermediate states superseded before delivery are not sent at all.
 * - **Dedupe.** The last delivered status per (commit, action) is kept; a change identical to it
 *   is dropped without a request (fluxd re-sends the same commits after any failed POST).
 * - **Retry owner.** This loop owns every retry, of every provider and failure kind: notifiers do
 *   no retrying of their own and report {@linkcode ProviderError}s. Network errors, 5xx and rate
 *   limits retry with exponential backoff and jitter, never sooner than the provider's
 *   Retry-After / rate-limit reset. 401/403 (bad or under-scoped token) retry slowly, every
 *   `authRetryMs`, so a fixed or rotated token still delivers. Other 4xx (404, 422) are dropped
 *   with a logged reason: sending them again cannot succeed.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { type Clock, sleepUnlessAborted, systemClock } from "./clock.ts";
import {
  type Action,
  type CommitStatus,
  type Notifier,
  ProviderError,
  type StatusChange,
  statusName,
} from "./notifiers/notifier.ts";

const log = getLogger(["flux-status", "outbox"]);

/** Retry timing of the outbox. */
export interface RetryPolicy {
  /** First backoff, doubled per attempt. @default 1000 */
  baseMs: number;
  /** Longest backoff. @default 300000 */
  maxMs: number;
  /** Wait between tries of a change refused for its token (401/403). @default 60000 */
  authRetryMs: number;
}

const DEFAULT_POLICY = { baseMs: 1000, maxMs: 300_000, authRetryMs: 60_000 } satisfies RetryPolicy;

/** How long delivered-status records are kept for dedupe. */
const DELIVERED_TTL_MS = 30 * 24 * 3_600_000;

/** One waiting change, as stored. */
export interface OutboxEntry {
  sha: string;
  action: Action;
  status: CommitStatus;
  attempts: number;
  notBefore: number;
  enqueuedAt: number;
  lastError?: string;
}

/** Options for {@linkcode Outbox}. */
export interface OutboxOptions {
  /** The open KV store. */
  kv: Deno.Kv;
  /** Where statuses go. */
  notifier: Notifier;
  /** Instance name, used in status names. */
  instance: string;
  /** Link set on every status. */
  targetUrl?: string;
  /** Time source. @default systemClock */
  clock?: Clock;
  /** Deliveries in flight at once. @default 4 */
  concurrency?: number;
  /** Retry timing. */
  retry?: Partial<RetryPolicy>;
  /** Random source for jitter, in [0, 1). @default Math.random */
  random?: () => number;
  /** Called after every delivery attempt, with what became of the change (metrics, tests). */
  onSettled?: (settled: Settled) => void;
}

/** What became of one delivery attempt. */
export interface Settled {
  sha: string;
  action: Action;
  outcome: "delivered" | "retry" | "dropped" | "skipped";
  /** For `retry`: the wait before the next attempt. */
  delayMs?: number;
  /** For `retry` and `dropped`: why. */
  error?: string;
}

type Key = [string, string, Action];
const keyOf = (prefix: string, sha: string, action: Action): Key => [prefix, sha, action];

/** The durable outbox. Call {@linkcode Outbox.run} once to deliver. */
export class Outbox {
  #kv: Deno.Kv;
  #notifier: Notifier;
  #instance: string;
  #targetUrl: string | undefined;
  #clock: Clock;
  #concurrency: number;
  #policy: RetryPolicy;
  #random: () => number;
  #onSettled: (settled: Settled) => void;
  #inFlight = new Map<string, Promise<void>>();
  #wake: AbortController = new AbortController();

  constructor(options: OutboxOptions) {
    const { kv, notifier, instance, targetUrl, clock = systemClock, concurrency = 4 } = options;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(
        `Cannot create outbox as 'concurrency' must be a positive integer: current value is ${concurrency}`,
      );
    }
    this.#kv = kv;
    this.#notifier = notifier;
    this.#instance = instance;
    this.#targetUrl = targetUrl;
    this.#clock = clock;
    this.#concurrency = concurrency;
    this.#policy = { ...DEFAULT_POLICY, ...options.retry };
    this.#random = options.random ?? Math.random;
    this.#onSettled = options.onSettled ?? (() => {});
  }

  /**
   * Commits status changes durably; later changes for the same commit and action win.
   *
   * @param changes in the order they happened
   */
  async enqueue(changes: StatusChange[]): Promise<void> {
    if (changes.length === 0) return;
    const op = this.#kv.atomic();
    this.stage(op, changes);
    const result = await op.commit();
    if (!result.ok) throw new Error("Cannot enqueue status changes as the KV commit was refused");
    this.notify();
  }

  /**
   * Adds status changes to an atomic operation the caller commits (so they land together with
   * the caller's own writes); call {@linkcode Outbox.notify} after the commit.
   *
   * @param op the atomic operation to extend
   * @param changes in the order they happened; later ones for the same commit and action win
   */
  stage(op: Deno.AtomicOperation, changes: StatusChange[]): void {
    const latest = new Map<string, StatusChange>();
    for (const c of changes) {
      latest.delete(`${c.sha}/${c.action}`);
      latest.set(`${c.sha}/${c.action}`, c);
    }
    const now = this.#clock.now();
    for (const c of latest.values()) {
      const entry: OutboxEntry = {
        sha: c.sha,
        action: c.action,
        status: {
          name: statusName(this.#instance, c.action),
          state: c.state,
          description: c.description,
          ...(this.#targetUrl ? { targetUrl: this.#targetUrl } : {}),
        },
        attempts: 0,
        notBefore: now,
        enqueuedAt: now,
      };
      op.set(keyOf("outbox", c.sha, c.action), entry);
    }
  }

  /** Wakes the delivery loop after changes were committed with {@linkcode Outbox.stage}. */
  notify(): void {
    this.#wake.abort();
  }

  /** Entries still waiting for delivery. */
  async pending(): Promise<OutboxEntry[]> {
    const out: OutboxEntry[] = [];
    for await (const e of this.#kv.list<OutboxEntry>({ prefix: ["outbox"] })) out.push(e.value);
    return out;
  }

  /**
   * Delivers until `signal` aborts, then waits for in-flight deliveries to finish; those are
   * aborted only by `abortDeliveries` (the daemon's drain deadline) or their request timeout.
   */
  async run(signal: AbortSignal, abortDeliveries: AbortSignal = signal): Promise<void> {
    while (!signal.aborted) {
      let nextDue: number;
      try {
        nextDue = await this.#startDue(abortDeliveries);
      } catch (err) {
        // The store failed (disk full, closed): say so and try again shortly, never crash.
        log.error("Cannot read the outbox: {error}", {
          error: err instanceof Error ? err.message : String(err),
        });
        nextDue = this.#clock.now() + this.#policy.baseMs;
      }
      const wake = this.#wake;
      if (wake.signal.aborted) {
        this.#wake = new AbortController();
        continue;
      }
      const wait = nextDue === Infinity ? 3_600_000 : nextDue - this.#clock.now();
      if (wait <= 0) continue;
      await sleepUnlessAborted(this.#clock, wait, AbortSignal.any([signal, wake.signal]));
      if (wake.signal.aborted) this.#wake = new AbortController();
    }
    await Promise.allSettled(this.#inFlight.values());
  }

  /** Starts deliveries of due entries (up to the concurrency); returns when the next one is due. */
  async #startDue(abortDeliveries: AbortSignal): Promise<number> {
    const now = this.#clock.now();
    let nextDue = Infinity;
    for await (const { key, value } of this.#kv.list<OutboxEntry>({ prefix: ["outbox"] })) {
      const id = `${value.sha}/${value.action}`;
      if (this.#inFlight.has(id)) continue;
      if (value.notBefore > now) {
        nextDue = Math.min(nextDue, value.notBefore);
        continue;
      }
      if (this.#inFlight.size >= this.#concurrency) break;
      const delivery = this.#deliver(key as Key, abortDeliveries).catch((err) => {
        log.error("Delivery of {id} failed in the outbox itself: {error}", {
          id,
          error: err instanceof Error ? err.message : String(err),
        });
      }).finally(() => {
        this.#inFlight.delete(id);
        this.notify();
      });
      this.#inFlight.set(id, delivery);
    }
    return nextDue;
  }

  async #deliver(key: Key, signal: AbortSignal): Promise<void> {
    const deliveredKey = keyOf("delivered", key[1], key[2]);
    const [current, delivered] = await this.#kv.getMany<[OutboxEntry, CommitStatus]>([
      key,
      deliveredKey,
    ]);
    const entry = current.value;
    if (!entry) return;
    if (delivered.value && sameStatus(delivered.value, entry.status)) {
      log.debug("Skipped {context} on {sha}: identical to the last delivered", {
        context: entry.status.name,
        sha: entry.sha,
      });
      await this.#kv.atomic().check(current).delete(key).commit();
      this.#onSettled({ sha: entry.sha, action: entry.action, outcome: "skipped" });
      return;
    }
    try {
      await this.#notifier.setStatus(entry.sha, entry.status, signal);
    } catch (err) {
      await this.#failed(current, err);
      return;
    }
    await this.#kv.atomic().check(current).delete(key)
      .set(deliveredKey, entry.status, { expireIn: DELIVERED_TTL_MS }).commit()
      .then(async (r) => {
        // A newer change arrived meanwhile: keep it queued, but remember what was delivered.
        if (!r.ok) await this.#kv.set(deliveredKey, entry.status, { expireIn: DELIVERED_TTL_MS });
      });
    log.info("Delivered {context} {state} on {sha}", {
      context: entry.status.name,
      state: entry.status.state,
      sha: entry.sha,
      attempts: entry.attempts + 1,
    });
    this.#onSettled({ sha: entry.sha, action: entry.action, outcome: "delivered" });
  }

  async #failed(current: Deno.KvEntry<OutboxEntry>, err: unknown): Promise<void> {
    const entry = current.value;
    const props = {
      context: entry.status.name,
      sha: entry.sha,
      error: err instanceof Error ? err.message : String(err),
    };
    if (err instanceof ProviderError && !err.retryable) {
      log.warn("Dropped {context} on {sha} as the provider refused it for good: {error}", props);
      await this.#kv.atomic().check(current).delete(current.key).commit();
      this.#onSettled({
        sha: entry.sha,
        action: entry.action,
        outcome: "dropped",
        error: props.error,
      });
      return;
    }
    const attempts = entry.attempts + 1;
    const delay = Math.round(this.retryDelay(err, attempts));
    log.warn("Will retry {context} on {sha} in {delayMs} ms: {error}", {
      ...props,
      delayMs: delay,
    });
    const next: OutboxEntry = {
      ...entry,
      attempts,
      notBefore: this.#clock.now() + delay,
      lastError: props.error,
    };
    await this.#kv.atomic().check(current).set(current.key, next).commit();
    this.#onSettled({
      sha: entry.sha,
      action: entry.action,
      outcome: "retry",
      delayMs: delay,
      error: props.error,
    });
  }

  /**
   * The wait before trying again after `err` on attempt number `attempts`: at least the
   * provider's Retry-After, slow and fixed for auth failures, else exponential with equal jitter.
   */
  retryDelay(err: unknown, attempts: number): number {
    const { baseMs, maxMs, authRetryMs } = this.#policy;
    if (
      err instanceof ProviderError && (err.status === 401 || err.status === 403) &&
      err.retryAfterMs === undefined
    ) {
      return authRetryMs;
    }
    const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempts - 1, 30));
    const backoff = cap / 2 + this.#random() * (cap / 2);
    const asked = err instanceof ProviderError ? err.retryAfterMs ?? 0 : 0;
    return Math.max(asked, backoff);
  }
}

function sameStatus(a: CommitStatus, b: CommitStatus): boolean {
  return a.name === b.name && a.state === b.state && a.description === b.description &&
    (a.targetUrl ?? "") === (b.targetUrl ?? "");
}
