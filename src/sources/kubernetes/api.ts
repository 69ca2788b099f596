/**
 * A small Kubernetes API client: list (paged), get and watch of custom resources over Deno's
 * `fetch`, with the cluster's CA and credentials (docs/kubernetes-api.md). It replaces
 * `@kubernetes/client-node`, which works under Deno but costs ~0.8 s of start-up and +80 MiB of
 * RSS to import (ARCHITECTURE.md, "Decisions").
 *
 * Every failure is a {@linkcode KubeError} that names the verb and the resource, and says what the
 * apiserver answered: a 403's own message (which user cannot do what), a plain-text 404 as "not
 * served" (the CRD is missing), no answer as "cannot reach".
 *
 * @module
 */
import type { ClusterCredentials } from "./credentials.ts";

/** A kind of object the API serves. */
export interface Resource {
  /** API group, e.g. `kustomize.toolkit.fluxcd.io`. */
  group: string;
  /** Version served, e.g. `v1`. */
  version: string;
  /** Plural resource name, e.g. `kustomizations`. */
  plural: string;
  /** Kind, e.g. `Kustomization`. */
  kind: string;
}

/** `kustomizations.kustomize.toolkit.fluxcd.io`, as the apiserver names a resource. */
export function resourceName(r: Resource): string {
  return `${r.plural}.${r.group}`;
}

/** An object as the API serves it; only `metadata` is relied on here. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    generation?: number;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    uid?: string;
  };
  // deno-lint-ignore no-explicit-any -- spec and status are read by each kind's own judge
  spec?: any;
  // deno-lint-ignore no-explicit-any -- spec and status are read by each kind's own judge
  status?: any;
}

/** One event of a watch stream. */
export interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: KubeObject;
}

/** A verb this client uses, for messages and RBAC. */
export type Verb = "get" | "list" | "watch" | "create" | "update";

/** The apiserver refused a call, or could not be reached. */
export class KubeError extends Error {
  /** HTTP status; 0 when no answer came. */
  readonly status: number;
  /** The Status body's reason, e.g. `Forbidden`, `Expired`. */
  readonly reason: string;
  /** What was asked. */
  readonly verb: Verb;
  /** Of which resource, `plural.group`. */
  readonly resource: string;
  /** How long the apiserver asked us to wait, if it said. */
  readonly retryAfterMs: number | undefined;

  /**
   * Creates the error.
   *
   * @param message what was asked and what the apiserver said; never a token
   * @param fields status, reason, verb, resource and the wait asked for
   */
  constructor(
    message: string,
    fields: { status: number; reason: string; verb: Verb; resource: string; retryAfterMs?: number },
  ) {
    super(message);
    this.name = "KubeError";
    this.status = fields.status;
    this.reason = fields.reason;
    this.verb = fields.verb;
    this.resource = fields.resource;
    this.retryAfterMs = fields.retryAfterMs;
  }

  /** The resource version asked for is gone: list again. */
  get expired(): boolean {
    return this.status === 410 || this.reason === "Expired" || this.reason === "Gone";
  }
}

/** One page size of lists, as client-go's pager. */
const PAGE_SIZE = 100;

/** A list or get gets no answer within this long: it failed. */
const REQUEST_TIMEOUT_MS = 60_000;

/** Reads Flux objects (or any custom resource) from one apiserver. */
export class KubeApi {
  #credentials: ClusterCredentials;
  #client: Deno.HttpClient;

