/**
 * The `fetch` every provider call goes through (the SDKs' too: Octokit's `request.fetch`, the
 * GitLab requester, the fetch helper). Deno's fetch already takes `HTTPS_PROXY`, `HTTP_PROXY` and
 * `NO_PROXY` from the environment; `--ca-file` adds the CA certificates of a self-hosted forge
 * behind a private CA (or a TLS-inspecting proxy) to the trusted roots, through one HTTP client
 * per file. Azure DevOps's SDK does its own HTTP: it gets the same file (`cert.caFile`) and reads
 * the same proxy variables.
 *
 * @module
 */
import { NotifierError } from "./notifier.ts";

const clients = new Map<string, Deno.HttpClient>();

/**
 * The fetch of provider calls: Deno's, trusting the CAs in `caFile` too when given.
 *
 * @throws {NotifierError} when `caFile` cannot be read or holds no certificate
 */
export function providerFetch(caFile?: string): typeof fetch {
  if (!caFile) return fetch;
  let client = clients.get(caFile);
  if (!client) {
    client = Deno.createHttpClient({ caCerts: [readCaFile(caFile)] });
    clients.set(caFile, client);
  }
  const using = client;
  return (input, init) => fetch(input, { ...init, client: using });
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
