/**
 * What the cluster's Flux v2 objects say of the configured repository's commits, read from their
 * status (docs/flux2-state.md): which objects deploy the repository, which commit each is at, and
 * its verdict there. Pure functions of the objects; nothing here reads the API or remembers.
 *
 * - **Ours:** GitRepositories whose `spec.url` is the repository; OCIRepositories whose artifact
 *   says it was built from it; the Kustomizations of either, the HelmReleases whose chart comes
 *   from one of ours (`spec.chart.spec.sourceRef`, or `spec.chartRef` through a HelmChart), and
 *   any of them carrying the `event.toolkit.fluxcd.io/commit` annotation.
 * - **At which commit:** the revision in progress, else the source's new revision not yet
 *   attempted, else the last attempted, else the last applied. A HelmRelease's chart version
 *   `x.y.z+<12 hex>` is expanded to a full SHA the cluster (or the store) knows, never guessed.
 * - **Verdict:** the first matching row of docs/flux2-state.md §3 (a table per kind); `past` carries what the objects' `history` says of earlier commits, so verdicts
 *   reached while nobody watched are not lost.
 *
 * @module
 */
import type { State } from "../../notifiers/notifier.ts";
import { commitOf } from "./events.ts";
import { objectId } from "./object_id.ts";

/** A Flux object as the API serves it. */
export interface FluxObject {
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    generation?: number;
    annotations?: Record<string, string>;
  };
  // deno-lint-ignore no-explicit-any -- read field by field below, every field checked
  spec?: any;
  // deno-lint-ignore no-explicit-any -- read field by field below, every field checked
  status?: any;
}

/** The five kinds read, at the versions Flux 2.6+ serves (its CRDs' storage versions). */
export const FLUX_RESOURCES = {
  gitRepositories: {
    group: "source.toolkit.fluxcd.io",
    version: "v1",
    plural: "gitrepositories",
    kind: "GitRepository",
  },
  ociRepositories: {
    group: "source.toolkit.fluxcd.io",
    version: "v1",
    plural: "ocirepositories",
    kind: "OCIRepository",
  },
  helmCharts: {
    group: "source.toolkit.fluxcd.io",
    version: "v1",
    plural: "helmcharts",
    kind: "HelmChart",
  },
  kustomizations: {
    group: "kustomize.toolkit.fluxcd.io",
    version: "v1",
    plural: "kustomizations",
    kind: "Kustomization",
  },
  helmReleases: {
    group: "helm.toolkit.fluxcd.io",
    version: "v2",
    plural: "helmreleases",
    kind: "HelmRelease",
  },
} as const;

/** The objects of each kind. */
export type ClusterObjects = Record<keyof typeof FLUX_RESOURCES, Iterable<FluxObject>>;

/** What an object's status says of one commit. */
export interface CommitVerdict {
  /** The commit, 40 hex. */
  sha: string;
  /** Applied? Absent: nothing known yet. */
  sync?: State;
  /** Healthy? Absent: the object checks no health (see `checked`). */
  workload?: State;
  /** The reason behind the verdict, e.g. `UpgradeFailed`, `DependencyNotReady`. */
  why: string;
}

/** One object of the repository and its verdict at its current commit. */
export interface ObjectVerdict extends CommitVerdict {
  /** `kind/namespace/name`, as in status names. */
  object: string;
  /** Whether `workload` is a health verdict: the object waits for its workloads' readiness. */
  checked: boolean;
  /** Suspended: left out of the roll-up, and named. */
  suspended?: boolean;
  /** What the object's history says of earlier commits (newest first). */
  past: CommitVerdict[];
}

const COMMIT_ANNOTATION = "event.toolkit.fluxcd.io/commit";
const SHA = /^[0-9a-f]{40}$/;

/** A condition as Flux writes it. */
interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
}

/** A source of ours: the commit it has fetched now. */
interface Source {
  sha: string | undefined;
  /** The artifact's own revision (an OCI digest revision maps back to `sha`). */
  revision: string | undefined;
}

