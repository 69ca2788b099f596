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

/** The wall clock, with timers that are cleared when the signal aborts. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep(ms, signal) {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, Math.max(0, ms));
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  },
};

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
