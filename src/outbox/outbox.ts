/**
 * The durable outbox: status changes are committed to Deno KV before fluxd gets its 2xx, then
 * delivered to the provider by a background loop that survives restarts and kill -9.
 *
 * - **Order and coalescing.** One entry per (commit, action) holds the newest wanted status. A
 *   change staged while an older one waits replaces it, so updates never reach the provider out
 *   of order; intermediate states superseded before delivery are not sent at all.
 * - **Dedupe.** The last delivered status per (commit, action) is kept; a change identical to it
 *   is dropped without a request (fluxd re-sends the same commits after any failed POST).
 * - **Head first, one row per status.** The store holds one row per (commit, action); the order
 *   of delivery lives in memory ({@linkcode OutboxIndex}, rebuilt from the store on start): a
 *   sync's head commit before the older commits it lists, newer syncs before older ones, final
 *   states before pending ones, and entries waiting out a backoff by due time. An event costs one
 *   KV row per status it sets, and the loop reads only the entry it delivers, so its work per
 *   delivery does not grow with the backlog.
 * - **Retry owner.** This loop owns every retry, of every provider and failure kind; notifiers
 *   only decide the kind ({@linkcode ProviderError}): `transient` backs off exponentially with
 *   jitter (never sooner than a Retry-After); `rateLimited`, `auth` and a call that got no answer
 *   at all (status 0: refused, reset, timed out, DNS) pause every call to the provider
 *   ({@linkcode ProviderPause}; no answer: with the same growing backoff, so an outage costs one
 *   probe per round, not one call per queued status); `rejected` is dropped with the reason (a
 *   404 only while the repository still reads: otherwise it is the repository's, see
 *   `whoseRejection` in src/notifiers/access_check.ts, and pauses calls like `auth`).
 * - **Bounds.** An entry still undelivered {@linkcode OutboxOptions.maxAgeMs} after it was queued
 *   (7 days by default) is dropped with a logged reason: its commit is long superseded and a
 *   provider that refuses it that long will not take it. Coalescing bounds the rest (two entries
 *   per commit at most).
 * - **Store failures.** A store that fails is logged and retried with backoff, never in a tight
 *   loop; a status the provider took but the store could not record is remembered in memory and
 *   not sent again while the record is retried.
 * - **A store from the past.** Entries an earlier run queued are checked against the provider
 *   before their first send, and not sent when the provider has a newer status
 *   (src/outbox/restore_check.ts).
 * - **A cancellation never replaces a verdict.** Before a `canceled` status is sent, the provider
 *   is read: when it already shows that status succeeded or failed (another replica saw the
 *   verdict, or this one missed it during a gap), the cancellation is dropped.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { Alarm, type Clock, IDLE_SLEEP_MS, systemClock } from "../runtime/clock.ts";
import {
  type Action,
  type CommitStatus,
  type FailureKind,
  MAX_DESCRIPTION_LENGTH,
  type Notifier,
  ProviderError,
  type ReadStatus,
  type StatusChange,
  statusName,
  statusPrefix,
  truncate,
} from "../notifiers/notifier.ts";
import { ProviderPause } from "./pause.ts";
import { outboxKeys } from "../runtime/store_keys.ts";
import { whoseRejection } from "../notifiers/access_check.ts";
import { RestoreCheck } from "./restore_check.ts";
import { OutboxIndex, type Queued, type Rank } from "./order.ts";
import { errorText } from "../runtime/error_text.ts";

const log = getLogger(["flux-status", "outbox"]);

/** Retry timing of the outbox. */
export interface RetryPolicy {
  /** First backoff, doubled per attempt. @default 1000 */
  baseMs: number;
  /** Longest backoff. @default 300000 */
  maxMs: number;
  /** Pause of every call after a token refusal (401/403), between probes. @default 60000 */
  authRetryMs: number;
}

/** How long every call pauses after a refused token (or unreadable repository), between probes. */
export const AUTH_RETRY_MS = 60_000;

const DEFAULT_POLICY = {
  baseMs: 1000,
  maxMs: 300_000,
  authRetryMs: AUTH_RETRY_MS,
} satisfies RetryPolicy;

