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
import { parseGitUrl, sameRepository } from "./src/notifiers/git_url.ts";
import { statusName, statusPrefix } from "./src/notifiers/notifier.ts";
import { loadCredentials } from "./src/sources/kubernetes/credentials.ts";
import { KubeApi } from "./src/sources/kubernetes/api.ts";
import { LeaderElector } from "./src/sources/kubernetes/lease.ts";
import { ClusterIntake } from "./src/intake/cluster_intake.ts";
import { ClusterWatch } from "./src/intake/cluster_watch.ts";
import type { ParsedEvent } from "./src/sources/flux/events.ts";

const log = getLogger(["flux-status", "daemon"]);

/** Replaceable parts, for tests and the demo. */
export interface DaemonDeps {
  /** Time source. @default systemClock */
  clock?: Clock;
  /** Notifier to use instead of the one the config names. */
  notifier?: Notifier;
  /** Secrets whose value came from a file: read again every `--secret-poll-interval`. */
  secretFiles?: SecretFile[];
  /** `--kubernetes`: where credentials are looked up, and faster pacing for tests. */
  kubernetes?: {
    /** Environment variables (`KUBERNETES_SERVICE_HOST`, `KUBECONFIG`, `HOME`). @default Deno.env */
    env?: Record<string, string | undefined>;
    /** The pod's service account folder. */
    serviceAccountDir?: string;
    /** Longest backoff of a failing watch, in ms. */
    maxBackoffMs?: number;
    /** How long changes are gathered before the cluster is judged, in ms. */
    settleMs?: number;
  };
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
 * @throws {CredentialsError} with `--kubernetes`, when no cluster credentials are found
 * @throws {Error} when the store cannot be opened or written, saying what to do
 */
export async function startDaemon(given: DaemonConfig, deps: DaemonDeps = {}): Promise<Daemon> {
  const clock = deps.clock ?? systemClock;
  const secrets = new SecretFiles(deps.secretFiles ?? [], given);
  // Every secret below is read through this view: a rotated file's new value applies at once.
  const config = secrets.live(given);
  const notifier = deps.notifier ??
    await createNotifier({ ...notifierOptions(config), env: Deno.env.toObject() });
  // Before anything starts: missing cluster credentials stop the daemon with the reason.
  const kube = deps.kubernetes ?? {};
  const credentials = config.kubernetes
    ? await loadCredentials({
      ...(config.kubeconfig ? { kubeconfig: config.kubeconfig } : {}),
      env: kube.env ?? Deno.env.toObject(),
      ...(kube.serviceAccountDir ? { serviceAccountDir: kube.serviceAccountDir } : {}),
      clock,
    })
    : undefined;
  const { hostname, port } = splitListen(config.listen);
  // Its gauges read the parts below, only when scraped.
  const metrics = new Metrics({
    provider: notifier.provider,
    outbox: () => outbox.stats(),
    paused: () => outbox.pause.remainingMs() > 0,
    rateLimitRemaining: () => notifier.rateLimitRemaining,
    fluxdConnected: () => link.isConnected,
    watches: () => watcher?.count() ?? Promise.resolve(0),
    ...(config.kubernetes
      ? {
        clusterObjects: () => ({ watched: cluster?.objectCount ?? 0, counted: counted }),
        leading: () => elector?.isLeader ?? false,
      }
      : {}),
  });
  let counted = 0;

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
  // With --kubernetes, only the replica holding the Lease delivers; the others keep their store
  // up to date and check it against the provider when they take over.
  const deliveries = new Deliveries(outbox, controller.signal, hardStop.signal);
  if (!credentials) deliveries.start();
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
  // One client for the watches and the Lease; objects count when their source is --git-url.
  const repository = credentials && parseGitUrl(config.gitUrl, config.provider, config.apiUrl);
  const kubeApi = credentials ? new KubeApi(credentials) : undefined;
  const cluster = kubeApi
    ? new ClusterWatch({
      api: kubeApi,
      namespaces: config.namespace,
      isOurs: (url) => !!repository && sameRepository(repository, url),
      clock,
      intake: new ClusterIntake({
        kv,
        outbox,
        clock,
        statusName: (action, object) => statusName(config.instance, action, object),
        objectStatuses: config.objectStatuses ?? false,
        readStatuses: (sha) =>
          notifier.listStatuses(sha, statusPrefix(config.instance), AbortSignal.timeout(10_000)),
        // Never while every call to the provider is paused (a rate limit, a refused token).
        providerPaused: () => outbox.pause.remainingMs() > 0,
        onRollup: (_sha, _action, state) => metrics.verdict(state),
      }),
      onError: (err) => metrics.kubeFailed(err),
      onJudged: (n) => counted = n,
      ...(kube.maxBackoffMs ? { maxBackoffMs: kube.maxBackoffMs } : {}),
      ...(kube.settleMs !== undefined ? { settleMs: kube.settleMs } : {}),
    })
    : undefined;
  if (credentials) {
    log.info("Reading Flux objects from {server} ({source})", {
      server: credentials.server,
      source: credentials.source,
    });
  }
  const following = cluster?.run(controller.signal) ?? Promise.resolve();
  const elector = kubeApi
    ? new LeaderElector({
      api: kubeApi,
      namespace: credentials?.namespace ?? "default",
      name: `flux-status-${config.instance}`,
      // client-go's hostname_uuid; a pod's HOSTNAME is its name (no --allow-sys needed).
      identity: `${Deno.env.get("HOSTNAME") || "flux-status"}_${crypto.randomUUID().slice(0, 8)}`,
      leaseDurationMs: config.leaseDuration,
      clock,
      onChange(leading) {
        log.info("{what} the Lease flux-status-{instance}: {action}", {
          what: leading ? "Holding" : "Lost",
          instance: config.instance,
          action: leading ? "delivering statuses" : "following, not writing",
        });
        if (leading) deliveries.start();
        else deliveries.stop();
      },
      onError: (err) => metrics.kubeFailed(err),
    })
    : undefined;
  const electing = elector?.run(controller.signal) ?? Promise.resolve();
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
    ...(cluster ? {} : { onEvent, onSocket: (socket, info) => link.attach(socket, info) }),
    flux2HmacKey: () =>
      config.flux2HmacKey === undefined ? undefined : new TextEncoder().encode(config.flux2HmacKey),
    async onFlux2Event(outcome) {
      flux2Seen = true;
      if (cluster) {
        // The cluster is the truth: an event only makes us read its object now.
        const [kind = "", namespace = "", name = ""] = outcome.object.split("/");
        await cluster.hint(kind, namespace, name);
        return { statuses: 0 };
      }
      const count = await flux2.accept(outcome);
      log.info("{reason} of {object} at {sha}: queued {count} statuses", {
        reason: outcome.reason,
        object: outcome.object,
        sha: outcome.sha.slice(0, 7),
        count,
      });
      return { statuses: count };
    },
    // Ready once fluxd answers, or once Flux v2's notification-controller has reached us (with
    // --kubernetes: once every Flux kind is read), and while the provider takes the token.
    notReadyReasons: () => {
      const reasons: string[] = [];
      if (cluster) reasons.push(...cluster.notReadyReasons());
      if (elector?.problem && !elector.isLeader) {
        reasons.push(`cannot take part in leader election: ${elector.problem.message}`);
      }
      const fluxd = flux2Seen || cluster ? undefined : link.notReadyReason();
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
    ...(elector
      ? { readyDetails: () => ({ leading: elector.isLeader, leader: elector.holder ?? null }) }
      : {}),
    renderMetrics: () => metrics.render(),
    metricsToken: () => config.metricsToken,
    onAnswered: (source, outcome, code) => metrics.eventAnswered(source, outcome, code),
  });