/**
 * Every object of the repository and its verdict.
 *
 * @param objects the cluster's Flux objects, by kind
 * @param isOurs whether a git URL is the configured repository
 * @param knownShas full SHAs seen before (to expand a chart version's 12 hex)
 * @example
 * ```ts
 * const verdicts = judgeCluster(objects, (url) => sameRepository(url), []);
 * // [{ object: "kustomization/flux-system/apps", sha: "3f2a…", sync: "succeeded", … }]
 * ```
 */
export function judgeCluster(
  objects: ClusterObjects,
  isOurs: (url: string) => boolean,
  knownShas: Iterable<string> = [],
): ObjectVerdict[] {
  const git = new Map<string, Source>();
  for (const r of objects.gitRepositories) {
    if (typeof r.spec?.url !== "string" || !isOurs(r.spec.url)) continue;
    const revision = r.status?.artifact?.revision;
    git.set(keyOf(r), { sha: hashOf(revision), revision });
  }
  const oci = new Map<string, Source>();
  for (const r of objects.ociRepositories) {
    const meta = r.status?.artifact?.metadata ?? {};
    const source = meta["org.opencontainers.image.source"];
    if (typeof source !== "string" || !isOurs(source)) continue;
    oci.set(keyOf(r), {
      sha: hashOf(meta["org.opencontainers.image.revision"]),
      revision: r.status?.artifact?.revision,
    });
  }
  const charts = new Map<string, FluxObject>();
  for (const c of objects.helmCharts) charts.set(keyOf(c), c);
  const known = [...new Set([...[...git.values()].flatMap((s) => s.sha ?? []), ...knownShas])];

  const out: ObjectVerdict[] = [];
  for (const k of objects.kustomizations) {
    const ref = k.spec?.sourceRef ?? {};
    const at = `${ref.namespace ?? k.metadata.namespace ?? ""}/${ref.name}`;
    const source = ref.kind === "GitRepository"
      ? git.get(at)
      : ref.kind === "OCIRepository"
      ? oci.get(at)
      : undefined;
    const verdict = source
      ? judgeKustomization(k, source, ref.kind === "OCIRepository")
      : annotated(k);
    if (verdict) out.push(verdict);
  }
  for (const hr of objects.helmReleases) {
    const chart = chartOf(hr, charts);
    const source = chart ? git.get(chart.source) : undefined;
    const verdict = chart && source ? judgeHelmRelease(hr, chart, source, known) : annotated(hr);
    if (verdict) out.push(verdict);
  }
  return out;
}

/**
 * The parts of a Flux object the verdicts read, and nothing else: a watch keeps one copy of every
 * object, and a Kustomization's inventory or a HelmRelease's values may be large. Applied to each
 * object as it arrives (a reflector's transform, as client-go's informers have).
 *
 * @example
 * ```ts
 * slimFluxObject(kustomization).status.inventory; // undefined
 * ```
 */
export function slimFluxObject<T extends FluxObject>(o: T): T {
  const { metadata: m, spec, status } = o;
  const commit = m.annotations?.[COMMIT_ANNOTATION];
  return {
    ...(o.kind ? { kind: shared(o.kind) } : {}),
    ...("apiVersion" in o ? { apiVersion: shared((o as { apiVersion?: string }).apiVersion) } : {}),
    metadata: {
      name: m.name,
      ...(m.namespace !== undefined ? { namespace: shared(m.namespace) } : {}),
      ...(m.generation !== undefined ? { generation: m.generation } : {}),
      ...("resourceVersion" in m
        ? { resourceVersion: (m as { resourceVersion?: string }).resourceVersion }
        : {}),
      ...(commit ? { annotations: { [COMMIT_ANNOTATION]: commit } } : {}),
    },
    spec: spec && shareStrings(slimSpec(spec)),
    status: status && shareStrings({
      ...pick(status, STATUS_FIELDS),
      ...(Array.isArray(status.conditions)
        ? { conditions: status.conditions.map((c: Condition) => slimCondition(c)) }
        : {}),
      ...(status.artifact
        ? {
          artifact: {
            revision: status.artifact.revision,
            ...(status.artifact.metadata
              ? { metadata: pick(status.artifact.metadata, OCI_FIELDS) }
              : {}),
          },
        }
        : {}),
      ...(Array.isArray(status.history)
        ? { history: status.history.map((h: Record<string, unknown>) => pick(h, HISTORY_FIELDS)) }
        : {}),
    }),
  } as T;
}

