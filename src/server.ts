/**
 * The HTTP side fluxd talks to (flux-protocol.md §2, §5): WebSocket upgrades on `/vN/daemon`,
 * event POSTs on `/v6/events`, plus `/healthz` and `/readyz`. A handler factory: a Request in,
 * a Response out, so tests need no port.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { EventError, type ParsedEvent, parseEvent } from "./flux/events.ts";

const log = getLogger(["flux-status", "server"]);

const DAEMON_PATH = /^\/v(\d+)\/daemon\/?$/;
const EVENTS_PATH = /^\/v(\d+)\/events\/?$/;

/** What the server hands on, and what it asks about readiness. */
export interface ServerOptions {
  /** fluxd's `--token`; when set, required on the socket and on events. */
  connectToken?: string;
  /** Largest event body accepted, in bytes. */
  maxEventBytes: number;
  /** Handles a valid event; resolves once it is durably stored. */
  onEvent(event: ParsedEvent): Promise<{ statuses: number }>;
  /** Takes a new fluxd socket (upgrade done), with the API version of its path. */
  onSocket(socket: WebSocket, info: { version: number; userAgent: string }): void;
  /** Readiness: undefined when ready, else the reason. */
  notReadyReason(): string | undefined;
}

const json = (status: number, body: unknown, headers?: HeadersInit) =>
  Response.json(body, { status, headers });

/**
 * Creates the request handler.
 *
 * @example
 * ```ts
 * const handler = createHandler({ maxEventBytes: 1 << 20, onEvent, onSocket, notReadyReason });
 * Deno.serve({ port: 3000 }, handler);
 * ```
 */
export function createHandler(options: ServerOptions): (request: Request) => Promise<Response> {
  const { connectToken, maxEventBytes } = options;
  const expected = connectToken ? digest(`Scope-Probe token=${connectToken}`) : undefined;

  async function authorized(request: Request): Promise<boolean> {
    if (!expected) return true;
    const given = await digest(request.headers.get("authorization") ?? "");
    return timingSafeEqual(await expected, given);
  }

  return async (request) => {
    const { pathname } = new URL(request.url);
    try {
      const daemon = DAEMON_PATH.exec(pathname);
      if (daemon) return await handleDaemon(request, Number(daemon[1]));
      if (EVENTS_PATH.test(pathname)) return await handleEvent(request);
      if (pathname === "/healthz") return json(200, { status: "ok" });
      if (pathname === "/readyz") {
        const reason = options.notReadyReason();
        return reason ? json(503, { status: "not ready", reason }) : json(200, { status: "ready" });
      }
      return json(404, { error: `No route for ${request.method} ${pathname}` });
    } catch (err) {
      if (err instanceof EventError) {
        log.warn("Rejected event with {status}: {error}", {
          status: err.status,
          error: err.message,
        });
        return json(err.status, { error: err.message, issues: err.issues });
      }
      log.error("Failed on {method} {path}: {error}", {
        method: request.method,
        path: pathname,
        error: err instanceof Error ? err.message : String(err),
      });
      return new Response("Internal Server Error", { status: 500 });
    }
  };

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
    options.onSocket(socket, { version, userAgent });
    return response;
  }

  async function handleEvent(request: Request): Promise<Response> {
    if (request.method !== "POST") {
      return json(405, { error: "Events must be POSTed" }, { allow: "POST" });
    }
    if (!(await authorized(request))) {
      log.warn("Refused event: wrong or missing token");
      return json(401, { error: "fluxd's token does not match --connect-token" });
    }
    const body = await readBody(request, maxEventBytes);
    const event = parseEvent(body);
    const { statuses } = await options.onEvent(event);
    return json(200, { accepted: event.type, statuses });
  }
}

async function readBody(request: Request, limit: number): Promise<string> {
  const tooLarge = () =>
    new EventError(`Cannot accept an event over ${limit} bytes: raise --max-event-bytes`, {
      status: 413,
    });
  const length = Number(request.headers.get("content-length"));
  if (Number.isFinite(length) && length > limit) throw tooLarge();
  if (!request.body) return "";
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
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(all);
  } catch (err) {
    throw new EventError("Cannot decode event: the body is not UTF-8", { cause: err });
  }
}

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ (b[i] ?? 0);
  return diff === 0;
}