  async function onEvent(parsed: ParsedEvent) {
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
  }

  const server = Deno.serve({
    hostname,
    port,
    signal: controller.signal,
    onListen: (a) => {
      const what = cluster ? "probes, metrics and Flux v2 hints" : "fluxd";
      log.info("Listening on {hostname}:{port} for {what}", { ...a, what });
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
        const loops = () => [
          deliveries.done(),
          watching,
          timingOut,
          checking,
          rereading,
          following,
          electing,
        ];
        await Promise.race([
          Promise.allSettled([...loops(), server.finished]),
          clock.sleep(deadlineMs, timer.signal).catch(() => {}),
        ]);
        timer.abort();
        hardStop.abort();
        await Promise.allSettled(loops());
        kubeApi?.close();
        kv.close();
        log.info("Stopped");
      })();
      return stopped;
    },
  };
}

/** The outbox's delivery runs: one while this replica delivers, none while it follows. */
class Deliveries {
  #outbox: Outbox;
  #stop: AbortSignal;
  #hardStop: AbortSignal;
  #lead: AbortController | undefined;
  #runs: Promise<void>[] = [];

  constructor(outbox: Outbox, stop: AbortSignal, hardStop: AbortSignal) {
    this.#outbox = outbox;
    this.#stop = stop;
    this.#hardStop = hardStop;
  }

  /** Starts delivering (again). */
  start(): void {
    if (this.#lead || this.#stop.aborted) return;
    const lead = this.#lead = new AbortController();
    this.#runs.push(
      this.#outbox.run(
        AbortSignal.any([this.#stop, lead.signal]),
        // Losing the Lease stops at once what is in flight: there must be one writer.
        AbortSignal.any([this.#hardStop, lead.signal]),
      ),
    );
  }

  /** Stops delivering, in-flight calls too. */
  stop(): void {
    this.#lead?.abort();
    this.#lead = undefined;
  }

  /** Resolves when every run has ended. */
  done(): Promise<void> {
    return Promise.allSettled(this.#runs).then(() => {});
  }
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