/**
 * One copy of each string the copies of many objects repeat: a namespace, a condition's reason, a
 * revision, a source's name. JSON.parse gives every object its own (at 1,000 Kustomizations, 4,000
 * copies of one revision). Bounded: past {@linkcode SHARED_MAX} strings the table starts again.
 */
const sharedStrings = new Map<string, string>();
const SHARED_MAX = 4096;

function shared<S extends string | undefined>(value: S): S {
  if (value === undefined) return value;
  const held = sharedStrings.get(value);
  if (held !== undefined) return held as S;
  if (sharedStrings.size >= SHARED_MAX) sharedStrings.clear();
  sharedStrings.set(value, value);
  return value;
}

/** `value` with every string in it (at any depth) replaced by its {@linkcode shared} copy. */
function shareStrings<V>(value: V): V {
  if (typeof value === "string") return shared(value) as V;
  if (Array.isArray(value)) return value.map(shareStrings) as V;
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = shareStrings(v);
    return out as V;
  }
  return value;
}

/** A condition's fields the verdicts read; the message only where it carries a revision or a path. */
function slimCondition(c: Condition): Condition {
  const { type, status, reason, message } = c;
  const read = type === "Reconciling" || (type === "Ready" && reason === "ArtifactFailed");
  return { type, status, reason, message: read ? message : "" };
}

const SPEC_FIELDS = [
  "url",
  "sourceRef",
  "suspend",
  "wait",
  "healthChecks",
  "chart",
  "chartRef",
  "reconcileStrategy",
  "test",
  "install",
  "upgrade",
];
const STATUS_FIELDS = [
  "observedGeneration",
  "lastAppliedRevision",
  "lastAppliedOriginRevision",
  "lastAttemptedRevision",
  "lastAttemptedReleaseAction",
  "helmChart",
  "observedSourceArtifactRevision",
];
const HISTORY_FIELDS = [
  "metadata",
  "lastReconciledStatus",
  "chartVersion",
  "status",
  "action",
  "testHooks",
];
const OCI_FIELDS = ["org.opencontainers.image.source", "org.opencontainers.image.revision"];

// deno-lint-ignore no-explicit-any -- copies the named fields of a JSON object
function pick(from: Record<string, any>, fields: string[]): Record<string, any> {
  // deno-lint-ignore no-explicit-any -- as above
  const out: Record<string, any> = {};
  for (const f of fields) if (from[f] !== undefined) out[f] = from[f];
  return out;
}

/** A spec's fields the verdicts read: of health checks their count, of a chart its source. */
// deno-lint-ignore no-explicit-any -- as above
function slimSpec(spec: Record<string, any>): Record<string, any> {
  const out = pick(spec, SPEC_FIELDS);
  if (Array.isArray(out.healthChecks)) out.healthChecks = out.healthChecks.map(() => ({}));
  if (out.chart?.spec) {
    const { sourceRef, reconcileStrategy } = out.chart.spec;
    out.chart = { spec: { sourceRef, reconcileStrategy } };
  }
  return out;
}

