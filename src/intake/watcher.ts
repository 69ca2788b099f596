/**
 * The rollout watcher: after a sync, the `workload` status of its commits goes to pending, then to
 * a verdict from fluxd's workload states (src/sources/flux/rollout.ts), through the outbox.
 *
 * - **Scope.** A watch covers the workloads the sync event names in `serviceIDs` (deployments,
 *   daemonsets, statefulsets, cronjobs, helmreleases), not the whole cluster. When it names none
 *   and inherits none (below), there is nothing to roll out: the workload status is set to
 *   succeeded at once, "No workloads to roll out", so a CI gate never waits on a status that will
 *   not come.
 * - **Failed syncs.** A sync that failed sets its commits' workload status to **failed**,
 *   "Sync failed: not rolled out": the commit did not fully reach the cluster, which a CI gate
 *   must treat as a failure (canceled is kept for "superseded").
 * - **Supersede, and inherit.** Any newer sync (a different head) ends every older watch: the
 *   older commits' workload status becomes canceled, "Superseded by <sha>". fluxd applies the
 *   whole tree at the head, so the workloads an older watch was still waiting for are now the
 *   newer head's too: its watch takes them over (with what was seen of them), and its verdict
 *   waits for them, fails if they fail, and times out with them. The timeout counts from the newer
 *   sync. A re-sent sync of a head already watched or judged changes nothing.
 * - **Size.** A watch's workload IDs are stored in chunks of at most {@linkcode CHUNK_ID_CHARS}
 *   characters, each well under Deno KV's 64 KiB value limit, and a watch follows at most
 *   {@linkcode MAX_WATCH_ID_CHARS} characters of IDs (about 4,000 workloads at typical lengths),
 *   so a sync's whole KV commit stays within KV's 800 KiB; an event naming more watches the first
 *   ones in fluxd's order and says how many it left out.
 * - **HelmReleases.** A HelmRelease's `deployed` or `failed` is believed only once the watch is
 *   `helmGraceMs` old (30 s by default, three of helm-operator's 10 s status updates): before
 *   that it may still describe the previous release (see src/sources/flux/rollout.ts).
 * - **Never stalls.** A failing check (store, fluxd) is logged and tried again at the poll
 *   interval, watch by watch, and a watch still times out at `pollTimeoutMs`.
 * - **Durability.** Watches live in Deno KV, written in the same atomic commit as the statuses
 *   they stage, before fluxd gets its 2xx; a restarted daemon resumes them, timing out from the
 *   original start.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { Alarm, type Clock, IDLE_SLEEP_MS, systemClock } from "../runtime/clock.ts";
import { formatDuration } from "../runtime/duration.ts";
import type { SyncOutcome } from "../sources/flux/events.ts";
import { isWorkloadId, judgeRollout, type WorkloadStatus } from "../sources/flux/rollout.ts";
import type { ListWorkloads } from "../sources/flux/workloads.ts";
import type { State, StatusChange } from "../notifiers/notifier.ts";
import type { Outbox } from "../outbox/outbox.ts";
import { watchKeys } from "../runtime/store_keys.ts";
import { errorText } from "../runtime/error_text.ts";

const log = getLogger(["flux-status", "watcher"]);

/** How long a judged head is remembered, so a re-sent event does not start a watch again. */
const JUDGED_TTL_MS = 7 * 24 * 3_600_000;

/** Characters of workload IDs in one stored chunk (with its seen/done lists: under 64 KiB). */
export const CHUNK_ID_CHARS = 16 * 1024;

/** Characters of workload IDs one watch follows at most. */
export const MAX_WATCH_ID_CHARS = 256 * 1024;

/** What the last check was waiting for, kept for the timeout description. */
const WAITING_KEPT = 10;

/** One active watch, as stored (its workloads are in {@linkcode WatchChunk}s). */
export interface Watch {
  /** The synced head. */
  head: string;
  /** Commits that get the workload status. */
  commits: string[];
  /** Workloads watched. */
  total: number;
  /** Workloads named but not watched (over {@linkcode MAX_WATCH_ID_CHARS}). */
  omitted: number;
  /** Number of chunks. */
  chunks: number;
  /** When the watch began (epoch ms). */
  startedAt: number;
  /** Whether fluxd answered at least once. */
  reachedFluxd: boolean;
  /** The first things the last check was still waiting for. */
  waiting: string[];
  /** How many things the last check was waiting for in all. */
  waitingCount: number;
}

