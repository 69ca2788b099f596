/**
 * A fake Kubernetes apiserver serving Flux's custom resources, written from docs/kubernetes-api.md
 * ("What the fake apiserver reproduces"): HTTPS with the test CA, bearer tokens, one global decimal
 * resourceVersion bumped by every write, generation bumped by spec changes only, paged lists,
 * watches that replay retained events from a resourceVersion then stream live ones (one JSON
 * object and `\n` per event), bookmarks, 200 + an ERROR 410 event for a watch from before a
 * compaction, clean ends at `timeoutSeconds`, `sendInitialEvents` refused with 422, and the
 * apiserver's error bodies: 401 and 403 Status JSON (the RBAC wording), a plain-text 404 for a
 * resource not served, injectable 429/5xx. Every object stored is validated against its CRD.
 *
 * @module
 */
import { fluxCrds, type ServedCrd } from "./flux_crds.ts";
import { Changes } from "./_server.ts";

const TLS_DIR = new URL("../fixtures/tls/", import.meta.url);

/** An object as stored. */
// deno-lint-ignore no-explicit-any -- objects are free-form JSON
export type Obj = { apiVersion?: string; kind?: string; metadata: any; spec?: any; status?: any };

interface Stored {
  rv: number;
  type: "ADDED" | "MODIFIED" | "DELETED";
  plural: string;
  object: Obj;
}

interface Watcher {
  plural: string;
  namespace: string | undefined;
  send(event: { type: string; object: unknown }): void;
  end(): void;
}

/** One request the fake answered. */
export interface KubeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  status: number;
}

/** Options of {@linkcode startKubeApiserver}. */
export interface KubeApiserverOptions {
  /** The bearer token accepted. @default "kube-token" */
  token?: string;
  /** The caller's name in 403 messages. */
  user?: string;
  /** Longest watch, in seconds, whatever the client asks. @default 600 */
  maxWatchSeconds?: number;
}

/** A running fake apiserver. */
export interface KubeApiserver {
  /** `https://localhost:<port>`. */
  url: string;
  /** The CA certificate (PEM) to trust it with. */
  ca: string;
  /** The token accepted now; set to rotate. */
  token: string;
  /** Every request answered, in order. */
  requests: KubeRequest[];
  /** Stores an object (create or replace, spec and status): the fake bumps rv and generation. */
  apply(object: Obj): Obj;
  /** Deletes an object. */
  remove(kind: string, namespace: string, name: string): void;
  /** Forgets every event so far: a watch or a paged list from before gets 410. */
  compact(): void;
  /** Ends every watch stream cleanly, as a restarting apiserver does. */
  dropWatches(): void;
  /** Sends a bookmark on every watch. */
  bookmark(): void;
  /** Refuses `verb` on a resource (`kustomizations`) with RBAC's 403; `allow` lifts it. */
  forbid(verb: string, plural: string): void;
  allow(verb: string, plural: string): void;
  /** Stops serving a resource (its CRD is gone): plain-text 404. */
  unserve(plural: string): void;
  /** The next `count` requests get `status` (429: plain text with Retry-After). */
  failNext(count: number, status: number): void;
  /** Answers nothing at all until `resume` (an apiserver outage): connections are refused. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Open watch streams. */
  readonly watchers: number;
  /** A Lease (`coordination.k8s.io/v1`) as stored, if any. */
  lease(namespace: string, name: string): Obj | undefined;
  /** Resolves when `predicate` holds after a request (or now). */
  waitFor(predicate: () => boolean, what?: string): Promise<void>;
  close(): Promise<void>;
}

