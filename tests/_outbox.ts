/**
 * An outbox on a real KV file, driven by a manual clock, with a log of what became of each
 * delivery attempt; the notifier is the real GitLab one pointed at the GitLab fake (it paces
 * nothing, so many deliveries run fast).
 *
 * @module
 */
import { parseGitUrl } from "../src/notifiers/git_url.ts";
import { createGitLabNotifier } from "../src/notifiers/gitlab.ts";
import type { Notifier, StatusChange } from "../src/notifiers/notifier.ts";
import {
  Outbox,
  type OutboxEntry,
  type OutboxOptions,
  type Settled,
} from "../src/outbox/outbox.ts";
import { outboxKeys } from "../src/runtime/store_keys.ts";
import { ManualClock } from "../dev/fakes/clock.ts";
import type { FakeGitLab } from "../dev/fakes/gitlab.ts";

/** A 40-hex SHA from a number. */
export const shaOf = (i: number): string => i.toString(16).padStart(40, "0");

/** A sync status change. */
export const syncChange = (sha: string, state: StatusChange["state"] = "succeeded") => ({
  sha,
  action: "sync" as const,
  state,
  description: `${state} ${sha.slice(0, 7)}`,
});

/** The GitLab notifier for the fake's acme/app project. */
export function gitLabNotifier(gl: FakeGitLab, token = "test-token"): Notifier {
  return createGitLabNotifier({
    remote: parseGitUrl("https://gitlab.com/acme/app"),
    token,
    apiUrl: gl.url,
  });
}

/**
 * Queues status changes the way an event does: the outbox's commit, with an atomic operation of
 * its own on `kv` (the outbox's store).
 */
export async function enqueue(outbox: Outbox, kv: Deno.Kv, changes: StatusChange[]): Promise<void> {
  if (changes.length === 0) return;
  if (!(await outbox.commit(kv.atomic(), changes))) {
    throw new Error("Cannot enqueue status changes as the KV commit was refused");
  }
}

/** Every entry waiting in the store's outbox. */
export async function pending(kv: Deno.Kv): Promise<OutboxEntry[]> {
  return (await Array.fromAsync(kv.list<OutboxEntry>({ prefix: outboxKeys.entries })))
    .map((e) => e.value);
}

/** A running outbox and what tests observe of it. */
export interface OutboxRun extends AsyncDisposable {
  outbox: Outbox;
  /** {@linkcode enqueue} on this outbox. */
  enqueue(changes: StatusChange[]): Promise<void>;
  /** {@linkcode pending} of this outbox's store. */
  pending(): Promise<OutboxEntry[]>;
  settled: Settled[];
  /** Resolves once `n` attempts in all have settled. */
  settledCount(n: number): Promise<void>;
  /** Stops the loop (the store stays open). */
  stop(): Promise<void>;
}

/** Runs an outbox on `kv` until disposed. */
export function runOutbox(
  kv: Deno.Kv,
  clock: ManualClock,
  notifier: Notifier,
  options: Partial<OutboxOptions> = {},
): OutboxRun {
  const settled: Settled[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const outbox = new Outbox({
    kv,
    notifier,
    instance: "dev",
    clock,
    random: () => 0,
    ...options,
    onSettled(s) {
      settled.push(s);
      for (const w of [...waiters]) {
        if (settled.length >= w.n) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    },
  });
  const controller = new AbortController();
  const running = outbox.run(controller.signal);
  const stop = async () => {
    controller.abort();
    await running;
  };
  return {
    outbox,
    enqueue: (changes) => enqueue(outbox, kv, changes),
    pending: () => pending(kv),
    settled,
    settledCount: (n) =>
      settled.length >= n
        ? Promise.resolve()
        : new Promise<void>((resolve) => waiters.push({ n, resolve })),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * `real` with every atomic commit refused while `refuse()` says so, as a full disk would;
 * `onRefused` is called after each refusal is counted.
 */
export function refusingCommits(
  real: Deno.Kv,
  refuse: () => boolean,
  message: string,
  onRefused: () => void = () => {},
): Deno.Kv {
  return new Proxy(real, {
    get(target, prop) {
      if (prop === "atomic") {
        return () => {
          const op = target.atomic();
          const commit = op.commit.bind(op);
          op.commit = () => {
            if (!refuse()) return commit();
            onRefused();
            return Promise.reject(new Error(message));
          };
          return op;
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
