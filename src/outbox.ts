/**
 * The durable outbox: status changes are committed to Deno KV before fluxd gets its 2xx, then
 * delivered to the provider by a background loop that survives restarts and kill -9.
 *
 * - **Order and coalescing.** One entry per (commit, action) holds the newest wanted status. A
 *   change staged while an older one waits replaces it, so updates never reach the provider out
 *   of order; intermediate states superseded before delivery are not sent at all.
 * - **Dedupe.** The last delivered status per (commit, action) is kept; a change identical to it
 *   is dropped without a request (fluxd re-sends the same commits after any failed POST).
 * - **Indexed, head first.** Entries ready to go sit in a `ready` index ordered by priority: a
 *   sync's head commit before the older commits it lists, newer syncs before older ones, final
 *   states before pending ones. Entries waiting out a backoff sit in a `wait` index ordered by due
 *   time and move back to `ready` when due. The loop reads only the front of each index, so its
 *   work per delivery does not grow with the backlog. Index keys of a replaced entry are left
 *   behind and removed when the loop meets them.
 * - **Retry owner.** This loop owns every retry, of every provider and failure kind; notifiers
 *   only decide the kind ({@linkcode ProviderError}): `transient` backs off exponentially with
 *   jitter (never sooner than a Retry-After); `rateLimited`, `auth` and a call that got no answer
 *   at all (status 0: refused, reset, timed out, DNS) pause every call to the provider
 *   ({@linkcode ProviderPause}; no answer: with the same growing backoff, so an outage costs one
 *   probe per round, not one call per queued status); `rejected` is dropped with the reason.
 * - **Bounds.** An entry still undelivered {@linkcode OutboxOptions.maxAgeMs} after it was queued
 *   (7 days by default) is dropped with a logged reason: its commit is long superseded and a
 *   provider that refuses it that long will not take it. Coalescing bounds the rest (two entries
 *   per commit at most).
 * - **Store failures.** A store that fails is logged and retried with backoff, never in a tight
 *   loop; a status the provider took but the store could not record is remembered in memory and
 *   not sent again while the record is retried.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { Alarm, type Clock, systemClock } from "./clock.ts";
import {
  type Action,
  type CommitStatus,
  type FailureKind,
  MAX_DESCRIPTION_LENGTH,
  type Notifier,
  ProviderError,
  type StatusChange,
  statusName,
  truncate,
} from "./notifiers/notifier.ts";
import { ProviderPause } from "./pause.ts";

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

const DEFAULT_POLICY = { baseMs: 1000, maxMs: 300_000, authRetryMs: 60_000 } satisfies RetryPolicy;

/** How long delivered-status records are kept for dedupe. */
const DELIVERED_TTL_MS = 30 * 24 * 3_600_000;

/** Wait entries moved to `ready` per pass. */
const PROMOTE_BATCH = 100;

/** One waiting change, as stored. */
export interface OutboxEntry {
  sha: string;
  action: Action;
  /** The object the status is about, if the commit has several. */
  object?: string;
  status: CommitStatus;
  attempts: number;
  enqueuedAt: number;
  /** Priority, lowest first: head-ness, newness, finality. */
  rank: [number, number, number];
  /** The index key that points at this entry now (`ready` or `wait`). */
  slot: Deno.KvKey;
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
  outcome: "delivered" | "retry" | "dropped" | "skipped";
  /** For `retry`: the wait before the next attempt (the provider pause, for limits and tokens). */
  delayMs?: number;
  /** For `retry` and `dropped`: why. */
  error?: string;
  /** For `retry`: the kind of failure. */
  kind?: FailureKind;
  /** For `dropped`: refused by the provider, or undelivered past `maxAgeMs`. */
  reason?: "rejected" | "expired";
  /** For `delivered`: how long the status waited from its acceptance to the provider's answer. */
  queuedMs?: number;
}

/** What a status is about on its commit: `action`, or `object/action`; the last key part. */
const subjectOf = (e: { action: Action; object?: string | undefined }): string =>
  e.object ? `${e.object}/${e.action}` : e.action;
