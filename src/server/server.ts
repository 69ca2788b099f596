/**
 * The HTTP side fluxd talks to (docs/flux-protocol.md §2, §5): WebSocket upgrades on `/vN/daemon`,
 * event POSTs on `/v6/events`; Flux v2 notification-controller's POSTs on `/flux2/events`
 * (docs/flux2-events.md §2, signed with `--flux2-hmac-key`); plus `/healthz` and `/readyz`. A handler factory: a Request in,
 * a Response out, so tests need no port.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { EventError, type ParsedEvent, parseEvent } from "../sources/flux/events.ts";
import { type Flux2Outcome, flux2Outcome, parseFlux2Event } from "../sources/flux2/events.ts";
import { isValidSignature } from "../sources/flux2/signature.ts";
import { errorText } from "../runtime/error_text.ts";

const log = getLogger(["flux-status", "server"]);

const DAEMON_PATH = /^\/v(\d+)\/daemon\/?$/;
const EVENTS_PATH = /^\/v(\d+)\/events\/?$/;
const FLUX2_PATH = /^(?:\/v1)?\/flux2\/events\/?$/;

/** Largest Flux v2 event accepted: above notification-controller's own 3 MiB cap. */
export const FLUX2_MAX_EVENT_BYTES = 4 * 1024 * 1024;

/** A value, or how to read its current value (a secret that may be rotated). */
export type Current<T> = T | (() => T | undefined);

const current = <T>(value: Current<T> | undefined): T | undefined =>
  typeof value === "function" ? (value as () => T | undefined)() : value;

/** What the server hands on, and what it asks about readiness. */
export interface ServerOptions {
  /** fluxd's `--token`; when set, required on the socket and on events (read on each request). */
  connectToken?: Current<string>;
  /** Largest event body accepted, in bytes. */
  maxEventBytes: number;
  /** Handles a valid fluxd event; resolves once it is durably stored. Absent: no fluxd routes. */
  onEvent?(event: ParsedEvent): Promise<{ statuses: number }>;
  /** Handles a Flux v2 event naming a commit; resolves once it is durably stored. */
  onFlux2Event?(outcome: Flux2Outcome & { sha: string }): Promise<{ statuses: number }>;
  /** notification-controller's generic-hmac key: every Flux v2 event must be signed with it. */
  flux2HmacKey?: Current<Uint8Array>;
  /** Takes a new fluxd socket (upgrade done), with the API version of its path. */
  onSocket?(socket: WebSocket, info: { version: number; userAgent: string }): void;
  /** Readiness: why the daemon is not ready (empty when it is). */
  notReadyReasons(): string[];
  /** More facts `/readyz` reports either way (with `--kubernetes`: who leads). */
  readyDetails?(): Record<string, unknown>;
  /** Liveness: why the daemon is unhealthy (store not writable), undefined when healthy. */
  unhealthyReason?(): Promise<string | undefined>;
  /** Renders `/metrics`; absent: no such route. */
  renderMetrics?(): Promise<string>;
  /** When set, `/metrics` needs `Authorization: Bearer <token>`. */
  metricsToken?: Current<string>;
  /** Called with every event answered: its source, what became of it, and the HTTP status. */
  onAnswered?(
    source: "fluxd" | "flux2",
    outcome: "accepted" | "ignored" | "rejected",
    code: number,
  ): void;
}

const json = (status: number, body: unknown, headers?: HeadersInit) =>
  Response.json(body, { status, headers });

/**
 * Creates the request handler.
 *
 * @example
 * ```ts
 * const handler = createHandler({ maxEventBytes: 1 << 20, onEvent, onSocket, notReadyReasons });
 * Deno.serve({ port: 3000 }, handler);
 * ```
 */
