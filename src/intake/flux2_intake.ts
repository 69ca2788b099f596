/**
 * Flux v2 intake: an event from notification-controller becomes one atomic KV commit of its
 * object's status changes (through the outbox) and what is remembered to judge the next events,
 * before nc gets its 2xx. nc delivers best-effort, in no order, with duplicates
 * (docs/flux2-events.md §6), so:
 *
 * - **Order by meaning.** Each (commit, object, action) remembers the time of the event that set
 *   it. An older event changes nothing; at the same second a final state beats a pending one; a
 *   newer one always applies (a controller's retry after a failure reopens the status).
 * - **Dedupe.** A repeated event is older-or-equal and changes nothing; an identical status is
 *   never sent twice (the outbox).
 * - **A new revision supersedes.** When an object moves to a newer commit, the older commit's
 *   statuses of that object still pending become canceled, "Superseded by <sha>".
 * - **Pending has a deadline.** An event that was never delivered leaves a status pending for
 *   good, so a pending status not settled within `pendingTimeoutMs` becomes failed, "No verdict
 *   from Flux within …".
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { Alarm, type Clock, IDLE_SLEEP_MS, systemClock } from "../runtime/clock.ts";
import { formatDuration } from "../runtime/duration.ts";
import type { Flux2Outcome } from "../sources/flux2/events.ts";
import type { Action, State, StatusChange } from "../notifiers/notifier.ts";
import type { Outbox } from "../outbox/outbox.ts";
import { commitPlanned } from "./intake.ts";
import { flux2Keys } from "../runtime/store_keys.ts";
import { errorText } from "../runtime/error_text.ts";

const log = getLogger(["flux-status", "flux2"]);

/** How long what was decided per status is kept. */
const RECORD_TTL_MS = 30 * 24 * 3_600_000;

/** What was last decided for one status, and from which event time. */
interface StatusRecord {
  state: State;
  at: number;
}

/** The commit an object was last seen at. */
interface ObjectRecord {
  sha: string;
  at: number;
}

const { status: statusKey, object: objectKey, deadline: deadlineKey } = flux2Keys;

/** Options of {@linkcode Flux2Intake}. */
export interface Flux2IntakeOptions {
  /** The open KV store. */
  kv: Deno.Kv;
  /** Takes the statuses. */
  outbox: Outbox;
  /** A pending status with no verdict after this long becomes failed, in ms. */
  pendingTimeoutMs: number;
  /** Time source. @default systemClock */
  clock?: Clock;
}

/** Takes Flux v2 outcomes and times out pending statuses no event settled. */
export class Flux2Intake {
  #options: Required<Flux2IntakeOptions>;
  #alarm = new Alarm();

  constructor(options: Flux2IntakeOptions) {
    if (!(options.pendingTimeoutMs > 0)) {
      throw new RangeError(
        `Cannot take Flux v2 events as 'pendingTimeoutMs' must be more than 0: current value is ${options.pendingTimeoutMs}`,
      );
    }
    this.#options = { clock: systemClock, ...options };
  }

  /**
   * Stores what an event means for its commit; resolves with the number of status changes.
   *
   * @param outcome an outcome with a commit
   * @throws {Error} when the commit kept conflicting
   */
  async accept(outcome: Flux2Outcome & { sha: string }): Promise<number> {
    const { kv, outbox, clock, pendingTimeoutMs } = this.#options;
    const { sha, object, at } = outcome;
    const changes = await commitPlanned(kv, outbox, async (op) => {
      const actions = outcome.states.map((s) => s.action);
      const read = await kv.getMany<(StatusRecord | ObjectRecord)[]>([
        objectKey(object),
        ...actions.map((a) => statusKey(sha, object, a)),
      ]);
      op.check(...read);
      const changes: StatusChange[] = [];
      const base = { sha, object, isHead: true };
      outcome.states.forEach(({ action, state, description }, i) => {
        const last = read[i + 1]!.value as StatusRecord | null;
        const applies = !last || at > last.at ||
          (at === last.at && last.state === "pending" && state !== "pending");
        if (!applies) return;
        op.set(statusKey(sha, object, action), { state, at }, { expireIn: RECORD_TTL_MS });
        if (state === "pending") {
          op.set(deadlineKey(clock.now() + pendingTimeoutMs, sha, object, action), at);
        }
        changes.push({ ...base, action, state, description });
      });
      const seen = read[0]!.value as ObjectRecord | null;
      if (!seen || at >= seen.at) {
        op.set(objectKey(object), { sha, at }, { expireIn: RECORD_TTL_MS });
        if (seen && seen.sha !== sha) changes.push(...await this.#supersede(op, seen, outcome));
      }
      return changes;
    }, `the Flux v2 event of ${object}`);
    if (changes.some((c) => c.state === "pending")) this.#alarm.wake();
    return changes.length;
  }

  /** Cancels what an object's older commit still had pending. */
  async #supersede(
    op: Deno.AtomicOperation,
    older: ObjectRecord,
    newer: Flux2Outcome & { sha: string },
  ): Promise<StatusChange[]> {
    const actions: Action[] = ["sync", "workload"];
    const read = await this.#options.kv.getMany<StatusRecord[]>(
      actions.map((a) => statusKey(older.sha, newer.object, a)),
    );
    op.check(...read);
    const changes: StatusChange[] = [];
    read.forEach((r, i) => {
      if (r.value?.state !== "pending") return;
      op.set(r.key, { state: "canceled", at: newer.at }, { expireIn: RECORD_TTL_MS });
      changes.push({
        sha: older.sha,
        object: newer.object,
        action: actions[i]!,
        state: "canceled",
        description: `Superseded by ${newer.sha.slice(0, 7)}`,
      });
    });
    return changes;
  }

  /** Times out pending statuses until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let next = Infinity;
      try {
        next = await this.#expire();
      } catch (err) {
        log.error("Cannot time out pending Flux v2 statuses: {error}", {
          error: errorText(err),
        });
        next = this.#options.clock.now() + 5_000;
      }
      const wait = next === Infinity ? IDLE_SLEEP_MS : next - this.#options.clock.now();
      await this.#alarm.sleep(this.#options.clock, wait, signal);
    }
  }

  /** Fails the pending statuses whose deadline passed; returns the next deadline. */
  async #expire(): Promise<number> {
    const { kv, outbox, clock, pendingTimeoutMs } = this.#options;
    const now = clock.now();
    const due = kv.list<number>({
      prefix: flux2Keys.deadlines,
      end: [...flux2Keys.deadlines, now + 1],
    });
    for await (const { key, value: at } of due) {
      const [, , , sha, object, action] = key as [string, string, number, string, string, Action];
      const current = await kv.get<StatusRecord>(statusKey(sha, object, action));
      const op = kv.atomic().check(current).delete(key);
      const changes: StatusChange[] = [];
      if (current.value?.state === "pending" && current.value.at === at) {
        op.set(current.key, { state: "failed", at }, { expireIn: RECORD_TTL_MS });
        const description = `No verdict from Flux within ${formatDuration(pendingTimeoutMs)}`;
        changes.push({ sha, object, action, state: "failed", description, isHead: true });
        log.warn("{object} {action} on {sha}: {description}", {
          object,
          action,
          sha: sha.slice(0, 7),
          description,
        });
      }
      await outbox.commit(op, changes);
    }
    for await (const { key } of kv.list({ prefix: flux2Keys.deadlines }, { limit: 1 })) {
      return key[2] as number;
    }
    return Infinity;
  }
}
