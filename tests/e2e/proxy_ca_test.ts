/**
 * Every provider's calls, SDK-based or not, go through HTTPS_PROXY and trust --ca-file: each fake
 * serves HTTPS with a certificate from a private test CA, reachable only through a CONNECT proxy
 * that records its tunnels. The real CLI reads a status through both.
 */
import assert from "node:assert/strict";
import { startConnectProxy } from "../../dev/fakes/connect_proxy.ts";
import { TEST_CA_FILE } from "../../dev/fakes/_server.ts";
import { PROVIDERS } from "../_providers.ts";
import { runCli } from "../_cli.ts";

const SHA = "2f0ab35ccef1a06269ce618a6f1b01e7332b69b9";

for (const provider of PROVIDERS) {
  Deno.test(`[${provider.name}] provider calls go through HTTPS_PROXY and trust --ca-file`, async () => {
    await using p = await provider.start(["test-token"], { tls: true });
    await using proxy = startConnectProxy();
    const args = ["status", ...p.args, "--commit-id", SHA, "--action", "sync"];
    const env = { ...p.tokenEnv("test-token"), HTTPS_PROXY: proxy.url };

    const trusted = await runCli([...args, "--ca-file", TEST_CA_FILE], env);
    // Exit 1 "no status … yet": the provider was read, through the proxy, and had none.
    assert.equal(trusted.code, 1, trusted.stderr);
    assert.match(trusted.stderr, /^error: no status flux-status\/default\/sync on 2f0ab35/);
    const target = new URL(p.config.apiUrl).host;
    assert.ok(proxy.tunnels.includes(target), `tunnels: ${proxy.tunnels.join(", ")}`);
    assert.deepEqual(p.violations, []);

    const untrusted = await runCli(args, env);
    assert.equal(untrusted.code, 4, untrusted.stderr);
    assert.match(untrusted.stderr, /could not be reached/);
  });
}

Deno.test("--ca-file that cannot be read is a usage error naming it", async () => {
  const out = await runCli([
    "status",
    "--git-url",
    "git@github.com:acme/app.git",
    "--commit-id",
    SHA,
    "--ca-file",
    "/nonexistent/ca.pem",
  ], { GITHUB_TOKEN: "x" });
  assert.equal(out.code, 2, out.stderr);
  assert.match(out.stderr, /^error: Cannot read --ca-file '\/nonexistent\/ca.pem' \(NotFound\)/);
});

Deno.test("[azure-devops] an HTTPS collection URL by IP address through a proxy is refused with the fix, not a crash", async () => {
  const out = await runCli([
    "status",
    "--git-url",
    "https://dev.azure.com/acme/Platform/_git/app",
    "--api-url",
    "https://127.0.0.1:8443/acme",
    "--commit-id",
    SHA,
  ], { AZDO_PAT: "x", HTTPS_PROXY: "http://127.0.0.1:3128" });
  assert.equal(out.code, 2, out.stderr);
  assert.match(
    out.stderr,
    /^error: Cannot call Azure DevOps at 127\.0\.0\.1:8443 through HTTPS_PROXY by IP address: use the server's host name/,
  );
});
