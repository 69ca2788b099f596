/**
 * Event intake: an accepted sync becomes one atomic KV commit holding its sync statuses, the
 * rollout watch it starts (and the watches it supersedes) and their workload statuses, before
 * fluxd gets its 2xx. Then the outbox and the watcher are woken. A commit that loses a race with
 * another writer (a verdict landing at the same time) is planned again from fresh reads.
 *
 * @module
 */
import { syncChanges, type SyncOutcome } from "../sources/flux/events.ts";
import type { StatusChange } from "../notifiers/notifier.ts";
import type { Outbox } from "../outbox/outbox.ts";
import type { Watcher } from "./watcher.ts";

/** How often an event's commit is planned again after losing a write race. */
const ATTEMPTS = 5;

/** Options of {@linkcode createIntake}. */
export interface IntakeOptions {
  /** The open KV store. */
  kv: Deno.Kv;
  /** Takes the statuses. */
  outbox: Outbox;
  /** Takes the rollout watch; absent when workloads are not followed. */
  watcher?: Watcher;
}

/** Stores a sync outcome durably; resolves with the number of status changes stored. */
export type Accept = (outcome: SyncOutcome) => Promise<number>;

/**
 * Creates the intake of sync outcomes.
 *
 * @example
 * ```ts
 * const accept = createIntake({ kv, outbox, watcher });
 * await accept(parsed.outcome); // durable once this resolves
 * ```
 */
export function createIntake({ kv, outbox, watcher }: IntakeOptions): Accept {
  return async (outcome) => {
    const changes = await commitPlanned(
      kv,
      outbox,
      async (op) => [...syncChanges(outcome), ...(await watcher?.plan(outcome, op) ?? [])],
      `the sync of ${outcome.head.slice(0, 7)}`,
    );
    watcher?.wake();
    return changes.length;
  };
}

/**
 * Plans an event's writes from fresh reads (`plan` adds its writes and checks to `op` and returns
 * the status changes), commits them with the changes through the outbox, and plans again when a
 * check lost a write race.
 *
 * @param what the event, for the error
 * @returns the status changes committed
 * @throws {Error} when the commit kept conflicting (the server answers 503 with Retry-After)
 */
export async function commitPlanned(
  kv: Deno.Kv,
  outbox: Outbox,
  plan: (op: Deno.AtomicOperation) => Promise<StatusChange[]>,
  what: string,
): Promise<StatusChange[]> {
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const op = kv.atomic();
    const changes = await plan(op);
    if (await outbox.commit(op, changes)) return changes;
  }
  throw new Error(`Cannot store ${what} as its KV commit kept conflicting`);
}
