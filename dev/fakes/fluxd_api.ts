/**
 * fluxd's HTTP API (docs/flux-protocol.md §7) as a test double: `/api/flux/v11/services` with its
 * `namespace`/`services` filters and error answers, `/api/flux/v11/ping`, `/v1`–`/v5` → 410.
 *
 * @module
 */
import type { ControllerStatus } from "./fluxd.ts";
import { goJson } from "./fluxd.ts";

const ID = /^(<cluster>|[a-zA-Z0-9_-]+):([a-zA-Z0-9_-]+)\/([a-zA-Z0-9_.:-]+)$/;

/** A running fake fluxd API. */
export interface FakeFluxdApi extends AsyncDisposable {
  /** Base URL, for `--flux-url`. */
  url: string;
  /** Paths and queries requested, in order. */
  requests: string[];
}

/** Starts the fake on a free loopback port; `services` is asked on every list request. */
export function startFakeFluxdApi(services: () => ControllerStatus[]): FakeFluxdApi {
  const requests: string[] = [];
  const error = (status: number, type: string, message: string, accept: string | null) =>
    accept?.includes("application/json")
      ? new Response(goJson({ type, help: message, error: message }), {
        status,
        headers: { "content-type": "application/json; charset=utf-8" },
      })
      : new Response(message, { status, headers: { "content-type": "text/plain; charset=utf-8" } });

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    requests.push(url.pathname + url.search);
    const accept = req.headers.get("accept");
    if (/^\/api\/flux\/v[1-5]\//.test(url.pathname)) {
      return error(410, "user", "API version is no longer supported", accept);
    }
    if (url.pathname === "/api/flux/v11/ping") return new Response(null, { status: 204 });
    if (url.pathname === "/api/flux/v11/services" || url.pathname === "/api/flux/v6/services") {
      const namespace = url.searchParams.get("namespace");
      const wanted = url.searchParams.get("services");
      if (namespace && wanted) {
        return error(
          422,
          "user",
          "cannot filter by 'namespace' and 'workloads' at the same time",
          accept,
        );
      }
      let list = services();
      if (wanted) {
        const ids = wanted.split(",");
        const bad = ids.find((id) => !ID.test(id));
        if (bad) return error(400, "user", `parsing resource ID ${JSON.stringify(bad)}`, accept);
        list = list.filter((w) => ids.includes(w.ID));
      } else if (namespace) list = list.filter((w) => w.ID.startsWith(`${namespace}:`));
      return new Response(goJson(list.length ? list : null), {
        headers: { "content-type": "application/json; charset=utf-8" },
      });
    }
    return error(404, "missing", "API endpoint not found", accept);
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}