/** Starts the fake on a free loopback port. */
export function startKubeApiserver(options: KubeApiserverOptions = {}): KubeApiserver {
  const crds = new Map<string, ServedCrd>(fluxCrds().map((c) => [c.plural, c]));
  const objects = new Map<string, Map<string, Obj>>();
  const history: Stored[] = [];
  const watchers = new Set<Watcher>();
  const forbidden = new Set<string>();
  const leases = new Map<string, Obj>();
  const unserved = new Set<string>();
  const faults: number[] = [];
  const requests: KubeRequest[] = [];
  const changes = new Changes("fake apiserver");
  const user = options.user ?? "system:serviceaccount:flux-system:flux-status";
  const maxWatchSeconds = options.maxWatchSeconds ?? 600;
  let rv = 1000;
  let compactedBelow = 0;
  let server: Deno.HttpServer<Deno.NetAddr>;
  let port = 0;
  const cert = Deno.readTextFileSync(new URL("server.pem", TLS_DIR));
  const key = Deno.readTextFileSync(new URL("server-key.pem", TLS_DIR));

  const crdOfKind = (kind: string) => [...crds.values()].find((c) => c.kind === kind);
  const store = (plural: string) => {
    let m = objects.get(plural);
    if (!m) objects.set(plural, m = new Map());
    return m;
  };
  const keyOf = (o: Obj) => `${o.metadata.namespace ?? ""}/${o.metadata.name}`;

  function record(type: Stored["type"], plural: string, object: Obj): void {
    const snapshot = structuredClone(object);
    history.push({ rv, type, plural, object: snapshot });
    for (const w of watchers) {
      if (w.plural !== plural) continue;
      if (w.namespace && w.namespace !== object.metadata.namespace) continue;
      w.send({ type, object: snapshot });
    }
  }

  const fake: KubeApiserver = {
    url: "",
    ca: Deno.readTextFileSync(new URL("ca.pem", TLS_DIR)),
    token: options.token ?? "kube-token",
    requests,
    apply(input) {
      const crd = crdOfKind(input.kind ?? "");
      if (!crd) throw new Error(`fake apiserver: no CRD serves kind ${input.kind}`);
      const object: Obj = structuredClone(input);
      object.apiVersion = `${crd.group}/${crd.version}`;
      const errors = crd.validate(object);
      if (errors.length > 0) {
        throw new Error(`fake apiserver: ${keyOf(object)} is invalid: ${errors.join("; ")}`);
      }
      const held = store(crd.plural).get(keyOf(object));
      const specChanged = !held || JSON.stringify(held.spec) !== JSON.stringify(object.spec);
      const generation = held
        ? held.metadata.generation + (specChanged ? 1 : 0)
        : object.metadata.generation ?? 1;
      object.metadata = {
        ...object.metadata,
        generation,
        uid: held?.metadata.uid ?? object.metadata.uid ?? crypto.randomUUID(),
      };
      // A write that changes nothing is no write: no new resourceVersion, no event.
      if (held) {
        const { resourceVersion: _, ...a } = held.metadata;
        const { resourceVersion: __, ...b } = object.metadata;
        const same = JSON.stringify({ ...held, metadata: a }) ===
          JSON.stringify({ ...object, metadata: b });
        if (same) return structuredClone(held);
      }
      rv++;
      object.metadata.resourceVersion = String(rv);
      store(crd.plural).set(keyOf(object), object);
      record(held ? "MODIFIED" : "ADDED", crd.plural, object);
      return structuredClone(object);
    },
    remove(kind, namespace, name) {
      const crd = crdOfKind(kind)!;
      const held = store(crd.plural).get(`${namespace}/${name}`);
      if (!held) return;
      store(crd.plural).delete(`${namespace}/${name}`);
      rv++;
      record("DELETED", crd.plural, {
        ...held,
        metadata: { ...held.metadata, resourceVersion: String(rv) },
      });
    },
    compact() {
      compactedBelow = rv;
      history.length = 0;
    },
    dropWatches() {
      for (const w of [...watchers]) w.end();
    },
    bookmark() {
      for (const w of watchers) {
        const crd = crds.get(w.plural)!;
        w.send({
          type: "BOOKMARK",
          object: {
            kind: crd.kind,
            apiVersion: `${crd.group}/${crd.version}`,
            metadata: { resourceVersion: String(rv) },
          },
        });
      }
    },
    forbid: (verb, plural) => void forbidden.add(`${verb} ${plural}`),
    allow: (verb, plural) => void forbidden.delete(`${verb} ${plural}`),
    unserve: (plural) => void unserved.add(plural),
    failNext(count, status) {
      for (let i = 0; i < count; i++) faults.push(status);
    },
    async pause() {
      fake.dropWatches();
      await server.shutdown();
    },
    // deno-lint-ignore require-await -- the same shape as pause
    async resume() {
      listen(port);
    },
    get watchers() {
      return watchers.size;
    },
    lease: (namespace, name) => structuredClone(leases.get(`${namespace}/${name}`)),
    waitFor: (predicate, what) => changes.waitFor(predicate, what),
    async close() {
      fake.dropWatches();
      await server.shutdown().catch(() => {});
    },
  };

  /** Leases: the CRUD client-go's election uses (docs/kubernetes-api.md, "Leader election"). */
  async function handleLease(
    request: Request,
    namespace: string,
    name?: string,
  ): Promise<Response> {
    const verb = request.method === "GET" ? "get" : request.method === "POST" ? "create" : "update";
    if (forbidden.has(`${verb} leases`)) {
      return status(
        403,
        "Forbidden",
        `leases.coordination.k8s.io${
          name ? ` "${name}"` : ""
        } is forbidden: User "${user}" cannot ${verb} resource "leases" in API group "coordination.k8s.io" in the namespace "${namespace}"`,
        { group: "coordination.k8s.io", kind: "leases", ...(name ? { name } : {}) },
      );
    }
    const notFound = (n: string) =>
      status(404, "NotFound", `leases.coordination.k8s.io "${n}" not found`, {
        name: n,
        group: "coordination.k8s.io",
        kind: "leases",
      });
    const store = (lease: Obj, fresh: boolean) => {
      rv++;
      lease.apiVersion = "coordination.k8s.io/v1";
      lease.kind = "Lease";
      lease.metadata = {
        ...lease.metadata,
        namespace,
        resourceVersion: String(rv),
        uid: fresh ? crypto.randomUUID() : lease.metadata.uid,
      };
      leases.set(`${namespace}/${lease.metadata.name}`, lease);
      return Response.json(lease, { status: fresh ? 201 : 200 });
    };
    if (request.method === "GET") {
      const held = name ? leases.get(`${namespace}/${name}`) : undefined;
      return held ? Response.json(held) : notFound(name ?? "");
    }
    const body = await request.json() as Obj;
    const key = `${namespace}/${body.metadata?.name}`;
    if (request.method === "POST") {
      if (leases.has(key)) {
        return status(
          409,
          "AlreadyExists",
          `leases.coordination.k8s.io "${body.metadata.name}" already exists`,
        );
      }
      return store(body, true);
    }
    const held = leases.get(key);
    if (!held) return store(body, true); // PUT creates a missing Lease
    if (!body.metadata?.resourceVersion) {
      return status(
        422,
        "Invalid",
        `Lease.coordination.k8s.io "${body.metadata.name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`,
      );
    }
    if (body.metadata.resourceVersion !== held.metadata.resourceVersion) {
      return status(
        409,
        "Conflict",
        `Operation cannot be fulfilled on leases.coordination.k8s.io "${body.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    return store({ ...body, metadata: { ...body.metadata, uid: held.metadata.uid } }, false);
  }

  async function handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const auth = request.headers.get("authorization");
    if (auth !== `Bearer ${fake.token}`) {
      return status(401, "Unauthorized", "Unauthorized");
    }
    const fault = faults.shift();
    if (fault === 429) {
      return new Response("Too many requests, please try again later.\n", {
        status: 429,
        headers: { "content-type": "text/plain; charset=utf-8", "retry-after": "1" },
      });
    }
    if (fault) {
      const reason = fault === 503
        ? "ServiceUnavailable"
        : fault === 504
        ? "Timeout"
        : "InternalError";
      return status(fault, reason, `Internal error occurred: injected ${fault}`);
    }
    const m = /^\/apis\/([^/]+)\/([^/]+)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?$/.exec(
      url.pathname,
    );
    if (m && m[1] === "coordination.k8s.io" && m[2] === "v1" && m[4] === "leases" && m[3]) {
      return await handleLease(request, m[3], m[5]);
    }
    const crd = m ? crds.get(m[4]!) : undefined;
    const namespace = m?.[3], name = m?.[5];
    const query = url.searchParams;
    const watch = query.get("watch") === "true";
    const verb = name ? "get" : watch ? "watch" : "list";
    if (crd && forbidden.has(`${verb} ${crd.plural}`)) {
      const scope = namespace ? `in the namespace "${namespace}"` : "at the cluster scope";
      return status(
        403,
        "Forbidden",
        `${crd.plural}.${crd.group}${
          name ? ` "${name}"` : ""
        } is forbidden: User "${user}" cannot ${verb} resource "${crd.plural}" in API group "${crd.group}" ${scope}`,
        { group: crd.group, kind: crd.plural, ...(name ? { name } : {}) },
      );
    }
    if (
      !crd || request.method !== "GET" || m![1] !== crd.group || m![2] !== crd.version ||
      unserved.has(crd.plural)
    ) {
      return new Response("404 page not found\n", {
        status: 404,
        headers: { "content-type": "text/plain; charset=utf-8" },
      });
    }
    if (name) {
      const held = store(crd.plural).get(`${namespace}/${name}`);
      if (!held) {
        return status(404, "NotFound", `${crd.plural}.${crd.group} "${name}" not found`, {
          name,
          group: crd.group,
          kind: crd.plural,
        });
      }
      return Response.json(held);
    }
    if (watch) return startWatch(crd, namespace, query);
    return list(crd, namespace, query);
  }

  function inScope(o: Obj, namespace: string | undefined): boolean {
    return !namespace || o.metadata.namespace === namespace;
  }

  function list(crd: ServedCrd, namespace: string | undefined, query: URLSearchParams): Response {
    const limit = Number(query.get("limit") ?? 0);
    let offset = 0;
    let at = rv;
    const token = query.get("continue");
    if (token) {
      const parsed = JSON.parse(atob(token)) as { rv: number; offset: number };
      if (parsed.rv < compactedBelow) {
        return status(
          410,
          "Expired",
          "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
        );
      }
      ({ offset, rv: at } = parsed);
    }
    const all = [...store(crd.plural).values()].filter((o) => inScope(o, namespace))
      .sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
    const page = limit > 0 ? all.slice(offset, offset + limit) : all.slice(offset);
    const more = limit > 0 && offset + limit < all.length;
    return Response.json({
      apiVersion: `${crd.group}/${crd.version}`,
      kind: `${crd.kind}List`,
      metadata: {
        resourceVersion: String(at),
        ...(more ? { continue: btoa(JSON.stringify({ rv: at, offset: offset + limit })) } : {}),
      },
      items: page,
    });
  }

  function startWatch(
    crd: ServedCrd,
    namespace: string | undefined,
    query: URLSearchParams,
  ): Response {
    if (query.has("sendInitialEvents")) {
      return status(
        422,
        "Invalid",
        'ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled',
      );
    }
    const from = query.get("resourceVersion") ?? "";
    if (from !== "" && !/^\d+$/.test(from)) {
      return status(422, "Invalid", `invalid resource version: ${from}`);
    }
    const seconds = Math.min(
      Number(query.get("timeoutSeconds") ?? maxWatchSeconds),
      maxWatchSeconds,
    );
    const encoder = new TextEncoder();
    let watcher: Watcher;
    let timer: ReturnType<typeof setTimeout>;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        let open = true;
        watcher = {
          plural: crd.plural,
          namespace,
          send(event) {
            if (open) controller.enqueue(encoder.encode(JSON.stringify(event) + "\n"));
          },
          end() {
            if (!open) return;
            open = false;
            watchers.delete(watcher);
            clearTimeout(timer);
            controller.close();
          },
        };
        if (from !== "" && from !== "0" && Number(from) < compactedBelow) {
          watcher.send({
            type: "ERROR",
            object: {
              kind: "Status",
              apiVersion: "v1",
              metadata: {},
              status: "Failure",
              message: `too old resource version: ${from} (${compactedBelow})`,
              reason: "Expired",
              code: 410,
            },
          });
          open = false;
          controller.close();
          return;
        }
        if (from === "" || from === "0") {
          for (const o of store(crd.plural).values()) {
            if (inScope(o, namespace)) watcher.send({ type: "ADDED", object: o });
          }
        } else {
          for (const e of history) {
            if (e.rv > Number(from) && e.plural === crd.plural && inScope(e.object, namespace)) {
              watcher.send({ type: e.type, object: e.object });
            }
          }
        }
        watchers.add(watcher);
        timer = setTimeout(() => watcher.end(), seconds * 1000);
      },
      cancel() {
        watchers.delete(watcher);
        clearTimeout(timer);
      },
    });
    return new Response(body, {
      headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
    });
  }

  function listen(onPort: number): void {
    server = Deno.serve(
      { hostname: "127.0.0.1", port: onPort, cert, key, onListen() {} },
      async (req) => {
        const res = await handle(req);
        const url = new URL(req.url);
        requests.push({
          method: req.method,
          path: url.pathname,
          query: url.searchParams,
          status: res.status,
        });
        queueMicrotask(() => {
          changes.changed();
        });
        return res;
      },
    );
    port = server.addr.port;
    fake.url = `https://localhost:${port}`;
  }
  listen(0);
  return fake;
}

function status(
  code: number,
  reason: string,
  message: string,
  details?: Record<string, string>,
): Response {
  return Response.json({
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  }, { status: code });
}
