/**
 * fluxd sync events of any size, shaped as fluxd sends them (docs/flux-protocol.md §5): for tests and
 * the scale probe that drive the event route with what a large platform repository produces.
 *
 * @module
 */

/** The head commit of every generated commit list. */
export const HEAD = "2f0ab35ccef1a06269ce618a6f1b01e7332b69b9";

/** A 40-hex SHA from a number. */
export const shaOf = (i: number): string => i.toString(16).padStart(40, "0");

/** A sync event object with `metadata` and `serviceIDs`. */
export function syncEvent(metadata: Record<string, unknown>, serviceIDs: string[] = []) {
  return {
    id: 0,
    serviceIDs,
    type: "sync",
    startedAt: "2021-03-22T20:12:00.000913377Z",
    endedAt: "2021-03-22T20:12:00.000913377Z",
    logLevel: "info",
    metadata,
  };
}

/** `n` commits, newest first: {@linkcode HEAD} first when `from` is 0, else generated SHAs. */
export function commitList(n: number, from = 0): { revision: string; message: string }[] {
  return Array.from({ length: n }, (_, i) => ({
    revision: from === 0 && i === 0 ? HEAD : shaOf(from + i + 1),
    message: `Commit number ${i} of a long-lived platform repository`,
  }));
}

/** `n` resource errors with IDs of realistic length. */
export function resourceErrors(n: number): { ID: string; Path: string; Error: string }[] {
  return Array.from({ length: n }, (_, i) => ({
    ID: `platform-team-${i % 40}:deployment/checkout-service-worker-${i}`,
    Path: `apps/team-${i % 40}/service-${i}/deployment.yaml`,
    Error: "running kubectl: exit status 1, stderr: error validating data: unknown field",
  }));
}

/** `n` workload IDs of realistic length. */
export function workloadIds(n: number): string[] {
  return Array.from(
    { length: n },
    (_, i) => `platform-team-${i % 30}:deployment/microservice-number-${i}`,
  );
}