  /** @param credentials where the apiserver is and how to authenticate */
  constructor(credentials: ClusterCredentials) {
    this.#credentials = credentials;
    this.#client = Deno.createHttpClient({
      ...(credentials.caCerts.length > 0 ? { caCerts: credentials.caCerts } : {}),
      ...(credentials.clientCert ? credentials.clientCert : {}),
    });
  }

  /** The apiserver's base URL. */
  get server(): string {
    return this.#credentials.server;
  }

  /**
   * Lists every object of `resource` (in `namespace`, or all), following `continue` pages.
   *
   * @returns the items, each with its `apiVersion` and `kind`, and the list's resourceVersion
   * @throws {KubeError} on any refusal, including 410 when a page's token expired
   */
  async list(
    resource: Resource,
    namespace: string | undefined,
    signal?: AbortSignal,
  ): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    const items: KubeObject[] = [];
    let next = "";
    let resourceVersion = "";
    do {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (next) query.set("continue", next);
      const res = await this.#call("list", resource, collection(resource, namespace), query, {
        signal,
        timeoutMs: REQUEST_TIMEOUT_MS,
      });
      const body = await res.json() as {
        metadata?: { resourceVersion?: string; continue?: string };
        items?: KubeObject[];
      };
      // Built-in lists leave them out of items; custom resources carry them. Fill both in.
      const apiVersion = `${resource.group}/${resource.version}`;
      for (const item of body.items ?? []) {
        items.push({
          ...item,
          apiVersion: item.apiVersion ?? apiVersion,
          kind: item.kind ?? resource.kind,
        });
      }
      resourceVersion = body.metadata?.resourceVersion ?? "";
      next = body.metadata?.continue ?? "";
    } while (next !== "");
    return { items, resourceVersion };
  }

  /**
   * Reads one object.
   *
   * @returns the object, or `undefined` when it does not exist
   * @throws {KubeError} on any other refusal
   */
  async get(
    resource: Resource,
    namespace: string,
    name: string,
    signal?: AbortSignal,
  ): Promise<KubeObject | undefined> {
    const path = `${collection(resource, namespace)}/${encodeURIComponent(name)}`;
    try {
      const res = await this.#call("get", resource, path, new URLSearchParams(), {
        signal,
        timeoutMs: REQUEST_TIMEOUT_MS,
      });
      return await res.json() as KubeObject;
    } catch (err) {
      if (err instanceof KubeError && err.status === 404 && err.reason === "NotFound") {
        return undefined;
      }
      throw err;
    }
  }

  /**
   * Watches `resource` from `resourceVersion`, with bookmarks, until the server ends the stream
   * (after `timeoutSeconds`) or `signal` aborts. An ERROR event ends the stream as a thrown
   * {@linkcode KubeError} (410 Expired: list again).
   *
   * @throws {KubeError} when the watch is refused, or the stream breaks or carries an ERROR
   */
  async *watch(
    resource: Resource,
    namespace: string | undefined,
    resourceVersion: string,
    { timeoutSeconds, signal }: { timeoutSeconds: number; signal?: AbortSignal },
  ): AsyncGenerator<WatchEvent> {
    const query = new URLSearchParams({
      watch: "true",
      allowWatchBookmarks: "true",
      resourceVersion,
      timeoutSeconds: String(timeoutSeconds),
    });
    const res = await this.#call("watch", resource, collection(resource, namespace), query, {
      signal,
    });
    const name = resourceName(resource);
    let buffered = "";
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body!) {
        buffered += decoder.decode(chunk, { stream: true });
        let newline: number;
        while ((newline = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (line === "") continue;
          const event = parseEvent(line, name);
          if (event.type === "ERROR") throw statusError(event.object, "watch", name);
          yield event;
        }
      }
    } catch (err) {
      if (err instanceof KubeError || signal?.aborted) throw err;
      throw new KubeError(`The watch of ${name} broke: ${messageOf(err)}`, {
        status: 0,
        reason: "StreamBroken",
        verb: "watch",
        resource: name,
      });
    }
  }

  /**
   * Creates an object (POST to its collection).
   *
   * @returns the object as stored
   * @throws {KubeError} 409 AlreadyExists when it exists, or any other refusal
   */
  async create(
    resource: Resource,
    namespace: string,
    object: KubeObject,
    signal?: AbortSignal,
  ): Promise<KubeObject> {
    const res = await this.#call(
      "create",
      resource,
      collection(resource, namespace),
      new URLSearchParams(),
      {
        signal,
        timeoutMs: REQUEST_TIMEOUT_MS,
        method: "POST",
        body: object,
      },
    );
    return await res.json() as KubeObject;
  }

  /**
   * Replaces an object (PUT), conditionally on its `metadata.resourceVersion`.
   *
   * @returns the object as stored
   * @throws {KubeError} 409 Conflict when it changed since that version, or any other refusal
   */
  async replace(
    resource: Resource,
    namespace: string,
    object: KubeObject,
    signal?: AbortSignal,
  ): Promise<KubeObject> {
    const path = `${collection(resource, namespace)}/${encodeURIComponent(object.metadata.name)}`;
    const res = await this.#call("update", resource, path, new URLSearchParams(), {
      signal,
      timeoutMs: REQUEST_TIMEOUT_MS,
      method: "PUT",
      body: object,
    });
    return await res.json() as KubeObject;
  }

  /** Releases the HTTP client. */
  close(): void {
    this.#client.close();
  }

  async #call(
    verb: Verb,
    resource: Resource,
    path: string,
    query: URLSearchParams,
    { signal, timeoutMs, method = "GET", body }: {
      signal?: AbortSignal | undefined;
      timeoutMs?: number;
      method?: "GET" | "POST" | "PUT";
      body?: unknown;
    },
  ): Promise<Response> {
    const name = resourceName(resource);
    const res = await this.#send(verb, name, path, query, { signal, timeoutMs, method, body });
    if (res.status !== 401) return await this.#answer(res, verb, resource);
    // A rotated token: read it again now, once, rather than at the next minute's re-read.
    await res.body?.cancel();
    const again = await this.#send(verb, name, path, query, {
      signal,
      timeoutMs,
      method,
      body,
      fresh: true,
    });
    return await this.#answer(again, verb, resource);
  }

  async #send(
    verb: Verb,
    name: string,
    path: string,
    query: URLSearchParams,
    { signal, timeoutMs, method, body, fresh = false }: {
      signal?: AbortSignal | undefined;
      timeoutMs?: number | undefined;
      method: "GET" | "POST" | "PUT";
      body?: unknown;
      fresh?: boolean;
    },
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    let token: string | undefined;
    try {
      token = await this.#credentials.token(fresh);
    } catch (err) {
      throw new KubeError(`Cannot ${verb} ${name}: ${messageOf(err)}`, {
        status: 0,
        reason: "NoCredentials",
        verb,
        resource: name,
      });
    }
    if (token) headers.authorization = `Bearer ${token}`;
    const signals = [signal, timeoutMs ? AbortSignal.timeout(timeoutMs) : undefined]
      .filter((s): s is AbortSignal => s !== undefined);
    let res: Response;
    try {
      res = await fetch(`${this.#credentials.server}${path}?${query}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        client: this.#client,
        signal: AbortSignal.any(signals),
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new KubeError(
        `Cannot ${verb} ${name}: the apiserver ${new URL(this.server).host} could not be reached (${
          messageOf(err)
        })`,
        { status: 0, reason: "Unreachable", verb, resource: name },
      );
    }
    return res;
  }

  /** The response when it is a success; else the KubeError it means. */
  async #answer(res: Response, verb: Verb, resource: Resource): Promise<Response> {
    const name = resourceName(resource);
    if (res.ok) return res;
    const text = await res.text().catch(() => "");
    let status: KubeObject | undefined;
    try {
      status = JSON.parse(text);
    } catch { /* plain text: the 404 of an unserved path, or APF's 429 */ }
    const retryAfter = Number(res.headers.get("retry-after"));
    const retry = Number.isFinite(retryAfter) && retryAfter > 0
      ? { retryAfterMs: retryAfter * 1000 }
      : {};
    if (status && (status as { kind?: string }).kind === "Status") {
      return Promise.reject(statusError(status, verb, name, res.status, retry));
    }
    const why = res.status === 404
      ? `the apiserver does not serve ${resource.group}/${resource.version} ${resource.plural} (is its CRD installed?)`
      : `the apiserver answered ${res.status}: ${text.trim().slice(0, 200)}`;
    throw new KubeError(`Cannot ${verb} ${name}: ${why}`, {
      status: res.status,
      reason: res.status === 404 ? "NotServed" : "Unknown",
      verb,
      resource: name,
      ...retry,
    });
  }
}

function collection(r: Resource, namespace: string | undefined): string {
  const ns = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
  return `/apis/${r.group}/${r.version}${ns}/${r.plural}`;
}

function parseEvent(line: string, resource: string): WatchEvent {
  let event: WatchEvent;
  try {
    event = JSON.parse(line);
  } catch {
    throw new KubeError(`The watch of ${resource} sent a line that is not JSON`, {
      status: 0,
      reason: "BadEvent",
      verb: "watch",
      resource,
    });
  }
  if (typeof event?.type !== "string" || typeof event.object?.metadata !== "object") {
    if (event?.type !== "ERROR") {
      throw new KubeError(`The watch of ${resource} sent an event without an object`, {
        status: 0,
        reason: "BadEvent",
        verb: "watch",
        resource,
      });
    }
  }
  return event;
}

/** A KubeError from a Status body (HTTP answer or ERROR event). */
function statusError(
  body: KubeObject,
  verb: Verb,
  resource: string,
  httpStatus?: number,
  retry: { retryAfterMs?: number } = {},
): KubeError {
  const s = body as unknown as { code?: number; reason?: string; message?: string };
  const status = typeof s.code === "number" ? s.code : httpStatus ?? 0;
  const reason = typeof s.reason === "string" ? s.reason : "Unknown";
  const message = typeof s.message === "string" ? s.message : reason;
  const why = status === 401
    ? "the apiserver refused the credentials (401 Unauthorized)"
    : `${status} ${reason}: ${message}`;
  return new KubeError(`Cannot ${verb} ${resource}: ${why}`, {
    status,
    reason,
    verb,
    resource,
    ...retry,
  });
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
