/**
 * A status is delivered only on the provider's own answer. A write answered with a redirect (an
 * SSO proxy's login page in front of the forge) is not followed and is a failure naming
 * --api-url; a 2xx without the answer the API gives (an HTML page) is a failure too.
 */
import assert from "node:assert/strict";
import { parseGitUrl } from "../../src/notifiers/git_url.ts";
import { createNotifier } from "../../src/notifiers/mod.ts";
import { ProviderError } from "../../src/notifiers/notifier.ts";

const SHA = "3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39";
const STATUS = { name: "flux-status/dev/sync", state: "succeeded" as const, description: "Synced" };

/** A forge behind a login proxy: every write is sent to the login page, which answers 200 HTML. */
function loginProxy(answer: "redirect" | "html" = "redirect") {
  const seen: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    seen.push(`${req.method} ${url.pathname}`);
    if (url.pathname === "/user/login" || answer === "html") {
      return new Response("<html><body>Sign in</body></html>", {
        headers: { "content-type": "text/html" },
      });
    }
    if (req.method === "GET") return Response.json([]);
    return new Response(null, {
      status: 302,
      headers: { location: `${url.origin}/user/login?redirect_to=${url.pathname}&token=secret` },
    });
  });
  return {
    origin: `http://127.0.0.1:${server.addr.port}`,
    seen,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** The remotes below, one per fetch-based provider. */
const REMOTES = [
  { provider: "github", gitUrl: "git@github.com:acme/app.git", label: "GitHub" },
  { provider: "gitlab", gitUrl: "git@gitlab.com:acme/platform/app.git", label: "GitLab" },
  { provider: "gitea", gitUrl: "https://git.example.org/acme/app.git", label: "Gitea" },
  { provider: "bitbucket", gitUrl: "git@bitbucket.org:acme/app.git", label: "Bitbucket" },
  {
    provider: "bitbucket-server",
    gitUrl: "https://bitbucket.corp.example/scm/ACME/app.git",
    label: "Bitbucket",
  },
] as const;

/** The notifier of `r` with `proxy` as its API. */
const notifierBehind = (proxy: { origin: string }, r: typeof REMOTES[number]) =>
  createNotifier({
    remote: parseGitUrl(r.gitUrl, r.provider),
    token: "test-token",
    apiUrl: `${proxy.origin}/api`,
    username: "flux@example.com",
  });

for (const r of REMOTES) {
  Deno.test(`[${r.provider}] a write answered with a redirect is not followed and not delivered`, async () => {
    await using proxy = loginProxy();
    const notifier = await notifierBehind(proxy, r);
    await assert.rejects(notifier.setStatus(SHA, STATUS), (err: Error) => {
      assert.ok(err instanceof ProviderError, String(err));
      assert.equal(err.status, 302);
      assert.equal(err.kind, "auth", "pauses calls and keeps the status");
      assert.match(err.message, /redirecting to http:\/\/127\.0\.0\.1:\d+\/user\/login,/);
      assert.match(err.message, /check --api-url points at the/);
      assert.doesNotMatch(err.message, /secret|redirect_to/, "the Location's query is not printed");
      return true;
    });
    assert.ok(!proxy.seen.includes("GET /user/login"), proxy.seen.join(", "));
  });
}

for (const r of REMOTES) {
  Deno.test(`[${r.provider}] a write or read answered 200 with an HTML page fails, naming --api-url`, async () => {
    await using proxy = loginProxy("html");
    const notifier = await notifierBehind(proxy, r);
    // One at a time: a call made early could reject before anything awaits it.
    const calls = [
      () => notifier.setStatus(SHA, STATUS),
      () => notifier.getStatus(SHA, STATUS.name),
      () => notifier.listStatuses(SHA, "flux-status/"),
    ];
    for (const call of calls) {
      await assert.rejects(
        call(),
        (err: Error) =>
          err instanceof ProviderError && err.kind === "transient" &&
          /answered 20\d without .*check --api-url/.test(err.message),
      );
    }
  });
}
