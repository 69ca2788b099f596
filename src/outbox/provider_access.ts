/**
 * Whether the provider takes the token and shows the repository: the start-up self-check
 * (`checkAccess`, src/notifiers/access_check.ts), made once at start and again every
 * `retryMs` until it passes or a delivery lands. A refused token or an unreadable repository (a
 * wrong `--api-url`) pauses every call, durably, like a delivery meeting the same would; a rate
 * limit the check meets pauses them all too. The finding is what `/readyz` says of the provider.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { type Access, checkAccess } from "../notifiers/access_check.ts";
import type { Notifier } from "../notifiers/notifier.ts";
import { type Clock, sleepUnlessAborted, systemClock } from "../runtime/clock.ts";
import type { ProviderPause } from "./pause.ts";
import { AUTH_RETRY_MS } from "./outbox.ts";

const log = getLogger(["flux-status", "access"]);

/** Options of {@linkcode ProviderAccess}. */
export interface ProviderAccessOptions {
  notifier: Notifier;
  /** The outbox's provider pause. */
  pause: ProviderPause;
  /** Time source. @default systemClock */
  clock?: Clock;
  /** Between failed checks, and the pause after a refusal, in ms. @default AUTH_RETRY_MS */
  retryMs?: number;
}

/** The provider's access, as the self-check and the deliveries found it. */
export class ProviderAccess {
  #notifier: Notifier;
  #pause: ProviderPause;
  #clock: Clock;
  #retryMs: number;
  #found: Access | undefined;

  constructor(options: ProviderAccessOptions) {
    this.#notifier = options.notifier;
    this.#pause = options.pause;
    this.#clock = options.clock ?? systemClock;
    this.#retryMs = options.retryMs ?? AUTH_RETRY_MS;
  }

  /** What is known; undefined while the first check runs. */
  get current(): Access | undefined {
    return this.#found;
  }

  /** A status was delivered: the token and the repository work. */
  delivered(): void {
    this.#found = { ok: true };
  }

  /** Checks until the provider takes the token, a delivery lands or `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const pause = this.#pause, clock = this.#clock;
    await pause.load().catch(() => {}); // a pause stored before a restart counts too
    // A refused token or unreadable repository of an earlier run may be fixed by this run's
    // configuration: its pause ends now, so the check (and one queued status) probe at once.
    if (pause.current?.kind === "auth") await pause.endNow().catch(() => {});
    while (!signal.aborted && !this.#found?.ok) {
      const paused = pause.remainingMs();
      if (paused > 0) {
        await sleepUnlessAborted(clock, paused, signal);
        continue;
      }
      const found = await checkAccess(this.#notifier, signal);
      if (signal.aborted) return;
      if (!this.#found?.ok) this.#found = found;
      const { provider } = this.#notifier;
      if (found.ok) {
        log.info("The {provider} token can read the repository", { provider });
        if (pause.current?.kind === "auth") await pause.lift().catch(() => {});
        return;
      }
      // A rate limit, a refused token or a repository that cannot be read: every status would
      // meet it, so calls pause, durably, and the statuses wait.
      if (found.error?.kind === "rateLimited" || found.error?.kind === "auth") {
        // As the outbox does: a limit for as long as the provider asked, a refusal for retryMs.
        const wait = found.error.kind === "rateLimited"
          ? found.error.retryAfterMs ?? this.#retryMs
          : this.#retryMs;
        await pause.pause(found.error, wait).catch(() => {});
      }
      log.error("Cannot use {provider} with this token and repository: {reason}", {
        provider,
        reason: found.reason,
      });
      await sleepUnlessAborted(clock, this.#retryMs, signal);
    }
  }

  /** Why the provider cannot be used now, for `/readyz`; undefined when it can. */
  notReadyReason(): string | undefined {
    const { provider } = this.#notifier, found = this.#found, pause = this.#pause.current;
    if (found && !found.ok) return `the ${provider} check failed: ${found.reason}`;
    if (pause?.kind === "auth") return `the provider refused the token: ${pause.reason}`;
    if (!found) return `checking that the ${provider} token can read the repository`;
    return undefined;
  }
}
