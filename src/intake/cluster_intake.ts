/**
 * Cluster-state intake (`daemon --kubernetes`): the verdicts the cluster's Flux objects give now
 * (src/sources/flux2/cluster_state.ts) become, per commit, the roll-up pair
 * `flux-status/<instance>/sync|workload` (and with `objectStatuses`, one pair per object), queued
 * through the outbox only when a state changes, so 200 objects on one commit cost the pair's
 * pending and final writes, not 400.
 *
 * Level-triggered: {@linkcode ClusterIntake.reconcile} takes the whole current picture each time
 * and compares it with what it remembers (in memory, and in the store for restarts):
 *
 * - **Members.** Each object counted at a commit, with its verdict there. A succeeded verdict
 *   stays (a later failure at the same commit is drift, not the deploy); a failed one may still
 *   turn succeeded (Flux retries), never back to pending.
 * - **Moved on.** A member now at another commit that was still pending at this one is canceled,
 *   "Superseded by <sha>"; its history's verdict for this commit counts instead when it has one
 *   (verdicts reached while nobody watched). A member deleted (or no longer of the repository)
 *   stops counting.
 * - **Roll-up.** Failed when any member failed, pending while any is pending, canceled when the
 *   rest was superseded, succeeded when all succeeded; suspended objects are left out and named.
 *   A succeeded or canceled roll-up is final; a failed one may turn succeeded.
 * - **Restart.** A commit the store has no record of is first read back from the provider (one
 *   read per commit), so a lost or restored store does not send what the provider already shows.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { type Clock, systemClock } from "../runtime/clock.ts";
import type { CommitVerdict, ObjectVerdict } from "../sources/flux2/cluster_state.ts";
import type { Action, ReadStatus, State, StatusChange } from "../notifiers/notifier.ts";
import type { Outbox } from "../outbox/outbox.ts";
import { clusterKeys } from "../runtime/store_keys.ts";
import { errorText } from "../runtime/error_text.ts";

const log = getLogger(["flux-status", "cluster"]);

/** How long a commit's record is kept. */
const RECORD_TTL_MS = 30 * 24 * 3_600_000;

/** Store writes per atomic operation (Deno KV takes at most 1,000 mutations in one). */
const WRITES_PER_COMMIT = 200;

/** Objects named in a description before "…". */
const NAMED = 3;

const ACTIONS: Action[] = ["sync", "workload"];

/** An object's verdict at one commit, as remembered. */
interface Member {
  sync?: State;
  workload?: State;
  why: string;
  checked: boolean;
}

/** A commit's roll-up as last queued. */
interface CommitRecord {
  sync?: State;
  workload?: State;
  /** No object is at the commit any more. */
  closed: boolean;
}

interface OpenCommit {
  record: CommitRecord;
  members: Map<string, Member>;
}

/** Options of {@linkcode ClusterIntake}. */
export interface ClusterIntakeOptions {
  /** The open KV store. */
  kv: Deno.Kv;
  /** Takes the statuses. */
  outbox: Outbox;
  /** The instance's status names, `flux-status/<instance>/…`, to read them back. */
  statusName(action: Action, object?: string): string;
  /** Also one status pair per object, `…/<kind>/<namespace>/<name>/<action>`. */
  objectStatuses?: boolean;
  /** Reads the provider's statuses of a commit; absent: never read. */
  readStatuses?(sha: string): Promise<ReadStatus[]>;
  /** Whether every call to the provider is paused now (a rate limit, a refused token): no read. */
  providerPaused?(): boolean;
  /** Called with each roll-up state queued. */
  onRollup?(sha: string, action: Action, state: State): void;
  /** Time source. @default systemClock */
  clock?: Clock;
}

/** Turns the cluster's verdicts into the statuses of each commit. */
export class ClusterIntake {
  #options: ClusterIntakeOptions;
  #clock: Clock;
  #open = new Map<string, OpenCommit>();
  /** Every commit with a record, open or closed: the SHAs a short chart SHA may expand to. */
  #known = new Set<string>();
  #loaded = false;

