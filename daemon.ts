/**
 * The daemon: composes config → store → notifier → server → watcher, and owns the process's
 * lifetime (one AbortController; SIGTERM/SIGINT drain deliveries up to a deadline, a second
 * signal exits at once).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { dirname } from "node:path";
import { type Clock, sleepUnlessAborted, systemClock } from "./src/runtime/clock.ts";
import { type DaemonConfig, notifierOptions } from "./src/config/config.ts";
import { FluxLink } from "./src/sources/flux/link.ts";
import { createIntake } from "./src/intake/intake.ts";
import { Flux2Intake } from "./src/intake/flux2_intake.ts";
import { createWorkloadLister } from "./src/sources/flux/workloads.ts";
import { createNotifier } from "./src/notifiers/mod.ts";
import type { Notifier } from "./src/notifiers/notifier.ts";
import { Outbox } from "./src/outbox/outbox.ts";
import { ProviderAccess } from "./src/outbox/provider_access.ts";
import { createHandler } from "./src/server/server.ts";
import { Watcher } from "./src/intake/watcher.ts";
import { Metrics } from "./src/server/metrics.ts";
import { type SecretFile, SecretFiles } from "./src/config/secret_files.ts";
import { healthKey } from "./src/runtime/store_keys.ts";
import { splitListen } from "./src/runtime/listen.ts";
import { errorText } from "./src/runtime/error_text.ts";

const log = getLogger(["flux-status", "daemon"]);

/** Replaceable parts, for tests and the demo. */
export interface DaemonDeps {
  /** Time source. @default systemClock */
  clock?: Clock;
  /** Notifier to use instead of the one the config names. */
  notifier?: Notifier;
  /** Secrets whose value came from a file: read again every `--secret-poll-interval`. */
  secretFiles?: SecretFile[];
}

/** A running daemon. */
export interface Daemon {
  /** Where it listens. */
  addr: Deno.NetAddr;
  /** Stops taking events, drains deliveries up to `deadlineMs`, closes everything. */
  stop(deadlineMs?: number): Promise<void>;
}

/**
 * Starts the daemon.
 *
 * @throws {ConfigError} before anything starts, when the config cannot work
 * @throws {Error} when the store cannot be opened or written, saying what to do
 */
