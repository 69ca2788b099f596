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
import { SILENT } from "./github.ts";

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
  const plain = new Octokit({
    baseUrl: options.baseUrl,
    userAgent: "flux-status",
    log: SILENT,
    request: { retries: 0, fetch: options.fetch },
  });
  // One auth (and its token cache) per key: a rotated key file starts a new one.
  let current: { key: string; auth: ReturnType<typeof createAppAuth> } | undefined;
  const appAuth = () => {
    const key = tokenValue(app.privateKey);
    if (current?.key !== key) {
      current = {
        key,
        auth: createAppAuth({ appId: app.appId, privateKey: key, request: plain.request }),
      };
    }
    return current.auth;
  };
  let installationId: Promise<number> | undefined = app.installationId
    ? Promise.resolve(Number(app.installationId))
    : undefined;

  const lookUp = async () => {
    const { token } = await appAuth()({ type: "app" });
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
    const id = await installationId;
    const { token } = await appAuth()({ type: "installation", installationId: id });
    return token;
  };
}