  /** @param options the store, the outbox and how statuses are named */
  constructor(options: ClusterIntakeOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** The commits seen, newest records first: what a chart version's 12 hex may expand to. */
  get knownShas(): string[] {
    return [...this.#known];
  }

  /**
   * Compares the cluster's verdicts with what was queued, and queues what changed.
   *
   * @param verdicts every object of the repository and its verdict now
   * @returns the number of status changes queued
   * @throws {Error} when the store refuses a write (the next call tries again)
   */
  async reconcile(verdicts: ObjectVerdict[]): Promise<number> {
    await this.#load();
    const { kv, outbox } = this.#options;
    const at = new Map<string, string>();
    const suspended = new Map<string, string[]>();
    const memberWrites: [Deno.KvKey, Member | null][] = [];
    const objectChanges: StatusChange[] = [];
    const note = (sha: string, object: string, before: Member | undefined, after: Member) => {
      memberWrites.push([clusterKeys.member(sha, object), after]);
      if (!this.#options.objectStatuses) return;
      for (const action of ACTIONS) {
        const state = after[action];
        if (!state || state === before?.[action]) continue;
        if (action === "workload" && !after.checked) continue;
        objectChanges.push({
          sha,
          object,
          action,
          state,
          description: objectText(action, state, after.why),
        });
      }
    };

    for (const v of verdicts) {
      at.set(v.object, v.sha);
      if (v.suspended) {
        suspended.set(v.sha, [...suspended.get(v.sha) ?? [], v.object]);
        continue;
      }
      const commit = this.#open.get(v.sha) ?? await this.#reopen(v.sha);
      const before = commit.members.get(v.object);
      const after = merge(before, v);
      if (!sameMember(before, after)) {
        commit.members.set(v.object, after);
        note(v.sha, v.object, before, after);
      }
    }
    // What the objects' history says of earlier commits still open (a catch-up after a gap).
    for (const v of verdicts) {
      for (const past of v.past) {
        const commit = this.#open.get(past.sha);
        const before = commit?.members.get(v.object);
        if (!commit || (before && !isPendingMember(before))) continue;
        const after = merge(before, past, v.checked);
        if (!sameMember(before, after)) {
          commit.members.set(v.object, after);
          note(past.sha, v.object, before, after);
        }
      }
    }

    const rollups: StatusChange[] = [];
    const records: [string, CommitRecord][] = [];
    for (const [sha, commit] of this.#open) {
      let stillHere = 0;
      const movedTo = new Map<string, number>();
      for (const [object, member] of commit.members) {
        const now = at.get(object);
        if (now === sha) {
          stillHere++;
          continue;
        }
        const after: Member = {
          ...member,
          ...(member.sync === "pending" ? { sync: "canceled" as const } : {}),
          ...(member.workload === "pending" ? { workload: "canceled" as const } : {}),
          why: now ? `Superseded by ${now.slice(0, 7)}` : "Removed",
        };
        if (!now) {
          // Deleted, or no longer of this repository: it does not count for the commit any more.
          if (isPendingMember(member)) note(sha, object, member, after);
          commit.members.delete(object);
          memberWrites.push([clusterKeys.member(sha, object), null]);
          continue;
        }
        movedTo.set(now, (movedTo.get(now) ?? 0) + 1);
        if (!isPendingMember(member)) continue;
        commit.members.set(object, after);
        note(sha, object, member, after);
      }
      const counted = [...commit.members].filter(([o]) => !suspended.get(sha)?.includes(o));
      const newest = [...movedTo].sort((a, b) => b[1] - a[1])[0]?.[0];
      let changed = false;
      for (const action of ACTIONS) {
        const rollup = rollUp(action, counted, suspended.get(sha) ?? [], newest) ??
          // Every object left: what was still pending will never finish.
          (stillHere === 0
            ? { state: "canceled", description: "No object deploys it any more" } as const
            : undefined);
        if (!rollup || !moves(commit.record[action], rollup.state)) continue;
        commit.record[action] = rollup.state;
        rollups.push({ sha, action, ...rollup, isHead: stillHere > 0 });
        changed = true;
      }
      const closed = stillHere === 0;
      if (changed || closed) records.push([sha, { ...commit.record, closed }]);
      if (closed) {
        this.#open.delete(sha);
        for (const object of commit.members.keys()) {
          memberWrites.push([clusterKeys.member(sha, object), null]);
        }
      }
    }

    try {
      // Statuses of objects first, then what was decided, then the roll-up: a failure part way
      // leaves the store behind the statuses, never ahead of them.
      for (let i = 0; i < objectChanges.length; i += WRITES_PER_COMMIT) {
        await mustCommit(
          outbox.commit(kv.atomic(), objectChanges.slice(i, i + WRITES_PER_COMMIT)),
          "the objects' statuses",
        );
      }
      for (let i = 0; i < memberWrites.length; i += WRITES_PER_COMMIT) {
        const op = kv.atomic();
        for (const [key, value] of memberWrites.slice(i, i + WRITES_PER_COMMIT)) {
          if (value) op.set(key, value, { expireIn: RECORD_TTL_MS });
          else op.delete(key);
        }
        await mustCommit(op.commit(), "the objects' verdicts");
      }
      const op = kv.atomic();
      for (const [sha, record] of records) {
        op.set(clusterKeys.commit(sha), record, { expireIn: RECORD_TTL_MS });
      }
      await mustCommit(outbox.commit(op, rollups), "the commits' roll-up");
    } catch (err) {
      // What is in memory ran ahead of the store: the next call starts again from the store.
      this.#open.clear();
      this.#loaded = false;
      throw err;
    }
    for (const r of rollups) {
      this.#options.onRollup?.(r.sha, r.action, r.state);
      log.info("{sha} {action}: {state}, {description}", {
        sha: r.sha.slice(0, 7),
        action: r.action,
        state: r.state,
        description: r.description,
      });
    }
    return rollups.length + objectChanges.length;
  }

  /** Loads the open commits and their members, once. */
  async #load(): Promise<void> {
    if (this.#loaded) return;
    const { kv } = this.#options;
    for await (const { key, value } of kv.list<CommitRecord>({ prefix: clusterKeys.commits })) {
      const sha = key[2] as string;
      this.#known.add(sha);
      if (value.closed) continue;
      const members = new Map<string, Member>();
      for await (const m of kv.list<Member>({ prefix: clusterKeys.members(sha) })) {
        members.set(m.key[3] as string, m.value);
      }
      this.#open.set(sha, { record: value, members });
    }
    this.#loaded = true;
  }

  /** A commit not open now: its closed record, else what the provider already shows of it. */
  async #reopen(sha: string): Promise<OpenCommit> {
    const stored = await this.#options.kv.get<CommitRecord>(clusterKeys.commit(sha));
    const record: CommitRecord = stored.value
      ? { ...stored.value, closed: false }
      : { closed: false, ...await this.#atProvider(sha) };
    const commit = { record, members: new Map<string, Member>() };
    this.#open.set(sha, commit);
    this.#known.add(sha);
    return commit;
  }

  /** The roll-up states the provider already has for a commit new to the store. */
  async #atProvider(sha: string): Promise<Partial<Record<Action, State>>> {
    const read = this.#options.readStatuses;
    if (!read || this.#options.providerPaused?.()) return {};
    try {
      const statuses = await read(sha);
      const out: Partial<Record<Action, State>> = {};
      for (const action of ACTIONS) {
        const found = statuses.find((s) => s.name === this.#options.statusName(action));
        if (found) out[action] = found.state;
      }
      return out;
    } catch (err) {
      log.debug("Cannot read {sha}'s statuses back ({error}); its roll-up is sent as computed", {
        sha: sha.slice(0, 7),
        error: errorText(err),
      });
      return {};
    }
  }
}

/** An object's verdict at a commit after `verdict`, keeping what may not be reopened. */
function merge(
  before: Member | undefined,
  verdict: CommitVerdict & { checked?: boolean },
  checked?: boolean,
): Member {
  const out: Member = {
    why: verdict.why,
    checked: verdict.checked ?? checked ?? before?.checked ?? true,
  };
  for (const action of ACTIONS) {
    const state = settle(before?.[action], verdict[action]);
    if (state) out[action] = state;
  }
  if (before && ACTIONS.every((a) => out[a] === before[a])) out.why = before.why;
  return out;
}

/** A member's state after a new reading: succeeded stays, failed never goes back to pending. */
function settle(before: State | undefined, now: State | undefined): State | undefined {
  if (!now) return before;
  if (!before || before === "pending") return now;
  if (before === "succeeded") return before;
  return now === "succeeded" ? now : before;
}

/** Whether a roll-up may move from what was queued to `next`. */
function moves(queued: State | undefined, next: State): boolean {
  if (queued === next) return false;
  if (queued === "succeeded" || queued === "canceled") return false;
  return !(queued === "failed" && next === "pending");
}

function isPendingMember(m: Member): boolean {
  return m.sync === "pending" || m.workload === "pending";
}

function sameMember(a: Member | undefined, b: Member): boolean {
  return a !== undefined && a.sync === b.sync && a.workload === b.workload && a.why === b.why &&
    a.checked === b.checked;
}

/** A member's part in an action's roll-up; an object that checks no health follows its sync. */
function partIn(action: Action, m: Member): State | undefined {
  if (action === "sync") return m.sync;
  if (m.sync === "failed") return "failed";
  return m.checked ? m.workload : m.sync;
}

/** The roll-up of one action over a commit's members, and its description. */
function rollUp(
  action: Action,
  members: [string, Member][],
  suspended: string[],
  newest: string | undefined,
): { state: State; description: string } | undefined {
  const parts = members.flatMap(([object, m]) => {
    const state = partIn(action, m);
    return state ? [{ object, state, why: m.why }] : [];
  });
  if (parts.length === 0) return undefined;
  const of = (s: State) => parts.filter((p) => p.state === s);
  const word = action === "sync" ? "Applied" : "Ready";
  const total = parts.length;
  const done = of("succeeded").length;
  const tail = suspended.length > 0 ? `; suspended: ${names(suspended)}` : "";
  if (of("failed").length > 0) {
    const failed = of("failed");
    const list = names(failed.map((p) => `${p.object} (${p.why})`));
    return { state: "failed", description: `Failed at ${failed.length}/${total}: ${list}${tail}` };
  }
  if (of("pending").length > 0) {
    const waiting = names(of("pending").map((p) => p.object));
    return {
      state: "pending",
      description: `${word} at ${done}/${total} objects; waiting: ${waiting}${tail}`,
    };
  }
  if (of("canceled").length > 0) {
    const by = newest ? `Superseded by ${newest.slice(0, 7)}` : "Superseded";
    return { state: "canceled", description: `${by}; ${word} at ${done}/${total} objects${tail}` };
  }
  return { state: "succeeded", description: `${word} at ${done}/${total} objects${tail}` };
}

function names(list: string[]): string {
  const shown = list.slice(0, NAMED).join(", ");
  return list.length > NAMED ? `${shown}, … (+${list.length - NAMED})` : shown;
}

/** A per-object status's description. */
function objectText(action: Action, state: State, why: string): string {
  if (state === "succeeded") return action === "sync" ? "Applied" : "Healthy";
  if (state === "pending") {
    return why === "DependencyNotReady" ? "Waiting for dependencies" : "Waiting";
  }
  return why;
}

async function mustCommit(
  landed: Promise<boolean | Deno.KvCommitResult | Deno.KvCommitError>,
  what: string,
) {
  const result = await landed;
  if (result === false || (typeof result === "object" && !result.ok)) {
    throw new Error(`Cannot store ${what}: the KV commit did not land`);
  }
}
