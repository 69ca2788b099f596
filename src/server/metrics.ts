/**
 * Prometheus metrics (src/server/prometheus.ts), in their own registry (no default process metrics, so
 * nothing about the host leaks and scrapes stay small). Names follow Prometheus conventions
 * (`flux_status_…_total`, `_seconds`, base units); labels are bounded sets (provider, source,
 * outcome, HTTP code, failure kind, drop reason, verdict state), never a sha or a workload name.
 * Counting is a few in-memory increments per event or delivery; gauges that need the store (outbox
 * depth and age, active watches) are computed when scraped, never on the event path.
 *
 * @module
 */
import { Counter, Gauge, Histogram, Registry } from "./prometheus.ts";

/** Where the scrape-time gauges read from. */
export interface MetricsSources {
  /** Provider name, the `provider` label. */
  provider: string;
  /** Entries waiting in the outbox, and the age of the oldest in seconds. */
  outbox(): Promise<{ depth: number; oldestAgeSeconds: number }>;
  /** Whether every call to the provider is paused now. */
  paused(): boolean;
  /** The rate-limit remaining the provider last reported, if it did. */
  rateLimitRemaining(): number | undefined;
  /** Whether fluxd holds a WebSocket open. */
  fluxdConnected(): boolean;
  /** Active rollout watches. */
  watches(): Promise<number>;
  /** Flux objects in view (`--kubernetes`), and how many deploy the repository; absent otherwise. */
  clusterObjects?(): { watched: number; counted: number };
  /** Whether this replica holds the Lease (`--kubernetes`); absent otherwise. */
  leading?(): boolean;
}

/** The daemon's metrics. */
export class Metrics {
  /** The registry `/metrics` renders. */
  readonly registry: Registry = new Registry();
  #provider: string;
  #events: Counter<"source" | "outcome" | "code">;
  #delivered: Counter<"provider">;
  #skipped: Counter<"provider">;
  #dropped: Counter<"provider" | "reason">;
  #retried: Counter<"provider" | "kind">;
  #latency: Histogram<"provider">;
  #reconnects: Counter;
  #rpcErrors: Counter;
  #verdicts: Counter<"state">;
  #kubeErrors: Counter<"resource" | "verb" | "code">;

