import assert from "node:assert/strict";
import { startFakeGitHub } from "../../dev/fakes/github.ts";
import { runCli } from "../_cli.ts";

const SHA = "2f0ab35ccef1a06269ce618a6f1b01e7332b69b9";

async function seeded() {
  const gh = await startFakeGitHub();
  const now = new Date().toISOString();
  gh.statuses.set(`acme/app@${SHA}`, [
    {
      id: 3,
      state: "error",
      description: "Canceled: Superseded by 3f2a9c1",
      target_url: null,
      context: "flux-status/dev/workload",
      created_at: now,
      updated_at: now,
    },
    {
      id: 2,
      state: "success",
      description: "Synced 2f0ab35",
      target_url: "https://ci/x",
      context: "Flux-Status/Dev/Sync",
      created_at: now,
      updated_at: now,
    },
    {
      id: 1,
      state: "pending",
      description: "Syncing",
      target_url: null,
      context: "flux-status/dev/sync",
      created_at: now,
      updated_at: now,
    },
  ]);
  return gh;
}

const base = (
  url: string,
) => [
  "status",
  "--instance",
  "dev",
  "--git-url",
  "https://github.com/acme/app",
  "--api-url",
  url,
  "--commit-id",
  SHA,
];

Deno.test("status prints the newest matching status as one JSON line", async () => {
  await using gh = await seeded();
  const out = await runCli([...base(gh.url), "--action", "sync"], { GITHUB_TOKEN: "test-token" });
  assert.equal(out.code, 0, out.stderr);
  const lines = out.stdout.trim().split("\n");
  assert.equal(lines.length, 1);
  const json = JSON.parse(lines[0]!);
  assert.equal(json.name, "flux-status/dev/sync");
  assert.equal(json.state, "succeeded");
  assert.equal(json.description, "Synced 2f0ab35");
  assert.deepEqual(gh.violations, []);
});

Deno.test("status reads the workload status by default and maps canceled back", async () => {
  await using gh = await seeded();
  const out = await runCli(base(gh.url), { FLUX_STATUS_GITHUB_TOKEN: "test-token" });
  assert.equal(out.code, 0, out.stderr);
  assert.deepEqual(
    { ...JSON.parse(out.stdout), updatedAt: undefined, commit: undefined },
    {
      name: "flux-status/dev/workload",
      state: "canceled",
      description: "Superseded by 3f2a9c1",
      updatedAt: undefined,
      commit: undefined,
    },
  );
});

Deno.test("status exits 1 with a one-line reason when there is no such status", async () => {
  await using gh = await seeded();
  const out = await runCli([...base(gh.url), "--instance", "prod"], { GITHUB_TOKEN: "test-token" });
  assert.equal(out.code, 1);
  assert.equal(out.stdout, "");
  assert.equal(out.stderr.trim().split("\n").length, 1);
  assert.match(out.stderr, /^error: no status flux-status\/prod\/workload on 2f0ab35/);
});

Deno.test("status --log-level debug loads logging and still exits 4 with one error line", async () => {
  await using gh = await seeded();
  const out = await runCli([...base(gh.url), "--log-level", "debug"], {
    GITHUB_TOKEN: "wrong-token",
  });
  assert.equal(out.code, 4, out.stderr);
  assert.match(out.stderr, /^error: Cannot read statuses of 2f0ab35 as GitHub answered 401/m);
  assert.match(out.stderr, /Cause: /, "the debug line of the cause");
  assert.ok(!out.stderr.includes("wrong-token"));
});

Deno.test("status exits 4 when the provider refuses the token", async () => {
  await using gh = await seeded();
  const out = await runCli(base(gh.url), { GITHUB_TOKEN: "wrong-token" });
  assert.equal(out.code, 4);
  assert.match(
    out.stderr,
    /^error: Cannot read statuses of 2f0ab35 as GitHub answered 401 Bad credentials/,
  );
});