function judgeKustomization(
  k: FluxObject,
  src: Source,
  isOci: boolean,
): ObjectVerdict | undefined {
  const s = k.status ?? {};
  const applied = isOci ? hashOf(s.lastAppliedOriginRevision) : hashOf(s.lastAppliedRevision);
  // An OCI revision is a digest: map it to the commit it was built from when we know it.
  const toSha = (rev: unknown): string | undefined =>
    !isOci
      ? hashOf(rev)
      : rev === undefined
      ? undefined
      : rev === src.revision
      ? src.sha
      : rev === s.lastAppliedRevision
      ? applied
      : undefined;
  const attempted = toSha(s.lastAttemptedRevision);
  const reconciling = condition(k, "Reconciling");
  const inProgress = toSha(
    /for revision (\S+) with a timeout of/.exec(reconciling?.message ?? "")?.[1],
  );
  const sha = inProgress ??
    (src.sha && src.sha !== applied && src.sha !== attempted
      ? src.sha
      : attempted ?? applied ?? src.sha);
  if (!sha) return undefined;
  const checked = k.spec?.wait === true || (k.spec?.healthChecks?.length ?? 0) > 0;
  const base = {
    object: id(k),
    sha,
    checked,
    past: kustomizationHistory(k, isOci, checked).filter((p) => p.sha !== sha),
  };
  const ready = condition(k, "Ready");
  const stalled = condition(k, "Stalled");
  const fresh = s.observedGeneration === k.metadata.generation;
  const failed = (why: string): ObjectVerdict => ({
    ...base,
    sync: "failed",
    workload: "canceled",
    why,
  });
  const unchecked = (state: State) => checked ? state : undefined;

  if (k.spec?.suspend === true) return { ...base, why: "Suspended", suspended: true };
  // lastAppliedRevision is written only on full success, health checks included.
  if (applied === sha && fresh) {
    return { ...base, sync: "succeeded", ...opt(unchecked("succeeded")), why: "Applied" };
  }
  if (applied === sha && !fresh) {
    return { ...base, sync: "pending", workload: "pending", why: "SpecChanged" };
  }
  if (stalled?.status === "True" && src.sha === sha) return failed(stalled.reason);
  if (ready?.status === "False" && attempted === sha) {
    if (ready.reason === "HealthCheckFailed") {
      return { ...base, sync: "succeeded", ...opt(unchecked("failed")), why: ready.reason };
    }
    if (["BuildFailed", "ReconciliationFailed", "PruneFailed"].includes(ready.reason)) {
      return failed(ready.reason);
    }
    if (ready.reason === "HealthCheckCanceled") {
      const workload = src.sha === sha ? "pending" : "canceled";
      return { ...base, sync: "succeeded", ...opt(unchecked(workload)), why: ready.reason };
    }
  }
  if (ready?.status === "False" && ready.reason === "ArtifactFailed") {
    if (/path not found/.test(ready.message) && (inProgress === sha || attempted === sha)) {
      return failed(ready.reason);
    }
  }
  if (reconciling?.reason === "Progressing" && inProgress === sha) {
    const checking = /^Running health checks/.test(reconciling.message);
    return {
      ...base,
      sync: checking ? "succeeded" : "pending",
      ...opt(unchecked("pending")),
      why: checking ? "HealthCheckRunning" : "Progressing",
    };
  }
  const waitingWhy = ready?.status === "False" ? ready.reason : "Progressing";
  return { ...base, sync: "pending", ...opt(unchecked("pending")), why: waitingWhy };
}

function kustomizationHistory(k: FluxObject, isOci: boolean, checked: boolean): CommitVerdict[] {
  const out: CommitVerdict[] = [];
  for (const h of asArray(k.status?.history)) {
    const sha = hashOf(isOci ? h?.metadata?.originRevision : h?.metadata?.revision);
    if (!sha || out.some((o) => o.sha === sha)) continue;
    const why = String(h.lastReconciledStatus ?? "");
    if (why === "ReconciliationSucceeded") {
      out.push({ sha, sync: "succeeded", ...opt(checked ? "succeeded" : undefined), why });
    } else if (why === "HealthCheckFailed") {
      out.push({ sha, sync: "succeeded", ...opt(checked ? "failed" : undefined), why });
    } else if (why === "ReconciliationFailed" || why === "PruneFailed") {
      out.push({ sha, sync: "failed", workload: "canceled", why });
    }
  }
  return out;
}

