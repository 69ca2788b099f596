/**
 * The provider pause: a rate limit, a refused token or a provider that does not answer at all is the
 * provider's condition, not one status's. When a call meets one, every call to that provider stops
 * until the reset (rate limit), for `authRetryMs` (token) or for a growing backoff (no answer),
 * durably: the pause is kept in Deno KV, so a daemon restarted inside the
 * window does not resume calling. When the window ends, one call goes out as a probe; the pause
 * is lifted once a call is answered with anything but another limit or refusal.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Clock } from "../runtime/clock.ts";
import type { ProviderError } from "../notifiers/notifier.ts";
import { pauseKey } from "../runtime/store_keys.ts";

const log = getLogger(["flux-status", "pause"]);

/** A pause as stored. */
export interface PauseRecord {
  /** No call before this time (epoch ms). */
  until: number;
  /** Why: the provider's rate limit, a refused token, or no answer at all. */
  kind: "rateLimited" | "auth" | "unreachable";
  /** The provider's answer, for logs and readiness. */
  reason: string;
}

/** The pause of one provider's calls, kept in KV. */
export class ProviderPause {
  #kv: Deno.Kv;
  #key: Deno.KvKey;
  #clock: Clock;
  #record: PauseRecord | undefined;
  #loading: Promise<void> | undefined;

  /**
   * @param kv the open store
   * @param provider provider name, part of the key
   * @param clock time source
   */
  constructor(kv: Deno.Kv, provider: string, clock: Clock) {
    this.#kv = kv;
    this.#key = pauseKey(provider);
    this.#clock = clock;
  }

  /**
   * Reads a pause a previous run left, before the first call to the provider; the outbox and
   * the start-up check both wait for it, and the store is read once (again only after a failure).
   */
  load(): Promise<void> {
    this.#loading ??= this.#read().catch((err) => {
      this.#loading = undefined;
      throw err;
    });
    return this.#loading;
  }

  async #read(): Promise<void> {
    this.#record = (await this.#kv.get<PauseRecord>(this.#key)).value ?? undefined;
    if (this.#record && this.remainingMs() > 0) {
      log.warn("Provider calls stay paused for {waitMs} ms after a restart: {reason}", {
        waitMs: this.remainingMs(),
        reason: this.#record.reason,
      });
    }
  }

  /** The pause in force or waiting for its probe, if any. */
  get current(): PauseRecord | undefined {
    return this.#record;
  }

  /** Milliseconds until calls may go out again; 0 when they may now. */
  remainingMs(): number {
    return this.#record ? Math.max(0, this.#record.until - this.#clock.now()) : 0;
  }

  /** Whether the window has passed but no call has succeeded since: allow one probe at a time. */
  get isProbing(): boolean {
    return this.#record !== undefined && this.remainingMs() === 0;
  }

  /**
   * Pauses every call for `waitMs` after `err`: a rate limit, a refused token, or no answer.
   *
   * @param err the failure
   * @param waitMs how long
   * @returns the wait, in ms (longer when a pause already in force ends later)
   */
  async pause(err: ProviderError, waitMs: number): Promise<number> {
    const until = Math.max(this.#clock.now() + waitMs, this.#record?.until ?? 0);
    this.#record = {
      until,
      kind: err.kind === "rateLimited"
        ? "rateLimited"
        : err.kind === "auth"
        ? "auth"
        : "unreachable",
      reason: err.message,
    };
    log.warn("Pausing every call to {provider} for {waitMs} ms: {reason}", {
      provider: err.provider,
      waitMs: until - this.#clock.now(),
      reason: err.message,
    });
    await this.#kv.set(this.#key, this.#record);
    return until - this.#clock.now();
  }

  /**
   * Ends the pause's window now, so that one probe goes out at once (a token was replaced); the
   * pause lifts when the probe is answered normally.
   */
  async endNow(): Promise<void> {
    if (!this.#record || this.remainingMs() === 0) return;
    this.#record = { ...this.#record, until: this.#clock.now() };
    await this.#kv.set(this.#key, this.#record);
  }

  /** Lifts the pause after a call the provider answered normally. */
  async lift(): Promise<void> {
    if (!this.#record) return;
    this.#record = undefined;
    log.info("Provider calls resumed");
    await this.#kv.delete(this.#key);
  }
}
