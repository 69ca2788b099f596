import assert from "node:assert/strict";
import {
  ConfigError,
  OPTION_META,
  optionKeys,
  resolveConfig,
  secretValues,
} from "../../src/config/config.ts";
import { PROVIDER_TABLE } from "../../src/notifiers/providers.ts";
import { parseDuration } from "../../src/runtime/duration.ts";

const files: Record<string, string> = { "/run/secrets/gh": "ghp_fromfile\n" };
const readTextFile = (path: string) => {
  if (path in files) return files[path]!;
  throw new Deno.errors.NotFound(`No such file: ${path}`);
};
const daemon = (flags: Record<string, unknown>, env: Record<string, string> = {}) =>
  resolveConfig("daemon", {
    flags: { gitUrl: "https://github.com/a/b", ...flags },
    env,
    readTextFile,
  });

Deno.test("resolveConfig() applies defaults from the schema", () => {
  const c = daemon({});
  assert.equal(c.listen, "127.0.0.1:3000");
  assert.equal(c.instance, "default");
  assert.equal(c.pollWorkloads, true);
  assert.equal(c.pollInterval, 5000);
  assert.equal(c.pollTimeout, 360_000);
  assert.equal(c.fluxUrl, "http://localhost:3030");
});

Deno.test("resolveConfig() prefers flags over env vars over token files", () => {
  assert.equal(daemon({ instance: "flag" }, { FLUX_STATUS_INSTANCE: "env" }).instance, "flag");
  assert.equal(daemon({}, { FLUX_STATUS_INSTANCE: "env" }).instance, "env");
  assert.equal(daemon({}, { GITHUB_TOKEN: "ghp_env" }).githubToken, "ghp_env");
  assert.equal(daemon({}, { FLUX_STATUS_GITHUB_TOKEN: "a", GITHUB_TOKEN: "b" }).githubToken, "a");
  // gh's own order: GH_TOKEN before GITHUB_TOKEN.
  assert.equal(daemon({}, { GH_TOKEN: "gh", GITHUB_TOKEN: "b" }).githubToken, "gh");
  assert.equal(daemon({}, { FLUX_STATUS_GITHUB_TOKEN: "a", GH_TOKEN: "gh" }).githubToken, "a");
  assert.equal(daemon({ githubTokenFile: "/run/secrets/gh" }).githubToken, "ghp_fromfile");
  assert.equal(
    daemon({}, { FLUX_STATUS_GITHUB_TOKEN_FILE: "/run/secrets/gh" }).githubToken,
    "ghp_fromfile",
  );
  assert.equal(
    daemon({ githubToken: "flag", githubTokenFile: "/run/secrets/gh" }).githubToken,
    "flag",
  );
});

Deno.test("resolveConfig() accepts the original's --poll-intervall and bare seconds", () => {
  assert.equal(daemon({ pollIntervall: "10" }).pollInterval, 10_000);
  assert.equal(daemon({ pollInterval: "1m30s" }).pollInterval, 90_000);
  assert.equal(daemon({ pollTimeout: "0" }).pollTimeout, 0);
  assert.equal(daemon({ pollWorkloads: "false" }).pollWorkloads, false);
  assert.equal(daemon({ pollWorkloads: true }).pollWorkloads, true);
});

Deno.test("resolveConfig() names the flag, the rule and the value in its errors", async (t) => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [
      { pollInterval: "soon" },
      /^--poll-interval expected a duration like 5s, 2m or 1h30m: current value is 'soon'$/,
    ],
    [{ listen: "3000" }, /^--listen expected HOST:PORT/],
    [{ gitUrl: undefined }, /^--git-url is required$/],
    [{ provider: "svn" }, /^--provider /],
    [{ pollWorkloads: "maybe" }, /^--poll-workloads expected true or false/],
    [{ githubTokenFile: "/missing" }, /^Cannot read --github-token-file '\/missing' \(NotFound\)/],
  ];
  for (const [flags, pattern] of cases) {
    await t.step(pattern.source, () => {
      assert.throws(() => daemon(flags), (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, pattern);
        return true;
      });
    });
  }
});

