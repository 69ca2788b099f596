/**
 * What every fake provider server shares: a loopback server that records each request (never its
 * credentials), checks it against the provider's API description, answers scripted faults first,
 * and lets tests await a condition re-checked after every request.
 *
 * @module
 */
import type { ApiSpec, Violation } from "./openapi.ts";
import type { State } from "../../src/notifiers/notifier.ts";

/** A scripted answer to the next matching request. */
export interface Fault {
  status: number;
  headers?: Record<string, string>;
  /** JSON body, or a string sent as text/plain (GitLab's "Retry later"). */
  body?: unknown;
  /** Only for requests with this method. */
  method?: string;
}

/** A request the fake received (no credentials kept). */
export interface Received {
  method: string;
  path: string;
  query: string;
  body: unknown;
  status: number;
  userAgent: string | null;
}

/** What a route handler gets. */
export interface Call {
  request: Request;
  url: URL;
  /** Path below the API prefix. */
  path: string;
  /** Query used for validation (some providers also take parameters from headers). */
  query: URLSearchParams;
  body: unknown;
  /** The matched operation id. */
  operation: string;
}

/** Provider-specific parts of a fake. */
export interface FakeServerOptions {
  /** The API description requests are checked against. */
  spec: ApiSpec;
  /** Path prefix of the API. */
  prefix: string;
  /** Returns a Response to refuse the request (auth), or undefined to go on. */
  authorize(request: Request): Response | undefined;
  /** The provider's answer to a request its API description refuses. */
  invalid(violations: Violation[], operation?: string): Response;
  /** Answers a valid request. */
  route(call: Call): Response | Promise<Response>;
  /** Adjusts the query before validation (e.g. api-version carried in Accept). */
  queryFor?(request: Request, url: URL): URLSearchParams;
  /** Rewrites a body the way the service reads it before validation (e.g. enum numbers). */
  normalizeBody?(body: unknown): unknown;
  /** Answers requests that are outside the description but part of the real service. */
  extra?(request: Request, path: string): Response | undefined | Promise<Response | undefined>;
  /** Serve HTTPS with dev/fixtures/tls/server.pem (signed by the test CA, ca.pem). */
  tls?: boolean | undefined;
}

const TLS_DIR = new URL("../fixtures/tls/", import.meta.url);

/** The test CA's certificate file (a path for `--ca-file`). */
export const TEST_CA_FILE: string = new URL("ca.pem", TLS_DIR).pathname;

/** The shared half of a fake provider. */
export interface FakeServer extends AsyncDisposable {
  /** Origin, `http://127.0.0.1:PORT`. */
  origin: string;
  received: Received[];
  violations: Violation[];
  faults: Fault[];
  waitFor(predicate: () => boolean, what?: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * What a fake's `waitFor` waits on: every change it sees re-checks each waiter; a waiter not
 * satisfied within the timeout fails, naming what it waited for.
 */
export class Changes {
  #listeners = new Set<() => void>();
  #who: string;
  #timeoutMs: number;

  /**
   * @param who the fake, for the timeout's message (`fake provider`)
   * @param timeoutMs how long a waiter waits
   */
  constructor(who: string, timeoutMs = 30_000) {
    this.#who = who;
    this.#timeoutMs = timeoutMs;
  }

  /** Re-checks every waiter (call after each change the fake sees). */
  changed(): void {
    for (const l of [...this.#listeners]) l();
  }

  /** Resolves once `predicate` holds: now, or after a change. */
  waitFor(predicate: () => boolean, what = "condition"): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        this.#listeners.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#listeners.delete(check);
        reject(new Error(`${this.#who}: timed out waiting for ${what}`));
      }, this.#timeoutMs);
      this.#listeners.add(check);
    });
  }
}

/** A status as a fake reads it back, in our words. */
export interface OurStatus {
  name: string;
  state: State;
  description: string;
}

/** The shared face of a fake git provider: its API root, the tokens it takes, its statuses. */
export interface FakeForge extends FakeServer {
  /** The API root to give as `--api-url`. */
  url: string;
  /** Tokens that authenticate (mutable: rotate one mid-test). */
  tokens: Set<string>;
  /** The statuses set on a commit, oldest first, in our words. */
  commitStatuses(sha: string): OurStatus[];
}

/** Builds a JSON response. */
export function json(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(body === undefined || status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/** Starts a fake provider server on a free loopback port. */
export function startFakeServer(o: FakeServerOptions): FakeServer {
  const received: Received[] = [];
  const violations: Violation[] = [];
  const faults: Fault[] = [];
  const changes = new Changes("fake provider");

  async function handle(request: Request): Promise<[Response, unknown]> {
    const url = new URL(request.url);
    const path = url.pathname.startsWith(o.prefix)
      ? url.pathname.slice(o.prefix.length)
      : url.pathname;
    const text = await request.text();
    let body: unknown;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        return [json(400, { message: "Problems parsing JSON" }), text];
      }
    }
    const extra = await o.extra?.(request, path);
    if (extra) return [extra, body];
    const denied = o.authorize(request);
    if (denied) return [denied, body];
    const i = faults.findIndex((f) => !f.method || f.method === request.method);
    if (i >= 0) {
      const [f] = faults.splice(i, 1);
      const res = typeof f!.body === "string"
        ? new Response(f!.body, {
          status: f!.status,
          headers: { "content-type": "text/plain", ...f!.headers },
        })
        : json(f!.status, f!.body ?? { message: "Server Error" }, f!.headers);
      return [res, body];
    }
    const query = o.queryFor?.(request, url) ?? url.searchParams;
    if (o.normalizeBody && body !== undefined) body = o.normalizeBody(body);
    const checked = o.spec.check(request.method, path, query, body);
    if (checked.violations.length > 0) {
      violations.push(...checked.violations);
      return [o.invalid(checked.violations, checked.operation), body];
    }
    const res = await o.route({ request, url, path, query, body, operation: checked.operation! });
    return [res, body];
  }

  const tls = o.tls
    ? {
      cert: Deno.readTextFileSync(new URL("server.pem", TLS_DIR)),
      key: Deno.readTextFileSync(new URL("server-key.pem", TLS_DIR)),
    }
    : {};
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {}, ...tls },
    async (request) => {
      const [res, body] = await handle(request);
      const url = new URL(request.url);
      received.push({
        method: request.method,
        path: url.pathname,
        query: url.search,
        body,
        status: res.status,
        userAgent: request.headers.get("user-agent"),
      });
      changes.changed();
      return res;
    },
  );
  return {
    // HTTPS by name: a client may not send an IP address as the TLS server name (SNI).
    origin: o.tls
      ? `https://localhost:${server.addr.port}`
      : `http://127.0.0.1:${server.addr.port}`,
    received,
    violations,
    faults,
    waitFor: (predicate, what) => changes.waitFor(predicate, what),
    close: () => server.shutdown(),
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}
