/**
 * Where workload states come from: fluxd's RPC `ListServices` over the open WebSocket (filtered
 * here, as fluxd serves no `ListServicesWithOptions` over RPC), else fluxd's HTTP API.
 *
 * @module
 */
import { listServicesOverHttp } from "./api.ts";
import type { FluxLink } from "./link.ts";
import type { WorkloadStatus } from "./rollout.ts";
import type { Envelope } from "./rpc.ts";

/** Lists workloads by ID; throws when fluxd cannot be asked at all. */
export type ListWorkloads = (
  ids: readonly string[],
  signal?: AbortSignal,
) => Promise<WorkloadStatus[]>;

/**
 * Creates the workload lister: RPC when a socket is open, HTTP API otherwise (or when RPC fails).
 *
 * @param link the daemon's fluxd link
 * @param fluxUrl fluxd's HTTP API base
 */
export function createWorkloadLister(link: FluxLink, fluxUrl: string): ListWorkloads {
  return async (ids, signal) => {
    let rpcFailure = "no WebSocket from fluxd is open";
    const rpc = link.rpc;
    if (rpc) {
      try {
        const reply = await rpc.call<Envelope<WorkloadStatus[] | null> | WorkloadStatus[] | null>(
          "ListServices",
          "",
          signal,
        );
        // fluxd 1.0.0 (/v6) answers the bare list; later versions wrap it.
        if (Array.isArray(reply) || reply === null) return filter(reply ?? [], ids);
        if (reply.ApplicationError) {
          throw new Error(reply.ApplicationError.error ?? reply.ApplicationError.type);
        }
        return filter(reply.Result ?? [], ids);
      } catch (err) {
        link.recordRpcError();
        rpcFailure = `ListServices over the WebSocket failed: ${(err as Error).message}`;
      }
    }
    try {
      return await listServicesOverHttp(fluxUrl, ids, signal);
    } catch (err) {
      throw new Error(`${rpcFailure}; ${(err as Error).message}`);
    }
  };
}

function filter(list: WorkloadStatus[], ids: readonly string[]): WorkloadStatus[] {
  const wanted = new Set(ids);
  return list.filter((w) => wanted.has(w.ID));
}