Deno.test("resolveConfig() never shows a secret's value in an error", () => {
  assert.throws(() => daemon({ connectToken: "   " }), (err: Error) => {
    assert.match(err.message, /^--connect-token must not be empty$/);
    return true;
  });
});

Deno.test("secretValues() lists every secret of a config for the log mask, and nothing else", () => {
  const c = daemon({ githubToken: "ghp_secret", connectToken: "c0nnect", instance: "dev" });
  assert.deepEqual(secretValues(c).sort(), ["c0nnect", "ghp_secret"]);
});

Deno.test("parseDuration() reads units and rejects nonsense", () => {
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("2h"), 7_200_000);
  assert.equal(parseDuration("5"), 5000);
  assert.equal(parseDuration("5x"), undefined);
  assert.equal(parseDuration(""), undefined);
});

Deno.test("resolveConfig() lets the daemon listen beyond loopback only with a token, a key or --insecure-listen", async (t) => {
  const base = { gitUrl: "https://github.com/a/b", githubToken: "x" };
  const cases: [string, Record<string, unknown>, boolean][] = [
    ["loopback", { listen: "127.0.0.1:3000" }, true],
    ["localhost", { listen: "localhost:3000" }, true],
    ["ipv6 loopback", { listen: "[::1]:3000" }, true],
    ["all interfaces", { listen: "0.0.0.0:3000" }, false],
    ["with a connect token", { listen: "0.0.0.0:3000", connectToken: "t" }, true],
    ["with an HMAC key", { listen: "0.0.0.0:3000", flux2HmacKey: "k" }, true],
    ["insecure on purpose", { listen: "0.0.0.0:3000", insecureListen: true }, true],
  ];
  for (const [name, flags, ok] of cases) {
    await t.step(name, () => {
      const resolve = () =>
        resolveConfig("daemon", { flags: { ...base, ...flags }, env: {}, readTextFile: () => "" });
      if (ok) resolve();
      else assert.throws(resolve, /is reachable beyond this host/);
    });
  }
});

Deno.test("resolveConfig() reads --flux2-hmac-key-file byte for byte, as notification-controller uses it", () => {
  const config = resolveConfig("daemon", {
    flags: { gitUrl: "https://github.com/a/b", githubToken: "x" },
    env: { FLUX_STATUS_FLUX2_HMAC_KEY_FILE: "/key" },
    readTextFile: () => "s3cr3t\n",
  });
  assert.equal(config.flux2HmacKey, "s3cr3t\n");
});

Deno.test("each provider's token option is a secret option of the daemon and of status", () => {
  for (const [name, row] of Object.entries(PROVIDER_TABLE)) {
    const meta = OPTION_META[row.tokenOption];
    assert.ok(meta?.secret, `${name}: ${row.tokenOption} is a secret option`);
    for (const command of ["daemon", "status"] as const) {
      assert.ok(optionKeys(command).includes(row.tokenOption), `${command} --${row.tokenOption}`);
    }
  }
});

Deno.test("--kubernetes: --namespace takes a list of names; its options need --kubernetes", () => {
  const config = daemon({ kubernetes: true, namespace: "apps, infra,apps" });
  assert.deepEqual(config.namespace, ["apps", "infra"]);
  assert.throws(
    () => daemon({ kubernetes: true, namespace: "Apps" }),
    /--namespace expected namespace names, not 'Apps'/,
  );
  assert.throws(
    () => daemon({ objectStatuses: true }),
    (err: Error) =>
      err instanceof ConfigError &&
      /--object-statuses works only with --kubernetes/.test(err.message),
  );
  // Nothing posted to it sets a status, so it may listen beyond loopback without a token.
  assert.equal(daemon({ kubernetes: true, listen: "0.0.0.0:8080" }).listen, "0.0.0.0:8080");
  assert.throws(() => daemon({ listen: "0.0.0.0:8080" }), /reachable beyond this host/);
});
