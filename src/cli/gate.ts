/**
 * `status` as a CI gate: read a commit's statuses, optionally wait with backoff until they are
 * terminal, and turn the outcome into an exit code a pipeline can branch on.
 *
 * @module
 */
import { type Clock, systemClock } from "../runtime/clock.ts";
import { isTerminal, ProviderError, type ReadStatus, type State } from "../notifiers/notifier.ts";

/** Exit codes of `flux-status status`; README.md and `--help` document them. */
export const EXIT_CODES = {
  /** Every status succeeded (or, without --wait: the status was found). */
  succeeded: 0,
  /** A status failed (or, without --wait: no such status yet). */
  failed: 1,
  /** Bad flag, missing token or unusable configuration. */
  usage: 2,
  /** A status was canceled (superseded by a newer sync). */
  canceled: 3,
  /** The provider refused (token, permissions) or could not be read. */
  provider: 4,
  /** --timeout passed with a status still pending or absent (as timeout(1) does). */
  timedOut: 124,
} as const;

/**
 * The exit code for a set of final reads: failed beats canceled beats still pending/absent.
 *
 * @example
 * ```ts
 * exitCodeFor(["succeeded", "canceled"]); // 3
 * ```
 */
export function exitCodeFor(states: readonly (State | undefined)[]): number {
  if (states.includes("failed")) return EXIT_CODES.failed;
  if (states.includes("canceled")) return EXIT_CODES.canceled;
  if (states.some((s) => s === undefined || s === "pending")) return EXIT_CODES.timedOut;
  return EXIT_CODES.succeeded;
}

/** Options of {@linkcode waitForStatuses}. */
export interface WaitOptions {
  /** Reads one status by name; undefined when absent. */
  read(name: string, signal?: AbortSignal): Promise<ReadStatus | undefined>;
  /**
   * Status names to wait for, or how to find them (`--action all` lists the commit's statuses:
   * a failure of that read is waited out like any other).
   */
  names: readonly string[] | ((signal: AbortSignal) => Promise<string[]>);
  /** Give up after this long, in ms: a hard deadline that also ends a read in flight. */
  timeoutMs: number;
  /** First wait between reads, in ms; grows by half each read up to `maxIntervalMs`. */
  intervalMs: number;
  /** Longest wait between reads. @default 60000 */
  maxIntervalMs?: number;
  /** Time source. @default systemClock */
  clock?: Clock;
  /** Called whenever a status is first seen or changes state. */
  onChange?(name: string, status: ReadStatus | undefined, elapsedMs: number): void;
  /** Called before each wait with how long it will be, for progress display. */
  onWait?(ms: number, elapsedMs: number): Promise<void> | void;
  /** Stops waiting. */
  signal?: AbortSignal;
}

/** What waiting ended with. */
export interface WaitResult {
  /** The names waited for (none when the deadline passed before they could be listed). */
  names: string[];
  /** The last read of each name (undefined: absent). */
  statuses: Map<string, ReadStatus | undefined>;
  /** Whether the timeout passed before every status was terminal. */
  timedOut: boolean;
}

/**
 * Reads the statuses until every one is terminal or `timeoutMs` passes. Transient provider errors
 * (5xx, network) and rate limits (primary or secondary, 403 or 429) are waited out, never sooner
 * than the provider's Retry-After or reset; only token and permission refusals and requests the
 * provider rejects for good end the wait (the error's `kind` decides, src/notifiers/notifier.ts).
 * The timeout is a deadline: a read still in flight when it passes (a provider that accepted the
 * connection and never answers) is called off.
 *
 * @throws {ProviderError} when the provider refuses for good or for the token
 */
export async function waitForStatuses(options: WaitOptions): Promise<WaitResult> {
  const { read, timeoutMs, intervalMs, maxIntervalMs = 60_000, clock = systemClock } = options;
  const start = clock.now();
  const statuses = new Map<string, ReadStatus | undefined>();
  const seen = new Set<string>();
  let names = typeof options.names === "function" ? undefined : [...options.names];
  let interval = intervalMs;
  const timedOut = () => ({ names: names ?? [], statuses, timedOut: true });

  /** One round of reads, called off when the deadline passes during it. */
  const readAll = async (signal: AbortSignal) => {
    names ??= await (options.names as (signal: AbortSignal) => Promise<string[]>)(signal);
    for (const name of names) {
      const before = statuses.get(name);
      if (before && isTerminal(before.state)) continue;
      const now = await read(name, signal);
      statuses.set(name, now);
      if (!seen.has(name) || now?.state !== before?.state) {
        seen.add(name);
        options.onChange?.(name, now, clock.now() - start);
      }
    }
  };

  for (;;) {
    let wait = interval;
    const deadline = new AbortController(), roundDone = new AbortController();
    clock.sleep(Math.max(0, start + timeoutMs - clock.now()), roundDone.signal).then(
      () => deadline.abort(new Error("the --timeout deadline passed")),
      () => {},
    );
    try {
      await readAll(
        options.signal ? AbortSignal.any([options.signal, deadline.signal]) : deadline.signal,
      );
      interval = Math.min(maxIntervalMs, Math.round(interval * 1.5));
    } catch (err) {
      if (deadline.signal.aborted) return timedOut();
      const waitable = err instanceof ProviderError &&
        (err.kind === "transient" || err.kind === "rateLimited");
      if (!waitable) throw err;
      wait = Math.max(interval, err.retryAfterMs ?? 0);
    } finally {
      roundDone.abort();
    }
    const settled = (n: string) => {
      const s = statuses.get(n);
      return s !== undefined && isTerminal(s.state);
    };
    if (names?.every(settled)) return { names, statuses, timedOut: false };
    const left = start + timeoutMs - clock.now();
    if (left <= 0) return timedOut();
    wait = Math.min(wait, left);
    await options.onWait?.(wait, clock.now() - start);
    await clock.sleep(wait, options.signal);
  }
}