const entryKey = (sha: string, subject: string): Deno.KvKey => ["outbox", sha, subject];
const deliveredKey = (sha: string, subject: string): Deno.KvKey => ["delivered", sha, subject];
type Indexed = Pick<OutboxEntry, "sha" | "action" | "object">;
const readyKey = (e: Indexed & Pick<OutboxEntry, "rank">): Deno.KvKey => [
  "ready",
  ...e.rank,
  e.sha,
  subjectOf(e),
];
const waitKey = (at: number, e: Indexed): Deno.KvKey => ["wait", at, e.sha, subjectOf(e)];
const sameKey = (a: Deno.KvKey, b: Deno.KvKey) =>
  a.length === b.length && a.every((part, i) => part === b[i]);

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
  }

  /** The provider pause in force (or awaiting its probe), if any. */
  get pause(): ProviderPause {
    return this.#pause;
  }

  /**
   * Commits status changes durably and wakes the delivery loop; later changes for the same
   * commit and action win.
   *
   * @param changes in the order they happened
   * @throws {Error} when the store refuses the commit
   */
  async enqueue(changes: StatusChange[]): Promise<void> {
    if (changes.length === 0) return;
    if (!(await this.commit(this.#kv.atomic(), changes))) {
      throw new Error("Cannot enqueue status changes as the KV commit was refused");
    }
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
    this.#stage(op, changes);
    const { ok } = await op.commit();
    if (ok && changes.length > 0) this.wake();
    return ok;
  }

  #stage(op: Deno.AtomicOperation, changes: StatusChange[]): void {
    const latest = new Map<string, StatusChange>();
    for (const c of changes) {
      latest.delete(`${c.sha}/${subjectOf(c)}`);
      latest.set(`${c.sha}/${subjectOf(c)}`, c);
    }
    const now = this.#clock.now();
    // Newer stages rank first: the sequence grows with time and within one millisecond.
    const seq = this.#lastSeq = Math.max(now * 1000, this.#lastSeq + 1);
    for (const c of latest.values()) {
      const rank: OutboxEntry["rank"] = [
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
        slot: [],
      };
      entry.slot = readyKey(entry);
      op.set(entryKey(c.sha, subjectOf(c)), entry).set(entry.slot, null);
    }
  }

  /**
   * Indexes entries stored by flux-status 0.1.0 (no `ready`/`wait` index then), once per store;
   * call before {@linkcode Outbox.run}.
   *
   * @returns how many entries were indexed
   */
  async migrate(): Promise<number> {
    const marker = await this.#kv.get<number>(["schema", "outbox"]);
    if ((marker.value ?? 1) >= 2) return 0;
    let indexed = 0;
    for await (const e of this.#kv.list<OutboxEntry>({ prefix: ["outbox"] })) {
      if (e.value.slot) continue;
      const rank: OutboxEntry["rank"] = [
        1,
        Number.MAX_SAFE_INTEGER - e.value.enqueuedAt * 1000,
        e.value.status.state === "pending" ? 1 : 0,
      ];
      const entry: OutboxEntry = { ...e.value, rank, slot: [] };
      entry.slot = readyKey(entry);
      await this.#kv.atomic().check(e).set(e.key, entry).set(entry.slot, null).commit();
      indexed++;
    }
    await this.#kv.atomic().check(marker).set(["schema", "outbox"], 2).commit();
    if (indexed > 0) {
      log.info("Indexed {count} queued statuses of an older store", { count: indexed });
    }
    return indexed;
  }

  /** Wakes the delivery loop (it also wakes by itself after every commit and delivery). */
  wake(): void {
    this.#alarm.wake();
  }

  /**
   * How many entries wait and the age of the oldest, in seconds (for `/metrics`; reads the whole
   * outbox, so only at scrape time).
   */
  async stats(): Promise<{ depth: number; oldestAgeSeconds: number }> {
    let depth = 0, oldest = Infinity;
    for await (const e of this.#kv.list<OutboxEntry>({ prefix: ["outbox"] })) {
      depth++;
      oldest = Math.min(oldest, e.value.enqueuedAt);
    }
    const age = depth === 0 ? 0 : Math.max(0, this.#clock.now() - oldest) / 1000;
    return { depth, oldestAgeSeconds: age };
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
    let loaded = false;
    while (!signal.aborted) {
      let nextDue: number;
      try {
        if (!loaded) {
          await this.#pause.load();
          loaded = true;
        }
        nextDue = await this.#startDue(abortDeliveries);
      } catch (err) {
        // The store failed (disk full, closed): say so and try again later, never in a loop.
        log.error("Cannot read the outbox: {error}", { error: messageOf(err) });
        nextDue = this.#storeFailed();
      }
      const wait = nextDue === Infinity ? 3_600_000 : nextDue - this.#clock.now();
      await this.#alarm.sleep(this.#clock, wait, signal);
    }
    await Promise.allSettled(this.#inFlight.values());
  }

  /** Starts deliveries of the highest-priority ready entries; returns when to look again. */
  async #startDue(abortDeliveries: AbortSignal): Promise<number> {
    const now = this.#clock.now();
    if (this.#storeRetryAt > now) return this.#storeRetryAt;
    const nextWait = await this.#promote(now);
    if (nextWait === now) return now; // more to promote first
    const paused = this.#pause.remainingMs();
    if (paused > 0) return Math.min(nextWait, now + paused);
    // Once a pause has passed, one call probes the provider before the rest follow.
    const limit = this.#pause.isProbing ? 1 : this.#concurrency;
    if (this.#inFlight.size >= limit) return nextWait;
    const candidates = this.#kv.list({ prefix: ["ready"] }, { limit: limit + this.#inFlight.size });
    for await (const { key } of candidates) {
      if (this.#inFlight.size >= limit) break;
      const sha = key.at(-2) as string, subject = key.at(-1) as string;
      const id = `${sha}/${subject}`;
      if (this.#inFlight.has(id)) continue;
      const delivery = this.#deliver(key, sha, subject, abortDeliveries, this.#pausing.signal)
        .then(() => {
          this.#storeFailures = 0;
        }, (err) => {
          log.error("Delivery of {status} on {sha} failed in the store: {error}", {
            instance: this.#instance,
            status: `flux-status/${this.#instance}/${subject}`,
            sha: sha.slice(0, 7),
            error: messageOf(err),
          });
          this.#storeFailed();
        }).finally(() => {
          this.#inFlight.delete(id);
          this.wake();
        });
      this.#inFlight.set(id, delivery);
    }
    return nextWait;
  }

  /** Records a store failure; returns when the store may be tried again (exponential backoff). */
  #storeFailed(): number {
    this.#storeFailures++;
    const { baseMs, maxMs } = this.#policy;
    this.#storeRetryAt = this.#clock.now() +
      Math.min(maxMs, baseMs * 2 ** Math.min(this.#storeFailures - 1, 30));
    return this.#storeRetryAt;
  }

  /**
   * Moves due `wait` entries back to `ready` (one batch); returns when the next one is due, `now`
   * when a full batch was moved (more may be due).
   */
  async #promote(now: number): Promise<number> {
    let moved = 0;
    for await (
      const { key } of this.#kv.list({ prefix: ["wait"], end: ["wait", now + 1] }, {
        limit: PROMOTE_BATCH,
      })
    ) {
      moved++;
      const sha = key[2] as string, subject = key[3] as string;
      const current = await this.#kv.get<OutboxEntry>(entryKey(sha, subject));
      const op = this.#kv.atomic().delete(key);
      if (current.value && sameKey(current.value.slot, key)) {
        const slot = readyKey(current.value);
        op.check(current).set(current.key, { ...current.value, slot }).set(slot, null);
      }
      await op.commit(); // a failed check: the entry changed meanwhile and has its own slot
    }
    if (moved === PROMOTE_BATCH) return now;
    for await (const { key } of this.#kv.list({ prefix: ["wait"] }, { limit: 1 })) {
      return key[1] as number;
    }
    return Infinity;
  }

  async #deliver(
    slot: Deno.KvKey,
    sha: string,
    subject: string,
    abortDelivery: AbortSignal,
    pausing: AbortSignal,
  ) {
    const id = `${sha}/${subject}`;
    const [current, delivered] = await this.#kv.getMany<[OutboxEntry, CommitStatus]>([
      entryKey(sha, subject),
      deliveredKey(sha, subject),
    ]);
    const entry = current.value;
    if (!entry || !sameKey(entry.slot, slot)) {
      await this.#kv.delete(slot); // left behind by a replaced or finished entry
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
      await this.#kv.atomic().check(current).delete(current.key).delete(slot).commit();
      this.#onSettled({ sha, action, outcome: "skipped" });
      return;
    }
    const age = this.#clock.now() - entry.enqueuedAt;
    if (!sent && age > this.#maxAgeMs) {
      const error = `undelivered for ${Math.round(age / 3_600_000)}h (last error: ${
        entry.lastError ?? "none"
      })`;
      log.error("Dropped {status} {state} on {sha}: {error}", { ...props, error });
      await this.#kv.atomic().check(current).delete(current.key).delete(slot).commit();
      this.#onSettled({ sha, action, outcome: "dropped", error, reason: "expired" });
      return;
    }
    if (!sent) {
      try {
        await this.#notifier.setStatus(
          sha,
          entry.status,
          AbortSignal.any([abortDelivery, pausing]),
        );
      } catch (err) {
        // Called off by a pause that began meanwhile, or by shutdown: the entry keeps its place,
        // no attempt lost.
        if (pausing.aborted || abortDelivery.aborted) return;
        await this.#failed(current as Deno.KvEntry<OutboxEntry>, err);
        return;
      }
      this.#unrecorded.set(id, entry.status);
      this.#unanswered = 0;
      if (this.#pause.current) await this.#pause.lift();
    }
    const record = { expireIn: DELIVERED_TTL_MS };
    const { ok } = await this.#kv.atomic().check(current).delete(current.key).delete(slot)
      .set(deliveredKey(sha, subject), entry.status, record).commit();
    // A newer change arrived meanwhile: keep it queued, but remember what was delivered.
    if (!ok) {
      await this.#kv.atomic().delete(slot).set(deliveredKey(sha, subject), entry.status, record)
        .commit();
    }
    this.#unrecorded.delete(id);
    log.info("Delivered {status} {state} on {sha}", { ...props, attempts: entry.attempts + 1 });
    this.#onSettled({
      sha,
      action,
      outcome: "delivered",
      queuedMs: this.#clock.now() - entry.enqueuedAt,
    });
  }

  async #failed(current: Deno.KvEntry<OutboxEntry>, err: unknown): Promise<void> {
    const entry = current.value;
    const { sha, action } = entry;
    const error = messageOf(err);
    const props = {
      instance: this.#instance,
      status: entry.status.name,
      sha: sha.slice(0, 7),
      error,
    };
    const kind = err instanceof ProviderError ? err.kind : "transient";
    if (kind === "rejected") {
      log.warn("Dropped {status} on {sha} as the provider refused it for good: {error}", props);
      await this.#kv.atomic().check(current).delete(current.key).delete(entry.slot).commit();
      this.#onSettled({ sha, action, outcome: "dropped", error, reason: "rejected" });
      return;
    }
    const next: OutboxEntry = { ...entry, attempts: entry.attempts + 1, lastError: error };
    let delay: number;
    const op = this.#kv.atomic().check(current);
    const unreachable = err instanceof ProviderError && kind === "transient" && err.status === 0;
    if (kind === "rateLimited" || kind === "auth" || unreachable) {
      // The provider's limit, our token, or a provider that does not answer at all: the entry
      // keeps its place and every call waits (one probe, not one call per queued status).
      const wait = kind === "rateLimited"
        ? (err as ProviderError).retryAfterMs ?? this.#policy.authRetryMs
        : kind === "auth"
        ? this.#policy.authRetryMs
        : Math.round(this.retryDelay(err, ++this.#unanswered));
      delay = await this.#pause.pause(err as ProviderError, wait);
      this.#pausing.abort();
      this.#pausing = new AbortController();
      op.set(current.key, next);
    } else {
      delay = Math.round(this.retryDelay(err, next.attempts));
      const slot = waitKey(this.#clock.now() + delay, entry);
      op.set(current.key, { ...next, slot }).delete(entry.slot).set(slot, null);
      log.warn("Will retry {status} on {sha} in {delayMs} ms: {error}", {
        ...props,
        delayMs: delay,
      });
    }
    await op.commit();
    this.#onSettled({ sha, action, outcome: "retry", delayMs: delay, error, kind });
  }

  /**
   * The backoff before trying a transient failure again on attempt number `attempts`:
   * exponential with equal jitter, and never sooner than the provider's Retry-After.
   */
  retryDelay(err: unknown, attempts: number): number {
    const { baseMs, maxMs } = this.#policy;
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

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