  constructor(sources: MetricsSources) {
    const provider = this.#provider = sources.provider;
    const r = <M extends Counter<string> | Gauge<string> | Histogram<string>>(m: M) =>
      this.registry.register(m);
    this.#events = r(
      new Counter({
        name: "flux_status_events_received_total",
        help: "Events received, by source (fluxd, flux2), outcome and HTTP status answered",
        labelNames: ["source", "outcome", "code"],
      }),
    );
    this.#delivered = r(
      new Counter({
        name: "flux_status_statuses_delivered_total",
        help: "Statuses the provider accepted",
        labelNames: ["provider"],
      }),
    );
    this.#skipped = r(
      new Counter({
        name: "flux_status_statuses_skipped_total",
        help: "Statuses not sent as identical to the last one delivered",
        labelNames: ["provider"],
      }),
    );
    this.#dropped = r(
      new Counter({
        name: "flux_status_statuses_dropped_total",
        help: "Statuses given up: rejected by the provider, or expired undelivered",
        labelNames: ["provider", "reason"],
      }),
    );
    this.#retried = r(
      new Counter({
        name: "flux_status_statuses_retried_total",
        help: "Delivery attempts to be tried again, by kind of failure",
        labelNames: ["provider", "kind"],
      }),
    );
    this.#latency = r(
      new Histogram({
        name: "flux_status_delivery_duration_seconds",
        help: "From an event's acceptance to the provider's answer that delivered its status",
        labelNames: ["provider"],
        buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      }),
    );
    this.#reconnects = r(
      new Counter({
        name: "flux_status_fluxd_reconnects_total",
        help: "fluxd WebSocket connections after the first",
      }),
    );
    this.#rpcErrors = r(
      new Counter({
        name: "flux_status_fluxd_rpc_errors_total",
        help: "RPC calls to fluxd that failed (Ping, ListServices)",
      }),
    );
    this.#verdicts = r(
      new Counter({
        name: "flux_status_rollout_verdicts_total",
        help: "Rollout verdicts, by state",
        labelNames: ["state"],
      }),
    );
    this.#kubeErrors = r(
      new Counter({
        name: "flux_status_kubernetes_errors_total",
        help:
          "Kubernetes API calls that failed (--kubernetes), by resource, verb and HTTP code (0: no answer)",
        labelNames: ["resource", "verb", "code"],
      }),
    );
    const leading = sources.leading;
    if (leading) {
      r(
        new Gauge({
          name: "flux_status_leader",
          help: "1 while this replica holds the Lease and delivers statuses (--kubernetes)",
          collect(set) {
            set(leading() ? 1 : 0);
          },
        }),
      );
    }
    const cluster = sources.clusterObjects;
    if (cluster) {
      r(
        new Gauge({
          name: "flux_status_kubernetes_objects",
          help: "Flux objects in view (--kubernetes), all and those that deploy the repository",
          labelNames: ["scope"],
          collect(set) {
            const { watched, counted } = cluster();
            set(watched, { scope: "watched" });
            set(counted, { scope: "repository" });
          },
        }),
      );
    }
    r(
      new Gauge({
        name: "flux_status_outbox_depth",
        help: "Statuses waiting for delivery",
        labelNames: ["provider"],
        async collect(set) {
          set((await sources.outbox()).depth, { provider });
        },
      }),
    );
    r(
      new Gauge({
        name: "flux_status_outbox_oldest_age_seconds",
        help: "Age of the oldest status waiting for delivery (0 when none)",
        labelNames: ["provider"],
        async collect(set) {
          set((await sources.outbox()).oldestAgeSeconds, { provider });
        },
      }),
    );
    r(
      new Gauge({
        name: "flux_status_provider_paused",
        help: "1 while every call to the provider is paused (rate limit or refused token)",
        labelNames: ["provider"],
        collect(set) {
          set(sources.paused() ? 1 : 0, { provider });
        },
      }),
    );
    r(
      new Gauge({
        name: "flux_status_provider_rate_limit_remaining",
        help: "The rate-limit remaining the provider last reported",
        labelNames: ["provider"],
        collect(set) {
          const remaining = sources.rateLimitRemaining();
          if (remaining !== undefined) set(remaining, { provider });
        },
      }),
    );
    r(
      new Gauge({
        name: "flux_status_fluxd_connected",
        help: "1 while fluxd holds a WebSocket open",
        collect(set) {
          set(sources.fluxdConnected() ? 1 : 0);
        },
      }),
    );
    r(
      new Gauge({
        name: "flux_status_rollout_watches",
        help: "Rollouts being watched",
        async collect(set) {
          set(await sources.watches());
        },
      }),
    );
  }

  /** Counts an answered event. */
  eventAnswered(source: "fluxd" | "flux2", outcome: EventOutcome, code: number): void {
    this.#events.inc({ source, outcome, code: String(code) });
  }

  /** Counts what became of a delivery attempt. */
  settled(s: {
    outcome: "delivered" | "retry" | "dropped" | "skipped";
    kind?: string;
    reason?: string;
    queuedMs?: number;
  }): void {
    const provider = this.#provider;
    if (s.outcome === "delivered") {
      this.#delivered.inc({ provider });
      if (s.queuedMs !== undefined) this.#latency.observe({ provider }, s.queuedMs / 1000);
    } else if (s.outcome === "skipped") this.#skipped.inc({ provider });
    else if (s.outcome === "dropped") {
      this.#dropped.inc({ provider, reason: s.reason ?? "rejected" });
    } else this.#retried.inc({ provider, kind: s.kind ?? "transient" });
  }

  /** Counts a fluxd connection after the first. */
  reconnected(): void {
    this.#reconnects.inc();
  }

  /** Counts a failed RPC call to fluxd. */
  rpcFailed(): void {
    this.#rpcErrors.inc();
  }

  /** Counts a rollout verdict. */
  verdict(state: string): void {
    this.#verdicts.inc({ state });
  }

  /** Counts a failed Kubernetes API call. */
  kubeFailed(e: { resource: string; verb: string; status: number }): void {
    this.#kubeErrors.inc({ resource: e.resource, verb: e.verb, code: String(e.status) });
  }

  /** The text exposition of every metric. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}

/** What became of an event: stored with statuses, accepted with none, or refused. */
export type EventOutcome = "accepted" | "ignored" | "rejected";
