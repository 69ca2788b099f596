/**
 * Time, injected: production code asks a {@linkcode Clock} for the time and for sleeps so that
 * tests can drive time by hand instead of sleeping.
 *
 * @module
 */

/** A source of time and of cancellable sleeps. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /**
   * Resolves after `ms` milliseconds, or rejects with the signal's reason once it aborts.
   *
   * @param ms how long to wait
   * @param signal aborts the wait
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The timer functions a clock sleeps with (the global ones, or a test's). */
export interface Timers {
  setTimeout(callback: () => void, ms: number): ReturnType<typeof setTimeout>;
  clearTimeout(id: ReturnType<typeof setTimeout> | undefined): void;
}

/**
 * The longest single timer: Deno's timers are 32-bit, and a longer one fires at once (with a
 * `TimeoutOverflowWarning` printed to stderr).
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A wall clock whose sleeps are timers cleared when the signal aborts; a sleep longer than
 * {@linkcode MAX_TIMER_MS} is taken in turns of at most that.
 *
 * @param timers where the timers come from
 */
export function wallClock(timers: Timers = globalThis): Clock {
  return {
    now: () => Date.now(),
    sleep(ms, signal) {
      return new Promise((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        let left = Math.max(0, ms);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const onAbort = () => {
          timers.clearTimeout(timer);
          reject(signal?.reason);
        };
        const arm = () => {
          const turn = Math.min(left, MAX_TIMER_MS);
          left -= turn;
          timer = timers.setTimeout(() => {
            if (left > 0) return arm();
            signal?.removeEventListener("abort", onAbort);
            resolve();
          }, turn);
        };
        arm();
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    },
  };
}

/** The wall clock, with timers that are cleared when the signal aborts. */
export const systemClock: Clock = wallClock();

/**
 * Waits until `signal` aborts or `ms` passes, without throwing: returns true if it aborted.
 *
 * @param clock the clock to sleep on
 * @param ms how long to wait
 * @param signal ends the wait early
 * @returns whether the wait ended because the signal aborted
 */
export async function sleepUnlessAborted(
  clock: Clock,
  ms: number,
  signal: AbortSignal,
): Promise<boolean> {
  try {
    await clock.sleep(ms, signal);
    return false;
  } catch (err) {
    if (signal.aborted) return true;
    throw err;
  }
}

const WOKEN = "woken";

/** How long a background loop with nothing due sleeps; new work wakes it sooner. */
export const IDLE_SLEEP_MS = 3_600_000;

/**
 * The sleep of a background loop that other parts can cut short: `wake()` ends the current sleep,
 * and a wake that comes while the loop is busy is kept, so the next sleep returns at once.
 */
export class Alarm {
  #controller = new AbortController();

  /** Ends the current or next sleep. */
  wake(): void {
    // A reason of our own: the default one is a DOMException with a stack, built on every wake.
    if (!this.#controller.signal.aborted) this.#controller.abort(WOKEN);
  }

  /**
   * Sleeps up to `ms` (not at all when 0 or less, or when a wake is pending), or until `signal`
   * aborts; never throws.
   *
   * @param clock the clock to sleep on
   * @param ms how long at most
   * @param signal ends the sleep (the loop's stop)
   */
  async sleep(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
    const wake = this.#controller;
    if (!wake.signal.aborted && ms > 0) {
      await sleepUnlessAborted(clock, ms, AbortSignal.any([signal, wake.signal]));
    }
    if (wake.signal.aborted) this.#controller = new AbortController();
  }
}