/** How long delivered-status records are kept for dedupe. */
const DELIVERED_TTL_MS = 30 * 24 * 3_600_000;

/** One waiting change, as stored. */
export interface OutboxEntry {
  sha: string;
  action: Action;
  /** The object the status is about, if the commit has several. */
  object?: string;
  status: CommitStatus;
  attempts: number;
  enqueuedAt: number;
  /** Priority, lowest first: head-ness, newness, finality (absent in 0.1.0 stores). */
  rank: Rank;
  /** Waiting out a backoff until this time (ms). */
  notBefore?: number;
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
  /** Drop an entry still undelivered this long after it was queued. @default 604800000 (7 days) */
  maxAgeMs?: number;
  /** Random source for jitter, in [0, 1). @default Math.random */
  random?: () => number;
  /** Called after every delivery attempt, with what became of the change (metrics, tests). */
  onSettled?: (settled: Settled) => void;
}

/** What became of one delivery attempt. */
export interface Settled {
  sha: string;
  action: Action;
  /**
   * `skipped`: identical to the last delivered, superseded at the provider, or a cancellation of
   * a commit the provider already has a verdict of (`reason`).
   */
  outcome: "delivered" | "retry" | "dropped" | "skipped";
  /** For `retry`: the wait before the next attempt (the provider pause, for limits and tokens). */
  delayMs?: number;
  /** For `retry` and `dropped`: why. */
  error?: string;
  /** For `retry`: the kind of failure. */
  kind?: FailureKind;
  /**
   * For `dropped`: refused by the provider, or undelivered past `maxAgeMs`; for `skipped`:
   * `superseded` when the provider has a newer status (an entry loaded at start), `verdict` when
   * a cancellation would replace a succeeded or failed status there.
   */
  reason?: "rejected" | "expired" | "superseded" | "verdict";
  /** For `delivered`: how long the status waited from its acceptance to the provider's answer. */
  queuedMs?: number;
}

/** What a status is about on its commit: `action`, or `object/action`; the last key part. */
const subjectOf = (e: { action: Action; object?: string | undefined }): string =>
  e.object ? `${e.object}/${e.action}` : e.action;
/** One status of one commit: `sha/subject`, the outbox's and the index's key for it. */
const idOf = (e: { sha: string; action: Action; object?: string | undefined }): string =>
  `${e.sha}/${subjectOf(e)}`;
const { entry: entryKey, delivered: deliveredKey } = outboxKeys;

/** How the loop orders a stored entry (0.1.0 entries, without a rank, rank as older syncs). */
function queued(e: OutboxEntry, versionstamp: string): Queued {
  return {
    id: idOf(e),
    sha: e.sha,
    subject: subjectOf(e),
    rank: e.rank ?? [
      1,
      Number.MAX_SAFE_INTEGER - e.enqueuedAt * 1000,
      e.status.state === "pending" ? 1 : 0,
    ],
    notBefore: e.notBefore ?? 0,
    enqueuedAt: e.enqueuedAt,
    versionstamp,
  };
}