export async function startDaemon(given: DaemonConfig, deps: DaemonDeps = {}): Promise<Daemon> {
  const clock = deps.clock ?? systemClock;
  const secrets = new SecretFiles(deps.secretFiles ?? [], given);
  // Every secret below is read through this view: a rotated file's new value applies at once.
  const config = secrets.live(given);
  const notifier = deps.notifier ??
    await createNotifier({ ...notifierOptions(config), env: Deno.env.toObject() });
  const { hostname, port } = splitListen(config.listen);
  // Its gauges read the parts below, only when scraped.
  const metrics = new Metrics({
    provider: notifier.provider,
    outbox: () => outbox.stats(),
    paused: () => outbox.pause.remainingMs() > 0,
    rateLimitRemaining: () => notifier.rateLimitRemaining,
    fluxdConnected: () => link.isConnected,
    watches: () => watcher?.count() ?? Promise.resolve(0),
  });

  let kv: Deno.Kv;
  try {
    await Deno.mkdir(dirname(config.store), { recursive: true });
    kv = await Deno.openKv(config.store);
  } catch (err) {
    const why = errorText(err);
    throw new Error(
      `Cannot open the store '${config.store}' (${why}): check the volume is mounted and writable; a file that is not a Deno KV store must be moved aside or restored from a backup`,
      { cause: err },
    );
  }
  /** One small write: whether the store takes writes (start-up and `/healthz`). */
  const writeProbe = () => kv.set(healthKey, clock.now());
  try {
    // A read-only volume opens; its first write fails. Say so now, not on fluxd's first event.
    await writeProbe();
  } catch (err) {
    kv.close();
    const why = errorText(err);
    throw new Error(
      `Cannot write to the store '${config.store}' (${why}): the volume is read-only or full; mount it writable with free space`,
      { cause: err },
    );
  }
  const controller = new AbortController();
  const hardStop = new AbortController();
  const outbox = new Outbox({
    kv,
    notifier,
    instance: config.instance,
    clock,
    ...(config.targetUrl ? { targetUrl: config.targetUrl } : {}),
    onSettled: (s) => {
      metrics.settled(s);
      if (s.outcome === "delivered") access.delivered();
    },
  });
  const access = new ProviderAccess({ notifier, pause: outbox.pause, clock });
  await outbox.migrate();
  const delivering = outbox.run(controller.signal, hardStop.signal);
  const link = new FluxLink({
    onConnection: (reconnect) => reconnect && metrics.reconnected(),
    onRpcError: () => metrics.rpcFailed(),
  });
  const watcher = config.pollWorkloads
    ? new Watcher({
      kv,
      outbox,
      clock,
      list: createWorkloadLister(link, config.fluxUrl),
      pollIntervalMs: config.pollInterval,
      pollTimeoutMs: config.pollTimeout,
      helmGraceMs: config.helmGrace,
      onVerdict: (_head, state) => metrics.verdict(state),
    })
    : undefined;
  await watcher?.migrate();
  const watching = watcher?.run(controller.signal) ?? Promise.resolve();

  const accept = createIntake({ kv, outbox, ...(watcher ? { watcher } : {}) });
  const flux2 = new Flux2Intake({
    kv,
    outbox,
    clock,
    pendingTimeoutMs: config.flux2PendingTimeout,
  });
  const timingOut = flux2.run(controller.signal);
  const checking = access.run(controller.signal);
  const rereading = rereadSecrets();

  /** Reads secret files again; a new provider token ends a pause for a refused one at once. */
  async function rereadSecrets(): Promise<void> {
    if (!secrets.watching) return;
    while (!(await sleepUnlessAborted(clock, config.secretPollInterval, controller.signal))) {
      const changed = await secrets.refresh();
      if (changed.length > 0) await outbox.credentialsChanged().catch(() => {});
    }
  }

  let flux2Seen = false;

  const handler = createHandler({
    connectToken: () => config.connectToken,
    maxEventBytes: config.maxEventBytes,
    async onEvent(parsed) {
      if (!parsed.outcome) {
        log.debug("Accepted and ignored a {type} event", { type: parsed.type });
        return { statuses: 0 };
      }
      const count = await accept(parsed.outcome);
      log.info("Sync of {head} {result}: queued {count} statuses", {
        head: parsed.outcome.head,
        result: parsed.outcome.failed ? "failed" : "succeeded",
        count,
      });
      return { statuses: count };
    },
    flux2HmacKey: () =>
      config.flux2HmacKey === undefined ? undefined : new TextEncoder().encode(config.flux2HmacKey),
    async onFlux2Event(outcome) {
      flux2Seen = true;
      const count = await flux2.accept(outcome);
      log.info("{reason} of {object} at {sha}: queued {count} statuses", {
        reason: outcome.reason,
        object: outcome.object,
        sha: outcome.sha.slice(0, 7),
        count,
      });
      return { statuses: count };
    },
    onSocket: (socket, info) => link.attach(socket, info),
    // Ready once fluxd answers, or once Flux v2's notification-controller has reached us, and
    // while the provider takes the token.
    notReadyReasons: () => {
      const reasons: string[] = [];
      const fluxd = flux2Seen ? undefined : link.notReadyReason();
      if (fluxd) reasons.push(`${fluxd} (and no Flux v2 event has arrived)`);
      const provider = access.notReadyReason();
      if (provider) reasons.push(provider);
      return reasons;
    },
    async unhealthyReason() {
      try {
        await writeProbe();
        return undefined;
      } catch (err) {
        return `the store is not writable: ${errorText(err)}`;
      }
    },
    renderMetrics: () => metrics.render(),
    metricsToken: () => config.metricsToken,
    onAnswered: (source, outcome, code) => metrics.eventAnswered(source, outcome, code),
  });

  const server = Deno.serve({
    hostname,
    port,
    signal: controller.signal,
    onListen: (a) => {
      log.info("Listening on {hostname}:{port} for fluxd", { hostname: a.hostname, port: a.port });
    },
  }, handler);

  let stopped: Promise<void> | undefined;
  return {
    addr: server.addr,
    stop(deadlineMs = 10_000) {
      stopped ??= (async () => {
        log.info("Stopping: draining deliveries for up to {deadlineMs} ms", { deadlineMs });
        link.closeAll();
        controller.abort();
        const timer = new AbortController();
        await Promise.race([
          Promise.allSettled([
            delivering,
            watching,
            timingOut,
            checking,
            rereading,
            server.finished,
          ]),
          clock.sleep(deadlineMs, timer.signal).catch(() => {}),
        ]);
        timer.abort();
        hardStop.abort();
        await Promise.allSettled([delivering, watching, timingOut, checking, rereading]);
        kv.close();
        log.info("Stopped");
      })();
      return stopped;
    },
  };
}

/**
 * Runs the daemon until SIGTERM or SIGINT; a second signal exits at once.
 */
export async function runDaemon(
  config: DaemonConfig,
  secretFiles: SecretFile[] = [],
): Promise<void> {
  const daemon = await startDaemon(config, { secretFiles });
  const { promise, resolve } = Promise.withResolvers<void>();
  let signalled = false;
  const onSignal = () => {
    if (signalled) Deno.exit(130);
    signalled = true;
    daemon.stop().then(resolve);
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGTERM", "SIGINT"];
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  await promise;
  for (const s of signals) Deno.removeSignalListener(s, onSignal);
}
