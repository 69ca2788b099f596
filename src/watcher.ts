/**
 * The rollout watcher: after a sync, the `workload` status of its commits goes to pending, then to
 * a verdict from fluxd's workload states (src/flux/rollout.ts), through the outbox.
 *
 * - **Scope.** A watch covers the workloads the sync event names in `serviceIDs` (deployments,
 *   daemonsets, statefulsets, cronjobs, helmreleases), not the whole cluster. When it names none
 *   (only services, config maps, namespaces… changed), there is nothing to roll out: the workload
 *   status is set to succeeded at once, "No workloads to roll out", so a CI gate never waits on a
 *   status that will not come.
 * - **Failed syncs.** A sync that failed sets its commits' workload status to **failed**,
 *   "Sync failed: not rolled out": the commit did not fully reach the cluster, which a CI gate
 *   must treat as a failure (canceled is kept for "superseded").
 * - **Supersede.** Any newer sync (a different head) ends every older watch: the older commits'
 *   workload status becomes canceled, "Superseded by <sha>". A re-sent sync of a head already
 *   watched or judged changes nothing.
 * - **Durability.** Watches live in Deno KV, written in the same atomic commit as the statuses
 *   they stage, before fluxd gets its 2xx; a restarted daemon resumes them, timing out from the
 *   original start.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { type Clock, sleepUnlessAborted, systemClock } from "./clock.ts";
import { formatDuration } from "./config.ts";
import type { SyncOutcome } from "./flux/events.ts";
import { isWorkloadId, judgeRollout, type Verdict } from "./flux/rollout.ts";
import type { ListWorkloads } from "./flux/workloads.ts";
import type { State, StatusChange } from "./notifiers/notifier.ts";
import type { Outbox } from "./outbox.ts";

const log = getLogger(["flux-status", "watcher"]);

/** How long a judged head is remembered, so a re-sent event does not start a watch again. */
const JUDGED_TTL_MS = 7 * 24 * 3_600_000;

/** One active watch, as stored. */
export interface Watch {
  /** The synced head. */
  head: string;
  /** Commits that get the workload status. */
  commits: string[];
  /** Workload IDs judged. */
  workloads: string[];
  /** IDs fluxd has listed at least once. */
  seen: string[];
  /** When the watch began (epoch ms). */
  startedAt: number;
  /** Whether fluxd answered at least once. */
  reachedFluxd: boolean;
  /** What the last answer was still waiting for. */
  waiting: string[];
}

/** Options for {@linkcode Watcher}. */
export interface WatcherOptions {
  /** The open KV store. */
  kv: Deno.Kv;
  /** Where workload statuses go. */
  outbox: Outbox;
  /** Asks fluxd for workload states. */
  list: ListWorkloads;
  /** Time between checks, in ms. */
  pollIntervalMs: number;
  /** Give up after this long, in ms; 0 = never. */
  pollTimeoutMs: number;
  /** Time source. @default systemClock */
  clock?: Clock;
  /** Called with each verdict (metrics, tests). */
  onVerdict?: (head: string, state: State, description: string) => void;
}

const watchKey = (head: string) => ["watch", head];
const judgedKey = (head: string) => ["judged", head];

/** Follows each synced commit's rollout to a verdict. */
export class Watcher {
  #o: Required<Omit<WatcherOptions, "onVerdict">> & Pick<WatcherOptions, "onVerdict">;
  #wake = new AbortController();

  constructor(options: WatcherOptions) {
    const { pollIntervalMs, pollTimeoutMs } = options;
    if (!(pollIntervalMs > 0)) {
      throw new RangeError(
        `Cannot watch rollouts as 'pollIntervalMs' must be more than 0: current value is ${pollIntervalMs}`,
      );
    }
    if (!(pollTimeoutMs >= 0)) {
      throw new RangeError(
        `Cannot watch rollouts as 'pollTimeoutMs' must be 0 or more: current value is ${pollTimeoutMs}`,
      );
    }
    this.#o = { clock: systemClock, ...options };
  }

  /**
   * Plans what a sync means for workload statuses: adds the new watch, the end of superseded
   * watches and their status changes to `op` (the caller commits it, then calls notify).
   *
   * @returns the workload status changes to stage in the same operation, in order
   */
  async plan(outcome: SyncOutcome, op: Deno.AtomicOperation): Promise<StatusChange[]> {
    const { kv, clock } = this.#o;
    const [existing, judged] = await kv.getMany<[Watch, string]>([
      watchKey(outcome.head),
      judgedKey(outcome.head),
    ]);
    op.check(existing, judged);
    if (existing.value || judged.value) return [];

    const changes: StatusChange[] = [];
    const short = outcome.head.slice(0, 7);
    for await (const older of kv.list<Watch>({ prefix: ["watch"] })) {
      op.check(older).delete(older.key).set(judgedKey(older.value.head), "superseded", {
        expireIn: JUDGED_TTL_MS,
      });
      changes.push(...to(older.value.commits, "canceled", `Superseded by ${short}`));
      log.info("Rollout watch of {head} superseded by {newer}", {
        head: older.value.head,
        newer: outcome.head,
      });
    }
    const workloads = [...new Set(outcome.resources.filter(isWorkloadId))];
    if (outcome.failed) {
      op.set(judgedKey(outcome.head), "failed", { expireIn: JUDGED_TTL_MS });
      return [...changes, ...to(outcome.commits, "failed", "Sync failed: not rolled out")];
    }
    if (workloads.length === 0) {
      op.set(judgedKey(outcome.head), "succeeded", { expireIn: JUDGED_TTL_MS });
      return [...changes, ...to(outcome.commits, "succeeded", "No workloads to roll out")];
    }
    const watch: Watch = {
      head: outcome.head,
      commits: outcome.commits,
      workloads,
      seen: [],
      startedAt: clock.now(),
      reachedFluxd: false,
      waiting: workloads.map((id) => `${id} not listed yet`),
    };
    op.set(watchKey(outcome.head), watch);
    return [
      ...changes,
      ...to(outcome.commits, "pending", `Rolling out ${count(workloads.length)}`),
    ];
  }

