/**
 * fluxd's own HTTP API (docs/flux-protocol.md §7), the fallback for workload checks when no WebSocket
 * is open: `GET /api/flux/v11/services?services=<id>,<id>`.
 *
 * @module
 */
import type { WorkloadStatus } from "./rollout.ts";

/**
 * Lists the named workloads through fluxd's HTTP API.
 *
 * @param fluxUrl fluxd's API base, e.g. `http://localhost:3030`
 * @param ids workload IDs
 * @param signal aborts the request
 * @throws {Error} on a network error or a non-2xx answer
 */
export async function listServicesOverHttp(
  fluxUrl: string,
  ids: readonly string[],
  signal?: AbortSignal,
): Promise<WorkloadStatus[]> {
  const url = `${fluxUrl.replace(/\/+$/, "")}/api/flux/v11/services?services=${
    encodeURIComponent(ids.join(","))
  }`;
  const timeout = AbortSignal.timeout(10_000);
  let res: Response;
  try {
    res = await fetch(url, {
      headers: { accept: "application/json" },
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
  } catch (err) {
    throw new Error(`Cannot reach fluxd's API at ${fluxUrl}`, { cause: err });
  }
  const text = await res.text();
  if (!res.ok) {
    let message = text.trim();
    try {
      message = (JSON.parse(text) as { error?: string }).error ?? message;
    } catch { /* plain text */ }
    throw new Error(`fluxd's API answered ${res.status}: ${message.slice(0, 200)}`);
  }
  try {
    return (JSON.parse(text) as WorkloadStatus[] | null) ?? [];
  } catch (err) {
    throw new Error("fluxd's API answered with a body that is not JSON", { cause: err });
  }
}