Deno.test("a bad flag or missing token is a one-line error naming the flag, exit 2", async (t) => {
  const cases: [string[], RegExp][] = [
    [
      ["status", "--git-url", "https://github.com/a/b", "--commit-id", SHA],
      /^error: --github-token is required for github/,
    ],
    [
      ["status", "--git-url", "https://github.com/a/b", "--commit-id", "zz", "--github-token", "x"],
      /^error: --commit-id expected a commit SHA/,
    ],
    [[
      "status",
      "--git-url",
      "https://git.example.com/a/b",
      "--commit-id",
      SHA,
      "--github-token",
      "x",
    ], /^error: --git-url: .*pass --provider/],
    [
      ["daemon", "--git-url", "https://github.com/a/b", "--bogus"],
      /^error: unknown option '--bogus'/,
    ],
    [[
      "daemon",
      "--git-url",
      "https://github.com/a/b",
      "--github-token",
      "x",
      "--poll-interval",
      "fast",
    ], /^error: --poll-interval expected a duration/],
    [["daemon", "--github-token", "x"], /^error: --git-url is required/],
    [
      ["daemon", "--git-url", "git@gitlab.com:g/sub/app.git", "--github-token", "x"],
      /^error: --gitlab-token is required for gitlab/,
    ],
    [
      ["daemon", "--git-url", "https://dev.azure.com/o/p/_git/r"],
      /^error: --azdo-pat is required for azure-devops/,
    ],
    [
      ["daemon", "--git-url", "https://git.corp/g/app.git", "--provider", "gitlab"],
      /^error: --gitlab-token is required for gitlab/,
    ],
    [
      ["daemon", "--git-url", "https://bitbucket.org/ws/app.git"],
      /^error: --bitbucket-token is required for bitbucket/,
    ],
    [
      ["daemon", "--git-url", "https://github.com/a/b", "--github-token", "x", "--listen", ":3000"],
      /^error: --listen :3000 is reachable beyond this host, .*give --connect-token .* or --flux2-hmac-key .*, or pass --insecure-listen/,
    ],
  ];
  for (const [args, pattern] of cases) {
    await t.step(args.join(" "), async () => {
      const out = await runCli(args);
      assert.equal(out.code, 2, out.stderr);
      assert.equal(out.stderr.trim().split("\n").length, 1, out.stderr);
      assert.match(out.stderr, pattern);
    });
  }
});

Deno.test("--help works on every command", async () => {
  for (const args of [["--help"], ["daemon", "--help"], ["status", "--help"]]) {
    const out = await runCli(args);
    assert.equal(out.code, 0, args.join(" "));
    assert.match(out.stdout, /Usage: flux-status/);
  }
  const daemon = await runCli(["daemon", "--help"]);
  for (
    const flag of [
      "--listen",
      "--connect-token",
      "--store",
      "--github-token-file",
      "--poll-interval",
    ]
  ) {
    assert.ok(daemon.stdout.includes(flag), flag);
  }
});

Deno.test("a store file that is not a Deno KV store stops the daemon with one line saying what to do", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/kv.sqlite`, crypto.getRandomValues(new Uint8Array(8192)));
    const out = await runCli([
      "daemon",
      "--git-url",
      "git@github.com:acme/app.git",
      "--github-token",
      "x",
      "--listen",
      "127.0.0.1:0",
      "--store",
      `${dir}/kv.sqlite`,
    ]);
    assert.notEqual(out.code, 0);
    assert.match(
      out.stderr,
      /^error: Cannot open the store '.*kv.sqlite' \(file is not a database\): check the volume/m,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the program says it serves Flux v2 and v1; status takes -o and GH_TOKEN", async () => {
  const help = await runCli(["--help"]);
  assert.match(help.stdout, /Commit statuses for Flux deployments \(v2 and v1\)/);
  assert.doesNotMatch(help.stdout, /Flux v1 syncs/);
  assert.match((await runCli(["status", "--help"])).stdout, /-o, --output <format>/);
  await using gh = await seeded();
  const out = await runCli([...base(gh.url), "--action", "sync", "-o", "text"], {
    GH_TOKEN: "test-token",
    GITHUB_TOKEN: "a-token-gh-would-not-use",
  });
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout.trim(), "flux-status/dev/sync: succeeded - Synced 2f0ab35");
});

Deno.test("status --instance dev,prod --wait gates on every cluster: a line each, the worst verdict", async () => {
  await using gh = await startFakeGitHub();
  const now = new Date().toISOString();
  const status = (id: number, context: string, state: string) => ({
    id,
    state,
    description: state,
    target_url: null,
    context,
    created_at: now,
    updated_at: now,
  });
  gh.statuses.set(`acme/app@${SHA}`, [
    status(2, "flux-status/prod/workload", "failure"),
    status(1, "flux-status/dev/workload", "success"),
  ]);
  const args = [
    ...base(gh.url).map((a) => a === "dev" ? "dev,prod" : a),
    "--wait",
    "--timeout",
    "5s",
  ];
  const failed = await runCli(args, { GITHUB_TOKEN: "test-token" });
  assert.equal(failed.code, 1, failed.stderr);
  assert.deepEqual(
    failed.stdout.trim().split("\n").map((l) => JSON.parse(l)).map((j) => [j.name, j.state]),
    [["flux-status/dev/workload", "succeeded"], ["flux-status/prod/workload", "failed"]],
  );
  // A cluster that has not reported yet: the whole gate times out, naming it.
  const waiting = await runCli(
    [...base(gh.url).map((a) => a === "dev" ? "dev,staging" : a), "--wait", "--timeout", "1s"],
    { GITHUB_TOKEN: "test-token" },
  );
  assert.equal(waiting.code, 124, waiting.stderr);
  assert.match(waiting.stderr, /timed out after 1s waiting for .*flux-status\/staging\/workload/);
  assert.match(waiting.stdout, /"name":"flux-status\/staging\/workload","state":"absent"/);
  assert.deepEqual(gh.violations, []);
});
