/**
 * The `fetch` every provider call goes through (the SDKs' too: Octokit's `request.fetch`, the
 * GitLab requester, the fetch helper). Deno's fetch already takes `HTTPS_PROXY`, `HTTP_PROXY` and
 * `NO_PROXY` from the environment; `--ca-file` adds the CA certificates of a self-hosted forge
 * behind a private CA (or a TLS-inspecting proxy) to the trusted roots, through one HTTP client
 * per file. Azure DevOps's SDK does its own HTTP: it gets the same file (`cert.caFile`) and reads
 * the same proxy variables.
 *
 * A write (any method but GET and HEAD) is never redirected: a status counts as delivered only on
 * the API's own answer, and a redirect (an SSO proxy's login page, a web address given as
 * `--api-url`) would be followed to a 200 HTML page. Such an answer throws
 * {@linkcode RedirectedWrite}, which `noAnswer` in `_errors.ts` turns into the provider's failure.
 *
 * @module
 */
import { NotifierError } from "./notifier.ts";

const clients = new Map<string, Deno.HttpClient>();

/** How long one provider request may take (a connection that never answers). */
export const REQUEST_TIMEOUT_MS = 30_000;

/**
 * A request's signal: the caller's (if any), ended `timeoutMs` from now at the latest.
 *
 * @param signal the caller's signal
 * @param timeoutMs the request timeout
 */
export function withTimeout(
  signal: AbortSignal | undefined,
  timeoutMs: number = REQUEST_TIMEOUT_MS,
): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

/** A write answered with a redirect: not the API's answer, so not a delivery. */
export class RedirectedWrite extends Error {
  /**
   * @param status the 3xx status
   * @param location where it pointed, without query or credentials
   */
  constructor(readonly status: number, readonly location: string) {
    super(`answered ${status} redirecting to ${location}`);
    this.name = "RedirectedWrite";
  }
}

/**
 * The fetch of provider calls: Deno's, trusting the CAs in `caFile` too when given, and never
 * following a redirect of a write.
 *
 * @throws {NotifierError} when `caFile` cannot be read or holds no certificate
 */
export function providerFetch(caFile?: string): typeof fetch {
  if (!caFile) return writesNotRedirected(fetch);
  let client = clients.get(caFile);
  if (!client) {
    client = Deno.createHttpClient({ caCerts: [readCaFile(caFile)] });
    clients.set(caFile, client);
  }
  const using = client;
  return writesNotRedirected((input, init) => fetch(input, { ...init, client: using }));
}

function writesNotRedirected(base: typeof fetch): typeof fetch {
  return async (input, init) => {
    const method = (init?.method ?? (input instanceof Request ? input.method : "GET"))
      .toUpperCase();
    if (method === "GET" || method === "HEAD") return base(input, init);
    const res = await base(input, { ...init, redirect: "manual" });
    if (res.status < 300 || res.status > 399) return res;
    await res.body?.cancel();
    const url = input instanceof Request ? input.url : String(input);
    throw new RedirectedWrite(res.status, addressOf(res.headers.get("location"), url));
  };
}

/** A redirect's target as safe to print: origin and path, no query, no credentials. */
function addressOf(location: string | null, base: string): string {
  if (!location) return "nowhere (no Location)";
  try {
    const url = new URL(location, base);
    return `${url.origin}${url.pathname}`;
  } catch {
    return "an unreadable Location";
  }
}

/**
 * The PEM text of `caFile`, checked to hold a certificate (for an SDK that reads the file itself,
 * this is the check before it does).
 *
 * @throws {NotifierError} when it cannot be read or holds no certificate
 */
export function readCaFile(caFile: string): string {
  let pem: string;
  try {
    pem = Deno.readTextFileSync(caFile);
  } catch (err) {
    throw new NotifierError(
      `Cannot read --ca-file '${caFile}' (${
        err instanceof Error ? err.name : "unreadable"
      }): check the path and permissions`,
    );
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new NotifierError(`Cannot use --ca-file '${caFile}': it holds no PEM certificate`);
  }
  return pem;
}