/** The durable outbox. Call {@linkcode Outbox.run} once to deliver. */
export class Outbox {
  #kv: Deno.Kv;
  #notifier: Notifier;
  #instance: string;
  #targetUrl: string | undefined;
  #clock: Clock;
  #concurrency: number;
  #policy: RetryPolicy;
  #maxAgeMs: number;
  #random: () => number;
  #onSettled: (settled: Settled) => void;
  #pause: ProviderPause;
  /** Aborted when a pause begins: calls still queued in a notifier (GitHub's pacing) stay unsent. */
  #pausing = new AbortController();
  #inFlight = new Map<string, Promise<void>>();
  /** Statuses the provider took whose record the store refused, by `sha/action`. */
  #unrecorded = new Map<string, CommitStatus>();
  #storeFailures = 0;
  /** Calls in a row that got no answer at all (the provider-wide backoff grows with them). */
  #unanswered = 0;
  #storeRetryAt = 0;
  #lastSeq = 0;
  #alarm = new Alarm();
  #index = new OutboxIndex();
  /** When the current run began: entries queued earlier come from an earlier run. */
  #startedAt: number;
  /** Entries of earlier runs, checked against the provider before their first send. */
  #restore: RestoreCheck;

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
    this.#maxAgeMs = options.maxAgeMs ?? 7 * 24 * 3_600_000;
    this.#random = options.random ?? Math.random;
    this.#onSettled = options.onSettled ?? (() => {});
    this.#pause = new ProviderPause(kv, notifier.provider, clock);
    this.#startedAt = clock.now();
    this.#restore = new RestoreCheck((sha, signal) =>
      notifier.listStatuses(sha, statusPrefix(instance), signal)
    );
  }

  /** The provider pause in force (or awaiting its probe), if any. */
  get pause(): ProviderPause {
    return this.#pause;
  }

  /**
   * Adds status changes to `op`, commits it, and wakes the delivery loop when it landed: the
   * one way statuses enter the outbox, together with the caller's own writes in `op`.
   *
   * @param op the atomic operation to extend and commit (its checks may fail it)
   * @param changes in the order they happened; later ones for the same commit and action win
   * @returns whether the commit landed (false: a check failed, nothing was written)
   */
  async commit(op: Deno.AtomicOperation, changes: StatusChange[]): Promise<boolean> {
    const staged = this.#stage(op, changes);
    const result = await op.commit();
    if (!result.ok) return false;
    for (const e of staged) this.#index.put(queued(e, result.versionstamp));
    // While the provider is paused nothing can go out: the delivery that began the pause woke
    // the loop, which sleeps until the pause ends.
    if (staged.length > 0 && this.#pause.remainingMs() === 0) this.wake();
    return true;
  }

  #stage(op: Deno.AtomicOperation, changes: StatusChange[]): OutboxEntry[] {
    const latest = new Map<string, StatusChange>();
    for (const c of changes) {
      latest.delete(idOf(c));
      latest.set(idOf(c), c);
    }
    const now = this.#clock.now();
    // Newer stages rank first: the sequence grows with time and within one millisecond.
    const seq = this.#lastSeq = Math.max(now * 1000, this.#lastSeq + 1);
    const staged: OutboxEntry[] = [];
    for (const c of latest.values()) {
      const rank: Rank = [
        c.isHead ? 0 : 1,
        Number.MAX_SAFE_INTEGER - seq,
        c.state === "pending" ? 1 : 0,
      ];
      const entry: OutboxEntry = {
        sha: c.sha,
        action: c.action,
        ...(c.object ? { object: c.object } : {}),
        status: {
          name: statusName(this.#instance, c.action, c.object),
          state: c.state,
          description: truncate(c.description, MAX_DESCRIPTION_LENGTH),
          ...(this.#targetUrl ? { targetUrl: this.#targetUrl } : {}),
        },
        attempts: 0,
        enqueuedAt: now,
        rank,
      };
      op.set(entryKey(c.sha, subjectOf(c)), entry);
      staged.push(entry);
    }
    return staged;
  }

  /**
   * Removes the `ready` and `wait` index rows an earlier build of this version kept in the store
   * (the order now lives in memory), once per store; call before {@linkcode Outbox.run}. Entries
   * of 0.1.0 stores need nothing: they are read as they are.
   *
   * @returns how many index rows were removed
   */
  async migrate(): Promise<number> {
    const marker = await this.#kv.get<number>(outboxKeys.schema);
    if ((marker.value ?? 1) >= 3) return 0;
    let removed = 0;
    for (const prefix of [outboxKeys.legacyReady, outboxKeys.legacyWait]) {
      for await (const { key } of this.#kv.list({ prefix })) {
        await this.#kv.delete(key);
        removed++;
      }
    }
    await this.#kv.atomic().check(marker).set(outboxKeys.schema, 3).commit();
    return removed;
  }

  /**
   * Says the provider's credentials changed (a rotated token was read): a pause for a refused
   * token ends now and one probe goes out with the new token.
   */
  async credentialsChanged(): Promise<void> {
    if (this.#pause.current?.kind !== "auth") return;
    await this.#pause.endNow();
    this.wake();
  }

  /** Wakes the delivery loop (it also wakes by itself after every commit and delivery). */
  wake(): void {
    this.#alarm.wake();
  }

  /**
   * How many entries wait and the age of the oldest, in seconds (for `/metrics`; from memory
   * once the loop has read the store).
   */
  stats(): Promise<{ depth: number; oldestAgeSeconds: number }> {
    const depth = this.#index.size, oldest = this.#index.oldestEnqueuedAt();
    const age = depth === 0 ? 0 : Math.max(0, this.#clock.now() - oldest) / 1000;
    return Promise.resolve({ depth, oldestAgeSeconds: age });
  }

  /**
   * Delivers until `signal` aborts, then waits for in-flight deliveries to finish; those are
   * aborted only by `abortDeliveries` (the daemon's drain deadline) or their request timeout.
   */
  async run(signal: AbortSignal, abortDeliveries: AbortSignal = signal): Promise<void> {
    let loaded = false;
    // Entries queued before this run (an earlier process, or this replica while it followed)
    // are checked against the provider before their first send.
    this.#startedAt = this.#clock.now();
    while (!signal.aborted) {
      let nextDue: number;
      try {
        if (!loaded) {
          await this.#pause.load();
          // What earlier runs queued; commits landing meanwhile keep their newer versions.
          for await (const e of this.#kv.list<OutboxEntry>({ prefix: outboxKeys.entries })) {
            const item = queued(e.value, e.versionstamp);
            this.#index.put(item);
            if (e.value.enqueuedAt >= this.#startedAt) continue; // queued by this run
            this.#restore.add(item.sha, item.subject, e.versionstamp);
          }
          loaded = true;
        }
        nextDue = await this.#startDue(abortDeliveries);
      } catch (err) {
        // The store failed (disk full, closed): say so and try again later, never in a loop.
        log.error("Cannot read the outbox: {error}", { error: errorText(err) });
        nextDue = this.#storeFailed();
      }
      const wait = nextDue === Infinity ? IDLE_SLEEP_MS : nextDue - this.#clock.now();
      await this.#alarm.sleep(this.#clock, wait, signal);
    }
    await Promise.allSettled(this.#inFlight.values());
  }

  /** Starts deliveries of the highest-priority ready entries; returns when to look again. */
  #startDue(abortDeliveries: AbortSignal): number {
    const now = this.#clock.now();
    if (this.#storeRetryAt > now) return this.#storeRetryAt;
    // A pause stops every call, so nothing needs looking at until it ends.
    const paused = this.#pause.remainingMs();
    if (paused > 0) return now + paused;
    const nextWait = this.#index.promote(now);
    // Once a pause has passed, one call probes the provider before the rest follow.
    const limit = this.#pause.isProbing ? 1 : this.#concurrency;
    const free = limit - this.#inFlight.size;
    if (free <= 0) return nextWait;
    for (const item of this.#index.front(free, (id) => this.#inFlight.has(id))) {
      const delivery = this.#deliver(item, abortDeliveries, this.#pausing.signal)
        .then(() => {
          this.#storeFailures = 0;
        }, (err) => {
          log.error("Delivery of {status} on {sha} failed in the store: {error}", {
            instance: this.#instance,
            status: `${statusPrefix(this.#instance)}${item.subject}`,
            sha: item.sha.slice(0, 7),
            error: errorText(err),
          });
          this.#storeFailed();
        }).finally(() => {
          this.#inFlight.delete(item.id);
          this.wake();
        });
      this.#inFlight.set(item.id, delivery);
    }
    return nextWait;
  }

  /** Records a store failure; returns when the store may be tried again (exponential backoff). */
  #storeFailed(): number {
    this.#storeFailures++;
    const { baseMs, maxMs } = this.#policy;
    this.#storeRetryAt = this.#clock.now() + exponential(baseMs, maxMs, this.#storeFailures);
    return this.#storeRetryAt;
  }

  async #deliver(item: Queued, abortDelivery: AbortSignal, pausing: AbortSignal) {
    const { id, sha, subject } = item;
    const [current, delivered] = await this.#kv.getMany<[OutboxEntry, CommitStatus]>([
      entryKey(sha, subject),
      deliveredKey(sha, subject),
    ]);
    const entry = current.value;
    if (!entry) {
      this.#index.remove(id, item.versionstamp); // gone from the store (by an older build)
      return;
    }
    const { action } = entry;
    const props = {
      instance: this.#instance,
      status: entry.status.name,
      sha: sha.slice(0, 7),
      state: entry.status.state,
    };
    const unrecorded = this.#unrecorded.get(id);
    const sent = [delivered.value, unrecorded].find((s) => s && sameStatus(s, entry.status));
    if (sent && sent === delivered.value) {
      log.debug("Skipped {status} on {sha}: identical to the last delivered", props);
      await this.#remove(current);
      this.#onSettled({ sha, action, outcome: "skipped" });
      return;
    }
    const age = this.#clock.now() - entry.enqueuedAt;
    if (!sent && age > this.#maxAgeMs) {
      const error = `undelivered for ${Math.round(age / 3_600_000)}h (last error: ${
        entry.lastError ?? "none"
      })`;
      log.error("Dropped {status} {state} on {sha}: {error}", { ...props, error });
      await this.#remove(current);
      this.#onSettled({ sha, action, outcome: "dropped", error, reason: "expired" });
      return;
    }
    if (!sent) {
      let newer: ReadStatus | undefined, verdict: ReadStatus | undefined;
      const signal = AbortSignal.any([abortDelivery, pausing]);
      try {
        newer = await this.#restore.newerAtProvider({
          sha,
          subject,
          name: entry.status.name,
          enqueuedAt: entry.enqueuedAt,
          status: entry.status,
          versionstamp: (current as Deno.KvEntry<OutboxEntry>).versionstamp,
        }, signal);
        if (!newer && entry.status.state === "canceled") {
          verdict = await this.#verdictAtProvider(sha, entry.status.name, signal);
        }
        if (!newer && !verdict) await this.#notifier.setStatus(sha, entry.status, signal);
      } catch (err) {
        // A 404 is this commit's only while the repository reads fine.
        const failure = err instanceof ProviderError
          ? await whoseRejection(this.#notifier, err, signal).catch(() => err)
          : err;
        // Called off by a pause that began meanwhile, or by shutdown: the entry keeps its place,
        // no attempt lost.
        if (pausing.aborted || abortDelivery.aborted) return;
        await this.#failed(current as Deno.KvEntry<OutboxEntry>, failure);
        return;
      }
      const skip = newer
        ? {
          there: newer,
          reason: "superseded" as const,
          why:
            "the same or written after it was queued (a takeover, a store restored from a backup, or delivered just before a crash)",
        }
        : verdict
        ? {
          there: verdict,
          reason: "verdict" as const,
          why:
            "a verdict, which a cancellation never replaces (reached by another replica, or before a gap in what this one saw)",
        }
        : undefined;
      if (skip) {
        log.warn(
          "Skipped {status} {state} on {sha}: the provider has {there} from {updatedAt}, {why}",
          {
            ...props,
            there: skip.there.state,
            updatedAt: skip.there.updatedAt,
            why: skip.why,
          },
        );
        await this.#remove(current);
        this.#onSettled({ sha, action, outcome: "skipped", reason: skip.reason });
        return;
      }
      this.#unrecorded.set(id, entry.status);
      this.#unanswered = 0;
      if (this.#pause.current) await this.#pause.lift();
    }
    const record = { expireIn: DELIVERED_TTL_MS };
    const recorded = await this.#remove(
      current,
      (op) => op.set(deliveredKey(sha, subject), entry.status, record),
    );
    // A newer change arrived meanwhile: keep it queued, but remember what was delivered.
    if (!recorded) await this.#kv.set(deliveredKey(sha, subject), entry.status, record);
    this.#unrecorded.delete(id);
    log.info("Delivered {status} {state} on {sha}", { ...props, attempts: entry.attempts + 1 });
    this.#onSettled({
      sha,
      action,
      outcome: "delivered",
      queuedMs: this.#clock.now() - entry.enqueuedAt,
    });
  }

  /**
   * The provider's verdict (succeeded or failed) under `name` on `sha`, if it has one: read before
   * a cancellation is sent (one read each; a commit is canceled at most once per status), as
   * "canceled" says no verdict was reached and must not replace one.
   */
  async #verdictAtProvider(
    sha: string,
    name: string,
    signal: AbortSignal,
  ): Promise<ReadStatus | undefined> {
    const statuses = await this.#notifier.listStatuses(sha, statusPrefix(this.#instance), signal);
    const there = statuses.find((s) => s.name === name);
    return there?.state === "succeeded" || there?.state === "failed" ? there : undefined;
  }

  async #failed(current: Deno.KvEntry<OutboxEntry>, err: unknown): Promise<void> {
    const entry = current.value;
    const { sha, action } = entry;
    const error = errorText(err);
    const props = {
      instance: this.#instance,
      status: entry.status.name,
      sha: sha.slice(0, 7),
      error,
    };
    const kind = err instanceof ProviderError ? err.kind : "transient";
    if (kind === "rejected") {
      log.warn("Dropped {status} on {sha} as the provider refused it for good: {error}", props);
      await this.#remove(current);
      this.#onSettled({ sha, action, outcome: "dropped", error, reason: "rejected" });
      return;
    }
    const next: OutboxEntry = { ...entry, attempts: entry.attempts + 1, lastError: error };
    let delay: number;
    const unreachable = err instanceof ProviderError && kind === "transient" && err.status === 0;
    if (kind === "rateLimited" || kind === "auth" || unreachable) {
      // The provider's limit, our token, or a provider that does not answer at all: the entry
      // keeps its place and every call waits (one probe, not one call per queued status).
      const wait = kind === "rateLimited"
        ? (err as ProviderError).retryAfterMs ?? this.#policy.authRetryMs
        : kind === "auth"
        ? this.#policy.authRetryMs
        : Math.round(this.#retryDelay(err, ++this.#unanswered));
      delay = await this.#pause.pause(err as ProviderError, wait);
      this.#pausing.abort();
      this.#pausing = new AbortController();
      delete next.notBefore;
    } else {
      delay = Math.round(this.#retryDelay(err, next.attempts));
      next.notBefore = this.#clock.now() + delay;
      log.warn("Will retry {status} on {sha} in {delayMs} ms: {error}", {
        ...props,
        delayMs: delay,
      });
    }
    const result = await this.#kv.atomic().check(current).set(current.key, next).commit();
    if (result.ok) {
      const item = queued(next, result.versionstamp);
      this.#index.put(item);
      // A check of the provider that failed is made again on the next attempt.
      this.#restore.rewritten(sha, item.subject, current.versionstamp, result.versionstamp);
    }
    this.#onSettled({ sha, action, outcome: "retry", delayMs: delay, error, kind });
  }

  /**
   * Deletes a finished entry (with `also`'s writes) unless a newer change replaced it meanwhile;
   * returns whether it did.
   */
  async #remove(
    current: Deno.KvEntryMaybe<OutboxEntry>,
    also: (op: Deno.AtomicOperation) => void = () => {},
  ): Promise<boolean> {
    const op = this.#kv.atomic().check(current).delete(current.key);
    also(op);
    const result = await op.commit();
    if (!result.ok) return false;
    this.#index.remove(idOf(current.value!), result.versionstamp);
    return true;
  }

  /**
   * The backoff before trying a transient failure again on attempt number `attempts`:
   * exponential with equal jitter, and never sooner than the provider's Retry-After.
   */
  #retryDelay(err: unknown, attempts: number): number {
    const { baseMs, maxMs } = this.#policy;
    const cap = exponential(baseMs, maxMs, attempts);
    const backoff = cap / 2 + this.#random() * (cap / 2);
    const asked = err instanceof ProviderError ? err.retryAfterMs ?? 0 : 0;
    return Math.max(asked, backoff);
  }
}

/** `baseMs` doubled per attempt after the first, at most `maxMs`. */
function exponential(baseMs: number, maxMs: number, attempt: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 30));
}

function sameStatus(a: CommitStatus, b: CommitStatus): boolean {
  return a.name === b.name && a.state === b.state && a.description === b.description &&
    (a.targetUrl ?? "") === (b.targetUrl ?? "");
}
