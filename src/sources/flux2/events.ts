/**
 * Flux v2 notification-controller events (docs/flux2-events.md): the valibot schema of what nc POSTs to a
 * `generic` / `generic-hmac` Provider, the commit an event is about, and what its (controller,
 * reason, severity) means for the object's `sync` (applied?) and `workload` (healthy?) statuses.
 *
 * How each verdict is decided (docs/flux2-events.md §4; README "Flux v2 verdicts" says the same):
 *
 * | object | event | sync | workload |
 * | --- | --- | --- | --- |
 * | Kustomization | `Progressing` with a change set | succeeded | pending |
 * | Kustomization | `Progressing` "Health check passed" | succeeded | succeeded |
 * | Kustomization | `ReconciliationSucceeded` (sent after health checks when it has them) | succeeded | succeeded |
 * | Kustomization | `HealthCheckFailed` | succeeded | failed |
 * | Kustomization | `HealthCheckCanceled` (a newer run started) | – | canceled |
 * | Kustomization | `DependencyNotReady` | pending | pending |
 * | Kustomization | any other error (`ReconciliationFailed`, `BuildFailed`, …) | failed | failed |
 * | HelmRelease | `InstallSucceeded`, `UpgradeSucceeded` (Helm waited for readiness) | succeeded | succeeded |
 * | HelmRelease | `TestSucceeded` / `TestFailed` | – | succeeded / failed |
 * | HelmRelease | `InstallFailed`, `UpgradeFailed`, any other error | failed | failed |
 * | HelmRelease | `RollbackSucceeded`, `UninstallSucceeded` (remediation of a failed attempt) | failed | failed |
 * | HelmRelease | `DependencyNotReady` | pending | pending |
 *
 * Anything else (source-controller events, unknown info reasons) sets nothing. A failure is not
 * the end: kustomize-controller and helm-controller retry, and a later event for the same commit
 * (by its timestamp) moves the status on, so a `Progressing` after a `ReconciliationFailed` reopens
 * it. Events arrive in no order (docs/flux2-events.md §6), so an event older than the last one applied
 * to a status changes nothing, and at the same second a final state beats a pending one.
 *
 * @module
 */
import * as v from "valibot";
import { checkEvent, decodeJson } from "../flux/events.ts";
import { objectId } from "./object_id.ts";
import type { Action, State } from "../../notifiers/notifier.ts";

/**
 * A notification-controller event, as validated.
 *
 * @ignore
 */
export const Flux2EventSchema = v.object({
  involvedObject: v.object({
    kind: v.pipe(v.string(), v.regex(/^[A-Za-z0-9]+$/, "expected a Kubernetes kind")),
    namespace: v.optional(v.pipe(v.string(), v.regex(/^[a-z0-9.-]*$/, "expected a namespace")), ""),
    name: v.pipe(v.string(), v.regex(/^[a-z0-9.-]+$/, "expected a Kubernetes name")),
    uid: v.optional(v.string()),
  }),
  severity: v.picklist(["info", "error", "trace"]),
  timestamp: v.pipe(
    v.string(),
    v.check((t) => !Number.isNaN(Date.parse(t)), "expected an RFC 3339 time"),
  ),
  message: v.optional(v.string(), ""),
  reason: v.optional(v.string(), ""),
  metadata: v.optional(v.record(v.string(), v.string())),
  reportingController: v.optional(v.string()),
  reportingInstance: v.optional(v.string()),
});

/** A validated event. */
export type Flux2Event = v.InferOutput<typeof Flux2EventSchema>;

/** What one event means for one object's statuses on one commit. */
export interface Flux2Outcome {
  /** `kind/namespace/name`, lower-case kind: the object's part of the status name. */
  object: string;
  /** The commit, when the event names one. */
  sha?: string;
  /** The event's time (epoch ms, whole seconds). */
  at: number;
  /** The states it sets, by action (none: the event sets nothing). */
  states: { action: Action; state: State; description: string }[];
  /** The event's reason, for logs. */
  reason: string;
}

type Verdict = { sync?: State; workload?: State };