export function createHandler(options: ServerOptions): (request: Request) => Promise<Response> {
  const { maxEventBytes } = options;
  const authorized = authorizationCheck(() => {
    const token = current(options.connectToken);
    return token && `Scope-Probe token=${token}`;
  });
  const metricsAuthorized = authorizationCheck(() => {
    const token = current(options.metricsToken);
    return token && `Bearer ${token}`;
  });

  return async (request) => {
    const { pathname } = new URL(request.url);
    const source = EVENTS_PATH.test(pathname) && options.onEvent
      ? "fluxd"
      : FLUX2_PATH.test(pathname) && options.onFlux2Event
      ? "flux2"
      : undefined;
    const tally = { statuses: 0 };
    const res = await route(request, pathname, source, tally);
    if (source) {
      const outcome = res.status >= 300 ? "rejected" : tally.statuses > 0 ? "accepted" : "ignored";
      options.onAnswered?.(source, outcome, res.status);
    }
    return res;
  };

  async function route(
    request: Request,
    pathname: string,
    source: "fluxd" | "flux2" | undefined,
    tally: { statuses: number },
  ): Promise<Response> {
    try {
      if (source === "fluxd") return await handleEvent(request, tally);
      if (source === "flux2") return await handleFlux2(request, tally);
      const daemon = options.onSocket ? DAEMON_PATH.exec(pathname) : null;
      if (daemon) return await handleDaemon(request, Number(daemon[1]));
      if (pathname === "/healthz") {
        const reason = await options.unhealthyReason?.();
        return reason ? json(503, { status: "unhealthy", reason }) : json(200, { status: "ok" });
      }
      if (pathname === "/readyz") {
        const reasons = options.notReadyReasons();
        const details = options.readyDetails?.() ?? {};
        return reasons.length > 0
          ? json(503, { status: "not ready", reason: reasons.join("; "), reasons, ...details })
          : json(200, { status: "ready", ...details });
      }
      if (pathname === "/metrics" && options.renderMetrics) return await handleMetrics(request);
      return json(404, { error: `No route for ${request.method} ${pathname}` });
    } catch (err) {
      if (err instanceof EventError) {
        log.warn("Rejected event with {status}: {error}", {
          status: err.status,
          error: err.message,
        });
        return json(err.status, { error: err.message, issues: err.issues });
      }
      const error = errorText(err);
      log.error("Failed on {method} {path}: {error}", {
        method: request.method,
        path: pathname,
        error,
      });
      if (source) {
        // The event was not stored (the store failed): fluxd and notification-controller send
        // it again, so say why and when to come back rather than a bare 500.
        return json(503, { error: `Cannot store the event now: ${error}` }, {
          "retry-after": "10",
        });
      }
      return new Response("Internal Server Error", { status: 500 });
    }
  }

  async function handleMetrics(request: Request): Promise<Response> {
    if (!(await metricsAuthorized(request))) {
      return json(401, { error: "/metrics needs Authorization: Bearer <--metrics-token>" });
    }
    return new Response(await options.renderMetrics!(), {
      headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
    });
  }

  async function handleDaemon(request: Request, version: number): Promise<Response> {
    if (!(await authorized(request))) {
      log.warn("Refused fluxd connection: wrong or missing token");
      return json(401, { error: "fluxd's token does not match --connect-token" });
    }
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return json(400, { error: "Expected a WebSocket upgrade on this path" });
    }
    const userAgent = request.headers.get("user-agent") ?? "";
    const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout: 30 });
    options.onSocket!(socket, { version, userAgent });
    return response;
  }

  async function handleEvent(request: Request, tally: { statuses: number }): Promise<Response> {
    if (request.method !== "POST") {
      return json(405, { error: "Events must be POSTed" }, { allow: "POST" });
    }
    if (!(await authorized(request))) {
      log.warn("Refused event: wrong or missing token");
      return json(401, { error: "fluxd's token does not match --connect-token" });
    }
    const body = decode(await readBody(request, maxEventBytes));
    const event = parseEvent(body);
    const { statuses } = await options.onEvent!(event);
    tally.statuses = statuses;
    return json(200, { accepted: event.type, statuses });
  }

  async function handleFlux2(request: Request, tally: { statuses: number }): Promise<Response> {
    if (request.method !== "POST") {
      return json(405, { error: "Events must be POSTed" }, { allow: "POST" });
    }
    const bytes = await readBody(
      request,
      FLUX2_MAX_EVENT_BYTES,
      "notification-controller sends at most 3 MiB",
    );
    const hmacKey = current(options.flux2HmacKey);
    if (hmacKey) {
      const signature = request.headers.get("x-signature");
      if (!(await isValidSignature(hmacKey, bytes, signature))) {
        log.warn("Refused a Flux v2 event: {why}", {
          why: signature ? "X-Signature does not match" : "no X-Signature",
        });
        return json(401, {
          error: "X-Signature must be the HMAC of the body with --flux2-hmac-key",
        });
      }
    } else if (!(await authorized(request))) {
      log.warn("Refused a Flux v2 event: wrong or missing token");
      return json(401, { error: "the Authorization header does not match --connect-token" });
    }
    const event = parseFlux2Event(decode(bytes));
    const outcome = flux2Outcome(event);
    const { kind, namespace, name } = event.involvedObject;
    if (!outcome.sha || outcome.states.length === 0) {
      log.debug("Accepted and ignored {reason} of {kind} {namespace}/{name}: {why}", {
        reason: event.reason,
        kind,
        namespace,
        name,
        why: outcome.sha ? "it sets no status" : "it names no git commit",
      });
      return json(200, { accepted: event.reason, statuses: 0 });
    }
    const { statuses } = await options.onFlux2Event!({ ...outcome, sha: outcome.sha });
    tally.statuses = statuses;
    return json(200, { accepted: event.reason, statuses });
  }
}

function decode(bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (err) {
    throw new EventError("Cannot decode event: the body is not UTF-8", { cause: err });
  }
}

async function readBody(
  request: Request,
  limit: number,
  fix = "raise --max-event-bytes",
): Promise<Uint8Array> {
  const tooLarge = () =>
    new EventError(`Cannot accept an event over ${limit} bytes: ${fix}`, {
      status: 413,
    });
  const header = request.headers.get("content-length");
  const length = header === null ? NaN : Number(header);
  if (length > limit) throw tooLarge();
  if (!request.body) return new Uint8Array();
  if (length <= limit) return await request.bytes(); // the server holds the body to its length
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.byteLength;
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
  }
  const all = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    all.set(c, offset);
    offset += c.byteLength;
  }
  return all;
}

/**
 * A check that a request's Authorization header is `expected()` (read on each request, so a
 * rotated token applies at once), compared as SHA-256 digests in constant time; with no expected
 * value, every request passes.
 */
function authorizationCheck(
  expected: () => string | undefined,
): (request: Request) => Promise<boolean> {
  let cached: { text: string; digest: Promise<Uint8Array> } | undefined;
  return async (request) => {
    const text = expected();
    if (!text) return true;
    if (cached?.text !== text) cached = { text, digest: digest(text) };
    return timingSafeEqual(
      await cached.digest,
      await digest(request.headers.get("authorization") ?? ""),
    );
  };
}

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ (b[i] ?? 0);
  return diff === 0;
}
