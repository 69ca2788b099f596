/**
 * README's Flux v2 verdict table is what the code does: each row's reasons go through
 * flux2Outcome, and the statuses it sets must be the row's.
 */
import assert from "node:assert/strict";
import { type Flux2Event, flux2Outcome } from "../../src/sources/flux2/events.ts";

const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));

/** The table's rows: object, event cell, sync cell, workload cell. */
function rows(): [string, string, string, string][] {
  const start = readme.indexOf("**Flux v2 verdicts.**");
  const lines = readme.slice(start).split("\n").filter((l) =>
    /^\s*\| (Kustomization|HelmRelease) /.test(l)
  );
  return lines.map((l) =>
    l.split("|").slice(1, 5).map((c) => c.trim()) as [string, string, string, string]
  );
}

function event(
  kind: string,
  reason: string,
  severity: "info" | "error",
  message: string,
): Flux2Event {
  return {
    involvedObject: { kind, namespace: "flux-system", name: "apps", uid: "u", apiVersion: "v1" },
    severity,
    timestamp: "2026-12-05T10:00:00Z",
    message,
    reason,
    metadata: { revision: `main@sha1:${"a".repeat(40)}` },
    reportingController: "kustomize-controller",
  } as Flux2Event;
}

const SEVERITY: Record<string, "info" | "error"> = {
  HealthCheckFailed: "error",
  ReconciliationFailed: "error",
  BuildFailed: "error",
  InstallFailed: "error",
  UpgradeFailed: "error",
  TestFailed: "error",
};

Deno.test("README's Flux v2 verdict table matches flux2Outcome, row by row", () => {
  const table = rows();
  assert.ok(table.length >= 11, `${table.length} rows`);
  for (const [kind, cell, sync, workload] of table) {
    const reasons = [...cell.matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1]!);
    assert.ok(reasons.length > 0, cell);
    const [syncWant, workloadWant] = [sync, workload].map((c) => c.split(" / "));
    reasons.forEach((reason, i) => {
      const message = reason === "Progressing" ? "Deployment/apps/web configured" : "details";
      const out = flux2Outcome(event(kind, reason, SEVERITY[reason] ?? "info", message));
      const got = (action: string) => out.states.find((s) => s.action === action)?.state ?? "";
      const want = (w: string[]) =>
        ({ "✔": "succeeded", "✘": "failed" } as Record<string, string>)[w[i] ?? w[0]!] ??
          (w[i] ?? w[0]!);
      assert.equal(got("sync"), want(syncWant!), `${kind} ${reason}: sync`);
      assert.equal(got("workload"), want(workloadWant!), `${kind} ${reason}: workload`);
    });
  }
});
