/**
 * The verdict on a set of workloads' rollout, from fluxd's `ListServices` fields exactly as fluxd
 * defines them (docs/flux-protocol.md §6; fluxd `pkg/cluster/kubernetes/resourcekinds.go`):
 *
 * | fluxd says | verdict for that workload |
 * | --- | --- |
 * | `SyncError` not empty | **failed**: its last apply failed, so this commit is not what runs |
 * | `Status: "error"`, or `Rollout.Messages` not empty (Deployment `Progressing=False`, `ReplicaFailure`) | **failed**, with the messages |
 * | HelmRelease `Status: "failed"` / `"FAILED"` | **failed** |
 * | `Status: "ready"` (Deployment/DaemonSet/StatefulSet: updated = desired, available/ready = desired, none outdated; CronJob: always) | **rolled out** |
 * | HelmRelease `Status: "deployed"` / `"DEPLOYED"` | **rolled out**, once it can be trusted (see {@linkcode JudgeOptions}) |
 * | `started`, `updating`, `unknown`, `""`, other Helm states | still rolling |
 * | not listed yet | still rolling (the cluster may not show it yet) |
 * | listed before, now gone | **failed**: it disappeared while its rollout was watched |
 *
 * The set is rolled out when every workload is; it failed as soon as one failed (fluxctl's own
 * watch rule). DaemonSets and StatefulSets never report `error`: they fail only by timeout.
 *
 * @module
 */

/** The fields of fluxd's `v6.ControllerStatus` the verdict reads. */
export interface WorkloadStatus {
  ID: string;
  Status?: string;
  ReadOnly?: string;
  SyncError?: string;
  Rollout?: {
    Desired?: number;
    Updated?: number;
    Ready?: number;
    Available?: number;
    Outdated?: number;
    Messages?: string[] | null;
  } | null;
}

const WORKLOAD_KINDS = new Set([
  "deployment",
  "daemonset",
  "statefulset",
  "cronjob",
  "helmrelease",
]);
const RESOURCE_ID = /^(<cluster>|[a-zA-Z0-9_-]+):([a-zA-Z0-9_-]+)\/([a-zA-Z0-9_.:-]+)$/;

/**
 * Whether a resource ID names a workload kind fluxd lists (`ns:deployment/name`, …).
 *
 * @example
 * ```ts
 * isWorkloadId("default:deployment/api"); // true
 * isWorkloadId("default:service/api"); // false
 * ```
 */
export function isWorkloadId(id: string): boolean {
  const m = RESOURCE_ID.exec(id);
  return m !== null && WORKLOAD_KINDS.has(m[2]!.toLowerCase());
}

function isHelm(id: string): boolean {
  return /:helmrelease\//i.test(id);
}

function progress(w: WorkloadStatus): string {
  if (isHelm(w.ID)) return `${w.ID} ${w.Status || "unknown"}`;
  const r = w.Rollout;
  if (r && (r.Desired ?? 0) > 0) {
    const outdated = r.Outdated ? `, ${r.Outdated} outdated` : "";
    return `${w.ID} ${r.Ready ?? 0}/${r.Desired} ready${outdated}`;
  }
  return `${w.ID} ${w.Status || "unknown"}`;
}

/** The verdict on one workload. */
export type WorkloadVerdict =
  | { state: "done" }
  | { state: "rolling"; waiting: string }
  | { state: "failed"; reason: string };

/** Options of {@linkcode judgeWorkload} and {@linkcode judgeRollout}. */
export interface JudgeOptions {
  /**
   * Whether a HelmRelease's `deployed`/`failed` can be believed yet. helm-operator writes
   * `status.releaseStatus` from its status updater (every 10 s by default) and fluxd passes it
   * through with nothing that tells a fresh value from one about the previous release, so right
   * after a sync both words may be stale: until then they count as still rolling.
   * @default true
   */
  trustHelmStatus?: boolean;
}

/**
 * Judges one workload from what fluxd listed.
 *
 * @param id the workload ID
 * @param w its entry in fluxd's list, if listed
 * @param wasSeen whether an earlier check listed it (gone now: failed)
 */
export function judgeWorkload(
  id: string,
  w: WorkloadStatus | undefined,
  wasSeen: boolean,
  { trustHelmStatus = true }: JudgeOptions = {},
): WorkloadVerdict {
  if (!w) {
    return wasSeen
      ? { state: "failed", reason: `${id} disappeared` }
      : { state: "rolling", waiting: `${id} not listed yet` };
  }
  if (w.SyncError) return { state: "failed", reason: `${id}: ${w.SyncError}` };
  const messages = w.Rollout?.Messages ?? [];
  if (w.Status === "error" || messages.length > 0) {
    return { state: "failed", reason: `${id}: ${messages.join("; ") || "fluxd reports an error"}` };
  }
  if (isHelm(id)) {
    const final = /^(deployed|failed)$/i.test(w.Status ?? "");
    if (final && !trustHelmStatus) {
      return {
        state: "rolling",
        waiting: `${id} ${w.Status} (not yet refreshed by helm-operator)`,
      };
    }
    if (/^failed$/i.test(w.Status ?? "")) {
      return { state: "failed", reason: `${id}: release failed` };
    }
    if (/^deployed$/i.test(w.Status ?? "")) return { state: "done" };
  } else if (w.Status === "ready") return { state: "done" };
  return { state: "rolling", waiting: progress(w) };
}

/** What one check of a set of workloads found. */
export interface RolloutCheck {
  /** Why the rollout failed (the first workload that did), if one did. */
  failed?: string;
  /** The workloads that rolled out. */
  done: string[];
  /** What each workload still rolling waits for, in order. */
  waiting: string[];
  /** The workloads fluxd has listed by now (this check or an earlier one). */
  seen: string[];
}

/**
 * Judges the rollout of `watched` from the workloads fluxd listed: the first failure decides,
 * else every workload that is not done is still rolling. The watcher checks its watches a chunk
 * of ids at a time through this.
 *
 * @param watched the workload IDs to judge
 * @param listed what fluxd's ListServices returned, by ID (other workloads ignored)
 * @param seen IDs listed on an earlier check: a seen workload that is gone has failed
 * @param options whether HelmRelease statuses can be believed yet
 */
export function judgeRollout(
  watched: readonly string[],
  listed: ReadonlyMap<string, WorkloadStatus>,
  seen: ReadonlySet<string> = new Set(),
  options: JudgeOptions = {},
): RolloutCheck {
  const check: RolloutCheck = { done: [], waiting: [], seen: [...seen] };
  for (const id of watched) {
    const v = judgeWorkload(id, listed.get(id), seen.has(id), options);
    if (v.state === "failed") return { ...check, failed: v.reason };
    if (v.state === "done") check.done.push(id);
    else check.waiting.push(v.waiting);
    if (listed.has(id) && !seen.has(id)) check.seen.push(id);
  }
  return check;
}