/** Known reasons per kind; `error` covers any other error-severity reason of that kind. */
const VERDICTS: Record<string, Record<string, Verdict>> = {
  kustomization: {
    DependencyNotReady: { sync: "pending", workload: "pending" },
    ReconciliationSucceeded: { sync: "succeeded", workload: "succeeded" },
    HealthCheckFailed: { sync: "succeeded", workload: "failed" },
    HealthCheckCanceled: { workload: "canceled" },
    error: { sync: "failed", workload: "failed" },
  },
  helmrelease: {
    DependencyNotReady: { sync: "pending", workload: "pending" },
    InstallSucceeded: { sync: "succeeded", workload: "succeeded" },
    UpgradeSucceeded: { sync: "succeeded", workload: "succeeded" },
    TestSucceeded: { workload: "succeeded" },
    TestFailed: { workload: "failed" },
    RollbackSucceeded: { sync: "failed", workload: "failed" },
    UninstallSucceeded: { sync: "failed", workload: "failed" },
    error: { sync: "failed", workload: "failed" },
  },
};

/**
 * Decodes and validates a notification-controller event body.
 *
 * @throws {EventError} naming the JSON path of each problem
 */
export function parseFlux2Event(body: string): Flux2Event {
  return checkEvent(Flux2EventSchema, decodeJson(body));
}

/**
 * The git commit an event is about (docs/flux2-events.md §3, as nc's `parseRevision`): the first of
 * `commit`, `originRevision`, `revision`; the part after the last `:`, else after the last `/`;
 * only a full 40-hex SHA-1 counts (a `sha256:` digest, a chart version or a short sha do not).
 *
 * @example
 * ```ts
 * commitOf({ revision: "main@sha1:3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39" }); // "3f2a9c1d…"
 * commitOf({ revision: "6.7.1" }); // undefined
 * ```
 */
export function commitOf(metadata: Record<string, string> | undefined): string | undefined {
  const revision = metadata?.commit ?? metadata?.originRevision ?? metadata?.revision;
  if (!revision) return undefined;
  const colon = revision.lastIndexOf(":");
  const hash = colon >= 0
    ? revision.slice(colon + 1)
    : revision.slice(revision.lastIndexOf("/") + 1);
  return /^[0-9a-f]{40}$/.test(hash) ? hash : undefined;
}

/**
 * What an event means for its object's statuses.
 *
 * @example
 * ```ts
 * flux2Outcome(parseFlux2Event(body)).states; // [{ action: "sync", state: "succeeded", … }, …]
 * ```
 */
export function flux2Outcome(event: Flux2Event): Flux2Outcome {
  const { kind, namespace, name } = event.involvedObject;
  const object = objectId(kind, namespace, name);
  const sha = commitOf(event.metadata);
  const base = { object, at: Date.parse(event.timestamp), reason: event.reason };
  const verdict = verdictOf(kind.toLowerCase(), event);
  const states: Flux2Outcome["states"] = [];
  for (const action of ["sync", "workload"] as const) {
    const state = verdict[action];
    if (state) states.push({ action, state, description: describe(event, action, state) });
  }
  return { ...base, ...(sha ? { sha } : {}), states };
}

function verdictOf(kind: string, event: Flux2Event): Verdict {
  const table = VERDICTS[kind];
  if (!table) return {};
  const known = table[event.reason];
  if (known) return known;
  if (event.severity === "error") return table.error ?? {};
  if (kind === "kustomization" && event.reason === "Progressing") {
    return /^Health check passed/.test(event.message)
      ? { sync: "succeeded", workload: "succeeded" }
      : { sync: "succeeded", workload: "pending" };
  }
  return {};
}

/** Longest part of the controller's message kept in a description. */
const MESSAGE_CHARS = 200;

function describe(event: Flux2Event, action: Action, state: State): string {
  const message = event.message.trim().replace(/\s*\n\s*/g, "; ").slice(0, MESSAGE_CHARS);
  if (state === "pending") {
    return event.reason === "DependencyNotReady"
      ? "Waiting for dependencies"
      : action === "workload"
      ? "Applied, waiting for the reconciliation to finish"
      : "Waiting";
  }
  // One wording per success, so the same verdict from another event is not sent again.
  if (state === "succeeded") return action === "sync" ? "Applied" : "Healthy";
  return `${event.reason}: ${message}`;
}