  /** Wakes the loop after a planned watch was committed. */
  notify(): void {
    this.#wake.abort();
  }

  /** Active watches. */
  async watches(): Promise<Watch[]> {
    const out: Watch[] = [];
    for await (const e of this.#o.kv.list<Watch>({ prefix: ["watch"] })) out.push(e.value);
    return out;
  }

  /** Checks every active watch each poll interval until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const wake = this.#wake;
      let active = 0;
      try {
        active = await this.#check(signal);
      } catch (err) {
        if (signal.aborted) break;
        log.error("Rollout check failed: {error}", { error: (err as Error).message });
      }
      if (wake.signal.aborted) {
        this.#wake = new AbortController();
        continue;
      }
      const wait = active > 0 ? this.#o.pollIntervalMs : 3_600_000;
      await sleepUnlessAborted(this.#o.clock, wait, AbortSignal.any([signal, wake.signal]));
      if (wake.signal.aborted) this.#wake = new AbortController();
    }
  }

  async #check(signal: AbortSignal): Promise<number> {
    const { kv, clock, list, pollTimeoutMs } = this.#o;
    const entries: Deno.KvEntry<Watch>[] = [];
    for await (const e of kv.list<Watch>({ prefix: ["watch"] })) entries.push(e);
    if (entries.length === 0) return 0;
    const ids = [...new Set(entries.flatMap((e) => e.value.workloads))];
    let listed: Awaited<ReturnType<ListWorkloads>> | undefined;
    let failure = "";
    try {
      listed = await list(ids, signal);
    } catch (err) {
      failure = (err as Error).message;
      log.warn("Cannot ask fluxd for workloads: {error}", { error: failure });
    }
    let active = 0;
    for (const entry of entries) {
      const watch = entry.value;
      const elapsed = clock.now() - watch.startedAt;
      const verdict: Verdict | undefined = listed
        ? judgeRollout(watch.workloads, listed, watch.seen)
        : undefined;
      if (verdict?.kind === "rolledOut") {
        await this.#finish(entry, "succeeded", `Rolled out ${count(watch.workloads.length)}`);
      } else if (verdict?.kind === "failed") {
        await this.#finish(entry, "failed", `Rollout failed: ${verdict.reason}`);
      } else if (pollTimeoutMs > 0 && elapsed >= pollTimeoutMs) {
        const reachedFluxd = watch.reachedFluxd || listed !== undefined;
        const what = !reachedFluxd
          ? `fluxd was unreachable (${failure})`
          : (verdict?.waiting ?? watch.waiting).join(", ");
        await this.#finish(
          entry,
          "failed",
          `Rollout timed out after ${formatDuration(pollTimeoutMs)}: ${what}`,
        );
      } else {
        active++;
        if (listed && verdict) {
          const seen = [
            ...new Set([
              ...watch.seen,
              ...listed.map((w) => w.ID).filter((id) => watch.workloads.includes(id)),
            ]),
          ];
          const next = { ...watch, seen, reachedFluxd: true, waiting: verdict.waiting };
          if (JSON.stringify(next) !== JSON.stringify(watch)) {
            await kv.atomic().check(entry).set(entry.key, next).commit();
          }
        }
      }
    }
    return active;
  }

  async #finish(entry: Deno.KvEntry<Watch>, state: State, description: string): Promise<void> {
    const watch = entry.value;
    const op = this.#o.kv.atomic().check(entry).delete(entry.key)
      .set(judgedKey(watch.head), state, { expireIn: JUDGED_TTL_MS });
    this.#o.outbox.stage(op, to(watch.commits, state, description));
    const result = await op.commit();
    if (!result.ok) return; // superseded meanwhile: the newer sync already closed this watch
    this.#o.outbox.notify();
    log.info("Rollout of {head}: {state}, {description}", { head: watch.head, state, description });
    this.#o.onVerdict?.(watch.head, state, description);
  }
}

function to(commits: string[], state: State, description: string): StatusChange[] {
  return commits.map((sha) => ({ sha, action: "workload", state, description }));
}

function count(n: number): string {
  return `${n} workload${n === 1 ? "" : "s"}`;
}