/** Where a HelmRelease's chart comes from. */
interface ChartSource {
  /** `namespace/name` of the GitRepository. */
  source: string;
  /** The HelmChart object, when it exists. */
  chart: FluxObject | undefined;
  /** Whether every commit of the source makes a new chart version. */
  perCommit: boolean;
}

function chartOf(hr: FluxObject, charts: Map<string, FluxObject>): ChartSource | undefined {
  const ns = hr.metadata.namespace ?? "";
  const template = hr.spec?.chart?.spec;
  if (template?.sourceRef?.kind === "GitRepository") {
    const sourceNs = template.sourceRef.namespace ?? ns;
    const chartKey = typeof hr.status?.helmChart === "string" && hr.status.helmChart
      ? hr.status.helmChart
      : `${sourceNs}/${ns}-${hr.metadata.name}`;
    return {
      source: `${sourceNs}/${template.sourceRef.name}`,
      chart: charts.get(chartKey),
      perCommit: template.reconcileStrategy === "Revision",
    };
  }
  const ref = hr.spec?.chartRef;
  if (ref?.kind === "HelmChart") {
    const chart = charts.get(`${ref.namespace ?? ns}/${ref.name}`);
    const source = chart?.spec?.sourceRef;
    if (source?.kind !== "GitRepository") return undefined;
    return {
      source: `${chart!.metadata.namespace ?? ""}/${source.name}`,
      chart,
      perCommit: chart!.spec?.reconcileStrategy === "Revision",
    };
  }
  return undefined;
}

function judgeHelmRelease(
  hr: FluxObject,
  chart: ChartSource,
  src: Source,
  known: string[],
): ObjectVerdict | undefined {
  const s = hr.status ?? {};
  const expand = (version: unknown): string | undefined => {
    const short = /\+([0-9a-f]{12})(\.|$)/.exec(typeof version === "string" ? version : "")?.[1];
    if (!short) return undefined;
    const candidates = [
      hashOf(chart.chart?.status?.observedSourceArtifactRevision),
      src.sha,
      ...known,
    ];
    return candidates.find((c): c is string => c !== undefined && c.startsWith(short));
  };
  const version: string | undefined = typeof s.lastAttemptedRevision === "string"
    ? s.lastAttemptedRevision
    : undefined;
  const attempted = expand(version);
  const sha = chart.perCommit && src.sha && src.sha !== attempted ? src.sha : attempted;
  if (!sha) return undefined;
  const action = s.lastAttemptedReleaseAction === "install" ? "install" : "upgrade";
  const tests = hr.spec?.test?.enable === true && hr.spec.test.ignoreFailures !== true &&
    hr.spec?.[action]?.remediation?.ignoreTestFailures !== true;
  const waits = hr.spec?.[action]?.disableWait !== true;
  const checked = tests || waits;
  const past = helmHistory(hr, expand, checked).filter((p) => p.sha !== sha);
  const base = { object: id(hr), sha, checked, past };
  if (hr.spec?.suspend === true) return { ...base, why: "Suspended", suspended: true };
  if (attempted !== sha) {
    return { ...base, sync: "pending", workload: "pending", why: "ChartPending" };
  }
  const ready = condition(hr, "Ready");
  const released = condition(hr, "Released");
  const remediated = condition(hr, "Remediated");
  const stalled = condition(hr, "Stalled");
  const reconciling = condition(hr, "Reconciling");
  if (
    stalled?.status === "True" && ["InvalidCELExpression", "AccessDenied"].includes(stalled.reason)
  ) {
    return { ...base, sync: "failed", workload: "canceled", why: stalled.reason };
  }
  if (reconciling?.reason === "Progressing" && /^Running 'test'/.test(reconciling.message)) {
    return { ...base, sync: "succeeded", workload: "pending", why: "TestRunning" };
  }
  if (
    reconciling?.reason === "Progressing" &&
    /^Running '(install|upgrade)'/.test(reconciling.message)
  ) {
    return { ...base, sync: "pending", workload: "pending", why: "Progressing" };
  }
  if (remediated && ready?.status === "False") {
    return { ...base, sync: "failed", workload: "failed", why: released?.reason ?? ready.reason };
  }
  if (
    released?.status === "False" && ["InstallFailed", "UpgradeFailed"].includes(released.reason)
  ) {
    return { ...base, sync: "failed", workload: "failed", why: released.reason };
  }
  const head = asArray(s.history)[0];
  if (
    released?.status === "True" && head?.chartVersion === version && head?.status === "deployed"
  ) {
    const test = condition(hr, "TestSuccess");
    const workload: State | undefined = tests
      ? test?.status === "True" ? "succeeded" : test?.status === "False" ? "failed" : "pending"
      : waits
      ? "succeeded"
      : undefined;
    const why = tests && test ? test.reason : released.reason;
    return { ...base, sync: "succeeded", ...opt(workload), why };
  }
  const waitingWhy = ready?.status === "False" ? ready.reason : "Progressing";
  return { ...base, sync: "pending", workload: "pending", why: waitingWhy };
}

