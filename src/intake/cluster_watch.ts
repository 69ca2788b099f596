/**
 * The cluster as a source (`daemon --kubernetes`): one reflector per Flux kind (and per
 * namespace, when the watch is limited) keeps a copy of the objects; each change wakes one loop
 * that, after a short settle (so a list of 1,000 objects is judged once, not 1,000 times), judges
 * the whole copy and hands the verdicts to the {@linkcode ClusterIntake}.
 *
 * Nothing is judged until every kind has been listed once (or its CRD is not installed, so it
 * has no objects): an object missing only because its list failed would look removed. After that, a kind that cannot be read keeps its last copy
 * while its reflector backs off, and `/readyz` names the resource, the verb and the answer.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { Alarm, type Clock, IDLE_SLEEP_MS } from "../runtime/clock.ts";
import { errorText } from "../runtime/error_text.ts";
import type { KubeError, KubeObject, Resource } from "../sources/kubernetes/api.ts";
import { type ListWatch, Reflector } from "../sources/kubernetes/reflector.ts";
import {
  type ClusterObjects,
  FLUX_RESOURCES,
  judgeCluster,
  slimFluxObject,
} from "../sources/flux2/cluster_state.ts";
import type { ClusterIntake } from "./cluster_intake.ts";

const log = getLogger(["flux-status", "cluster"]);

/** How long changes are gathered before the cluster is judged. */
export const SETTLE_MS = 1_000;

/** After a failed reconcile (the store refused), how long until the next try. */
const RETRY_MS = 5_000;

/** Options of {@linkcode ClusterWatch}. */
export interface ClusterWatchOptions {
  /** The apiserver's list, watch and get. */
  api: ListWatch & {
    get(resource: Resource, namespace: string, name: string): Promise<KubeObject | undefined>;
  };
  /** Namespaces to watch; all when absent or empty. */
  namespaces?: string[] | undefined;
  /** Takes the verdicts. */
  intake: ClusterIntake;
  /** Whether a git URL is the configured repository. */
  isOurs(url: string): boolean;
  clock: Clock;
  /** Settle time before judging, in ms. @default SETTLE_MS */
  settleMs?: number;
  /** Longest backoff of a failing reflector, in ms. @default 30_000 */
  maxBackoffMs?: number;
  /** Called on each failed API call. */
  onError?(err: KubeError): void;
  /** Called after each judgement, with the number of objects of the repository. */
  onJudged?(objects: number): void;
}

/** Keeps the cluster's Flux objects in view and judges them on every change. */
export class ClusterWatch {
  #options: ClusterWatchOptions;
  #reflectors = new Map<keyof ClusterObjects, Reflector[]>();
  #alarm = new Alarm();
  #judgedOnce = false;

  /** @param options the API, the intake and whose objects count */
  constructor(options: ClusterWatchOptions) {
    this.#options = options;
    const namespaces = options.namespaces?.length ? options.namespaces : [undefined];
    for (const [kind, resource] of Object.entries(FLUX_RESOURCES)) {
      this.#reflectors.set(
        kind as keyof ClusterObjects,
        namespaces.map((namespace) =>
          new Reflector({
            api: options.api,
            resource,
            namespace,
            clock: options.clock,
            onChange: () => this.#alarm.wake(),
            transform: slimFluxObject,
            onError: (err) => {
              log.warn("{error}", { error: err.message });
              options.onError?.(err);
            },
            ...(options.maxBackoffMs ? { maxBackoffMs: options.maxBackoffMs } : {}),
          })
        ),
      );
    }
  }

  /** How many Flux objects are in view. */
  get objectCount(): number {
    let n = 0;
    for (const list of this.#reflectors.values()) for (const r of list) n += r.objects.size;
    return n;
  }

  /** Why the cluster cannot be followed now: each failing resource, or one not listed yet. */
  notReadyReasons(): string[] {
    const out: string[] = [];
    for (const r of [...this.#reflectors.values()].flat()) {
      if (r.problem) out.push(r.problem.message);
      else if (!r.synced) out.push(`${r.resourceLabel} not listed yet`);
    }
    return out;
  }

  /**
   * A notification-controller event named an object: read it now rather than wait for the watch.
   * The event itself is never taken as the truth.
   */
  async hint(kind: string, namespace: string, name: string): Promise<void> {
    // Status names carry the kind in lower case.
    const entry = Object.entries(FLUX_RESOURCES).find(([, r]) =>
      r.kind.toLowerCase() === kind.toLowerCase()
    );
    if (!entry) return;
    const [key, resource] = entry as [keyof ClusterObjects, Resource];
    try {
      const fresh = await this.#options.api.get(resource, namespace, name);
      if (!fresh) return;
      for (const r of this.#reflectors.get(key) ?? []) {
        if (r.offer(fresh)) this.#alarm.wake();
      }
    } catch (err) {
      log.debug("Cannot read {kind} {namespace}/{name} after an event: {error}", {
        kind,
        namespace,
        name,
        error: errorText(err),
      });
    }
  }

  /** Follows the cluster until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, intake } = this.#options;
    const settleMs = this.#options.settleMs ?? SETTLE_MS;
    const reflecting = [...this.#reflectors.values()].flat().map((r) => r.run(signal));
    while (!signal.aborted) {
      await this.#alarm.sleep(clock, IDLE_SLEEP_MS, signal);
      if (signal.aborted) break;
      // Gather what arrives together (a list, a burst of watch events) into one judgement.
      await this.#alarm.sleep(clock, settleMs, signal);
      if (signal.aborted) break;
      // A kind whose CRD is not installed has no objects: it holds nothing up (and /readyz says so).
      const listed = (r: Reflector) => r.synced || r.problem?.reason === "NotServed";
      if (![...this.#reflectors.values()].flat().every(listed)) continue;
      try {
        const verdicts = judgeCluster(this.#objects(), this.#options.isOurs, intake.knownShas);
        const queued = await intake.reconcile(verdicts);
        if (!this.#judgedOnce) {
          log.info("Following {count} Flux objects of the repository", { count: verdicts.length });
          this.#judgedOnce = true;
        }
        this.#options.onJudged?.(verdicts.length);
        if (queued > 0) log.debug("Queued {queued} status changes", { queued });
      } catch (err) {
        log.error("Cannot judge the cluster's state: {error}", { error: errorText(err) });
        await clock.sleep(RETRY_MS, signal).catch(() => {});
        this.#alarm.wake();
      }
    }
    await Promise.allSettled(reflecting);
  }

  #objects(): ClusterObjects {
    const of = (kind: keyof ClusterObjects) =>
      (this.#reflectors.get(kind) ?? []).flatMap((r) => [...r.objects.values()]);
    return {
      gitRepositories: of("gitRepositories"),
      ociRepositories: of("ociRepositories"),
      helmCharts: of("helmCharts"),
      kustomizations: of("kustomizations"),
      helmReleases: of("helmReleases"),
    };
  }
}
