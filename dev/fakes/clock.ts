/**
 * A hand-driven {@linkcode Clock}: time moves only when a test calls `advance`, and sleeps resolve
 * then, in order.
 *
 * @module
 */
import type { Clock } from "../../src/runtime/clock.ts";

interface Sleeper {
  at: number;
  resolve: () => void;
}

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  #now: number;
  #sleepers = new Set<Sleeper>();
  #listeners = new Set<() => void>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  /** How many sleeps were cut short by their signal, ever (each wake of a background loop). */
  interrupted = 0;

  /** How many sleeps are waiting. */
  get sleeping(): number {
    return this.#sleepers.size;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      if (ms <= 0) return resolve();
      const sleeper: Sleeper = {
        at: this.#now + Math.max(0, ms),
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.interrupted++;
        this.#sleepers.delete(sleeper);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#sleepers.add(sleeper);
      for (const l of [...this.#listeners]) l();
    });
  }

  /** Resolves once some sleep is waiting (with `dueBy`: one that ends by that time). */
  whenSleeping(dueBy = Infinity): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if ([...this.#sleepers].some((s) => s.at <= dueBy)) {
          this.#listeners.delete(check);
          resolve();
        }
      };
      this.#listeners.add(check);
      check();
    });
  }

  /** Moves time forward by `ms`, waking every sleep due by then. */
  advance(ms: number): void {
    this.#now += ms;
    for (const s of [...this.#sleepers].sort((a, b) => a.at - b.at)) {
      if (s.at <= this.#now) {
        this.#sleepers.delete(s);
        s.resolve();
      }
    }
  }
}