function helmHistory(
  hr: FluxObject,
  expand: (version: unknown) => string | undefined,
  checked: boolean,
): CommitVerdict[] {
  const out: CommitVerdict[] = [];
  for (const h of asArray(hr.status?.history)) {
    const sha = expand(h?.chartVersion);
    // A rollback redeploys an older chart: it says nothing new of that commit.
    if (!sha || h.action === "rollback" || out.some((o) => o.sha === sha)) continue;
    const hooks = Object.values(h.testHooks ?? {}) as { phase?: string }[];
    const testFailed = hooks.some((t) => t?.phase === "Failed");
    if ((h.status === "deployed" || h.status === "superseded") && !testFailed) {
      out.push({
        sha,
        sync: "succeeded",
        ...opt(checked ? "succeeded" : undefined),
        why: "Released",
      });
    } else if (h.status === "failed" || testFailed) {
      out.push({
        sha,
        sync: testFailed ? "succeeded" : "failed",
        workload: "failed",
        why: "Failed",
      });
    }
  }
  return out;
}

/** An object of another source that names its commit in the annotation, once it acted on it. */
function annotated(o: FluxObject): ObjectVerdict | undefined {
  const sha = o.metadata.annotations?.[COMMIT_ANNOTATION];
  if (!sha || !SHA.test(sha)) return undefined;
  if (o.status?.observedGeneration !== o.metadata.generation) return undefined;
  const ready = condition(o, "Ready");
  const state: State = ready?.status === "True"
    ? "succeeded"
    : ready?.status === "False" && !condition(o, "Reconciling")
    ? "failed"
    : "pending";
  return {
    object: id(o),
    sha,
    sync: state,
    workload: state,
    why: ready?.reason ?? "Progressing",
    checked: true,
    past: [],
    ...(o.spec?.suspend === true ? { suspended: true } : {}),
  };
}

function condition(o: FluxObject, type: string): Condition | undefined {
  const found = asArray(o.status?.conditions).find((c) => c?.type === type);
  return found && typeof found.reason === "string"
    ? { ...found, message: String(found.message ?? "") }
    : undefined;
}

// deno-lint-ignore no-explicit-any -- status fields are checked where read
function asArray(value: unknown): any[] {
  return Array.isArray(value) ? value : [];
}

function hashOf(revision: unknown): string | undefined {
  return typeof revision === "string" ? commitOf({ revision }) : undefined;
}

function keyOf(o: FluxObject): string {
  return `${o.metadata.namespace ?? ""}/${o.metadata.name}`;
}

function id(o: FluxObject): string {
  return objectId(o.kind ?? "", o.metadata.namespace ?? "", o.metadata.name);
}

function opt(workload: State | undefined): { workload?: State } {
  return workload ? { workload } : {};
}
