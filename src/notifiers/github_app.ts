/**
 * GitHub App authentication: statuses posted by the app (shown as `<app>[bot]`), not by a person.
 * `@octokit/auth-app` signs the app's JWT and mints installation tokens, and caches them until
 * shortly before they expire (GitHub allows 2,000 token requests an hour per app): one token
 * serves every call of its hour. Without `--github-app-installation-id` the installation is looked
 * up once from the repository (`GET /repos/{owner}/{repo}/installation`, with the JWT).
 *
 * @module
 */
import { createAppAuth } from "@octokit/auth-app";
import { Octokit } from "@octokit/core";
import { type Token, tokenValue } from "./notifier.ts";

/** A GitHub App's identity. */
export interface GitHubApp {
  /** The App ID (or Client ID). */
  appId: string;
  /** The app's private key, PEM (PKCS#1 as GitHub issues it, or PKCS#8). */
  privateKey: Token;
  /** The installation on the repository's account; looked up when absent. */
  installationId?: string;
}

/**
 * How to get the current installation token for `owner/repo`.
 *
 * @param options the API base and the fetch of provider calls (proxy, CA)
 */
export function installationTokens(
  app: GitHubApp,
  repository: { owner: string; repo: string },
  options: { baseUrl: string; fetch: typeof fetch },
): () => Promise<string> {
  const key = tokenValue(app.privateKey);
  const plain = new Octokit({
    baseUrl: options.baseUrl,
    userAgent: "flux-status",
    log: { debug() {}, info() {}, warn() {}, error() {} },
    request: { retries: 0, fetch: options.fetch },
  });
  const auth = createAppAuth({ appId: app.appId, privateKey: key, request: plain.request });
  let installationId: Promise<number> | undefined = app.installationId
    ? Promise.resolve(Number(app.installationId))
    : undefined;

  const lookUp = async () => {
    const { token } = await auth({ type: "app" });
    const { data } = await plain.request("GET /repos/{owner}/{repo}/installation", {
      ...repository,
      headers: { authorization: `bearer ${token}` },
    });
    return data.id;
  };

  return async () => {
    installationId ??= lookUp().catch((err) => {
      installationId = undefined; // look up again next time
      throw err;
    });
    const { token } = await auth({ type: "installation", installationId: await installationId });
    return token;
  };
}