/** A slice of a watch's workloads, as stored. */
export interface WatchChunk {
  /** Workload IDs. */
  ids: string[];
  /** IDs fluxd has listed at least once. */
  seen: string[];
  /** IDs rolled out at the last check. */
  done: string[];
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
  /** Believe a HelmRelease's release status only after this long, in ms (`--helm-grace`). */
  helmGraceMs: number;
  /** Time source. @default systemClock */
  clock?: Clock;
  /** Called with each verdict (metrics, tests). */
  onVerdict?: (head: string, state: State, description: string) => void;
}

const { watch: watchKey, chunk: chunkKey, judged: judgedKey } = watchKeys;

interface LoadedWatch {
  entry: Deno.KvEntry<Watch>;
  chunks: Deno.KvEntry<WatchChunk>[];
}

/** Follows each synced commit's rollout to a verdict. */
export class Watcher {
  #options: Required<Omit<WatcherOptions, "onVerdict">> & Pick<WatcherOptions, "onVerdict">;
  #alarm = new Alarm();

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
    this.#options = { clock: systemClock, ...options };
  }

  /**
   * Plans what a sync means for workload statuses: adds the new watch (with the unfinished
   * workloads of the watches it supersedes), the end of those watches and their status changes
   * to `op`. The caller commits `op` and then calls {@linkcode Watcher.wake}.
   *
   * @returns the workload status changes to stage in the same operation, in order
   */
  async plan(outcome: SyncOutcome, op: Deno.AtomicOperation): Promise<StatusChange[]> {
    const { kv, clock } = this.#options;
    const [existing, judged] = await kv.getMany<[Watch, string]>([
      watchKey(outcome.head),
      judgedKey(outcome.head),
    ]);
    op.check(existing, judged);
    if (existing.value || judged.value) return [];

    const changes: StatusChange[] = [];
    const short = outcome.head.slice(0, 7);
    const inherited = new Map<string, boolean>(); // unfinished ID → seen
    for (const older of await this.#load()) {
      const w = older.entry.value;
      op.check(older.entry).delete(older.entry.key)
        .set(judgedKey(w.head), "superseded", { expireIn: JUDGED_TTL_MS });
      for (const c of older.chunks) {
        op.delete(c.key);
        const done = new Set(c.value.done), seen = new Set(c.value.seen);
        for (const id of c.value.ids) if (!done.has(id)) inherited.set(id, seen.has(id));
      }
      changes.push(...workloadChanges(w.commits, w.head, "canceled", `Superseded by ${short}`));
      log.info("Rollout watch of {head} superseded by {newer}", { head: w.head, newer: short });
    }
    if (outcome.failed) {
      op.set(judgedKey(outcome.head), "failed", { expireIn: JUDGED_TTL_MS });
      return [
        ...changes,
        ...workloadChanges(outcome.commits, outcome.head, "failed", "Sync failed: not rolled out"),
      ];
    }
    const own = outcome.resources.filter(isWorkloadId);
    const named = [...new Set([...own, ...inherited.keys()])];
    if (named.length === 0) {
      op.set(judgedKey(outcome.head), "succeeded", { expireIn: JUDGED_TTL_MS });
      return [
        ...changes,
        ...workloadChanges(outcome.commits, outcome.head, "succeeded", "No workloads to roll out"),
      ];
    }
    const chunks = chunked(named, (id) => inherited.get(id) === true);
    const total = chunks.reduce((n, c) => n + c.ids.length, 0);
    const watch: Watch = {
      head: outcome.head,
      commits: outcome.commits,
      total,
      omitted: named.length - total,
      chunks: chunks.length,
      startedAt: clock.now(),
      reachedFluxd: false,
      waiting: [],
      waitingCount: total,
    };
    op.set(watchKey(outcome.head), watch);
    chunks.forEach((c, i) => op.set(chunkKey(outcome.head, i), c));
    const carried = named.length - new Set(own).size;
    const from = carried > 0 ? ` (${carried} still rolling from before)` : "";
    const left = watch.omitted > 0 ? `, ${watch.omitted} more not watched` : "";
    return [
      ...changes,
      ...workloadChanges(
        outcome.commits,
        outcome.head,
        "pending",
        `Rolling out ${workloads(total)}${from}${left}`,
      ),
    ];
  }

  /**
   * Splits watches stored by flux-status 0.1.0 (workload IDs inline) into chunks, once per store;
   * call before {@linkcode Watcher.run}.
   *
   * @returns how many watches were converted
   */
  async migrate(): Promise<number> {
    const { kv } = this.#options;
    const marker = await kv.get<number>(watchKeys.schema);
    if ((marker.value ?? 1) >= 2) return 0;
    let converted = 0;
    for await (
      const e of kv.list<Watch & { workloads?: string[]; seen?: string[] }>({
        prefix: watchKeys.watches,
      })
    ) {
      const { workloads, seen = [], ...rest } = e.value;
      if (!workloads) continue;
      const seenIds = new Set(seen);
      const chunks = chunked(workloads, (id) => seenIds.has(id));
      const total = chunks.reduce((n, c) => n + c.ids.length, 0);
      const watch: Watch = {
        ...rest,
        total,
        omitted: workloads.length - total,
        chunks: chunks.length,
        waiting: (rest.waiting ?? []).slice(0, WAITING_KEPT),
        waitingCount: rest.waiting?.length ?? total,
      };
      const op = kv.atomic().check(e).set(e.key, watch);
      chunks.forEach((c, i) => op.set(chunkKey(watch.head, i), c));
      await op.commit();
      converted++;
    }
    await kv.atomic().check(marker).set(watchKeys.schema, 2).commit();
    return converted;
  }

  /** Wakes the loop after a planned watch was committed. */
  wake(): void {
    this.#alarm.wake();
  }

  /** How many watches are active (reads only their headers). */
  async count(): Promise<number> {
    let n = 0;
    for await (const _ of this.#options.kv.list({ prefix: watchKeys.watches })) n++;
    return n;
  }

  /** Checks every active watch each poll interval until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let active = 0;
      try {
        active = await this.#check(signal);
      } catch (err) {
        if (signal.aborted) break;
        log.error("Rollout check failed, trying again at the next poll: {error}", {
          error: errorText(err),
        });
        active = 1;
      }
      await this.#alarm.sleep(
        this.#options.clock,
        active > 0 ? this.#options.pollIntervalMs : IDLE_SLEEP_MS,
        signal,
      );
    }
  }

  async #load(): Promise<LoadedWatch[]> {
    const { kv } = this.#options;
    const out: LoadedWatch[] = [];
    for await (const entry of kv.list<Watch>({ prefix: watchKeys.watches })) {
      const chunks: Deno.KvEntry<WatchChunk>[] = [];
      for await (const c of kv.list<WatchChunk>({ prefix: watchKeys.chunks(entry.value.head) })) {
        chunks.push(c);
      }
      out.push({ entry, chunks });
    }
    return out;
  }

  async #check(signal: AbortSignal): Promise<number> {
    const { list } = this.#options;
    const watches = await this.#load();
    if (watches.length === 0) return 0;
    const ids = [...new Set(watches.flatMap((w) => w.chunks.flatMap((c) => c.value.ids)))];
    let listed: WorkloadStatus[] | undefined;
    let failure = "";
    try {
      listed = await list(ids, signal);
    } catch (err) {
      failure = errorText(err);
      log.warn("Cannot ask fluxd for workloads: {error}", { error: failure });
    }
    const byId = listed ? new Map(listed.map((w) => [w.ID, w])) : undefined;
    let active = 0;
    for (const watch of watches) {
      try {
        if (await this.#checkOne(watch, byId, failure)) active++;
      } catch (err) {
        if (signal.aborted) throw err;
        active++;
        log.error("Rollout check of {head} failed, trying again at the next poll: {error}", {
          head: watch.entry.value.head,
          error: errorText(err),
        });
      }
    }
    return active;
  }

  /** Judges one watch; returns whether it is still active. */
  async #checkOne(
    { entry, chunks }: LoadedWatch,
    byId: Map<string, WorkloadStatus> | undefined,
    failure: string,
  ): Promise<boolean> {
    const { kv, clock, pollTimeoutMs, helmGraceMs } = this.#options;
    const watch = entry.value;
    const elapsed = clock.now() - watch.startedAt;
    const options = { trustHelmStatus: elapsed >= helmGraceMs };
    const waiting: string[] = [];
    let waitingCount = 0;
    const updates: [Deno.KvEntry<WatchChunk>, WatchChunk][] = [];
    if (byId) {
      for (const chunk of chunks) {
        const check = judgeRollout(chunk.value.ids, byId, new Set(chunk.value.seen), options);
        if (check.failed) {
          await this.#finish(entry, chunks, "failed", `Rollout failed: ${check.failed}`);
          return false;
        }
        waiting.push(...check.waiting.slice(0, Math.max(0, WAITING_KEPT - waiting.length)));
        waitingCount += check.waiting.length;
        const next = { ...chunk.value, seen: check.seen, done: check.done };
        if (
          next.seen.length !== chunk.value.seen.length || !sameList(check.done, chunk.value.done)
        ) {
          updates.push([chunk, next]);
        }
      }
      if (waitingCount === 0) {
        const omitted = watch.omitted > 0 ? ` (${watch.omitted} more not watched)` : "";
        await this.#finish(
          entry,
          chunks,
          "succeeded",
          `Rolled out ${workloads(watch.total)}${omitted}`,
        );
        return false;
      }
    }
    if (pollTimeoutMs > 0 && elapsed >= pollTimeoutMs) {
      const reachedFluxd = watch.reachedFluxd || byId !== undefined;
      const last = byId ? { waiting, waitingCount } : watch;
      const more = last.waitingCount > last.waiting.length
        ? `, and ${last.waitingCount - last.waiting.length} more`
        : "";
      const what = reachedFluxd
        ? last.waiting.join(", ") + more
        : `fluxd was unreachable (${failure})`;
      await this.#finish(
        entry,
        chunks,
        "failed",
        `Rollout timed out after ${formatDuration(pollTimeoutMs)}: ${what}`,
      );
      return false;
    }
    if (byId) {
      const next: Watch = { ...watch, reachedFluxd: true, waiting, waitingCount };
      const op = kv.atomic().check(entry);
      for (const [chunk, value] of updates) op.check(chunk).set(chunk.key, value);
      if (updates.length > 0 || JSON.stringify(next) !== JSON.stringify(watch)) {
        op.set(entry.key, next);
        await op.commit(); // a failed check: superseded meanwhile, the next check sees it
      }
    }
    return true;
  }

  async #finish(
    entry: Deno.KvEntry<Watch>,
    chunks: Deno.KvEntry<WatchChunk>[],
    state: State,
    description: string,
  ): Promise<void> {
    const watch = entry.value;
    const op = this.#options.kv.atomic().check(entry).delete(entry.key)
      .set(judgedKey(watch.head), state, { expireIn: JUDGED_TTL_MS });
    for (const c of chunks) op.delete(c.key);
    const landed = await this.#options.outbox.commit(
      op,
      workloadChanges(watch.commits, watch.head, state, description),
    );
    if (!landed) return; // superseded meanwhile: the newer sync already closed this watch
    log.info("Rollout of {head}: {state}, {description}", { head: watch.head, state, description });
    this.#options.onVerdict?.(watch.head, state, description);
  }
}

/** Splits IDs into chunks of at most CHUNK_ID_CHARS, up to MAX_WATCH_ID_CHARS in all. */
function chunked(ids: string[], wasSeen: (id: string) => boolean): WatchChunk[] {
  const chunks: WatchChunk[] = [];
  let total = 0, size = 0;
  let current: WatchChunk | undefined;
  for (const id of ids) {
    if (total + id.length > MAX_WATCH_ID_CHARS) break;
    if (!current || size + id.length > CHUNK_ID_CHARS) {
      current = { ids: [], seen: [], done: [] };
      chunks.push(current);
      size = 0;
    }
    current.ids.push(id);
    if (wasSeen(id)) current.seen.push(id);
    size += id.length;
    total += id.length;
  }
  return chunks;
}

/** The workload status of every commit of a sync, its head marked. */
function workloadChanges(
  commits: string[],
  head: string,
  state: State,
  description: string,
): StatusChange[] {
  return commits.map((sha) => ({
    sha,
    action: "workload",
    state,
    description,
    ...(sha === head ? { isHead: true } : {}),
  }));
}

/** `1 workload`, `3 workloads`. */
function workloads(n: number): string {
  return `${n} workload${n === 1 ? "" : "s"}`;
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
