import assert from "node:assert/strict";
import { startFakeGitHub } from "../../dev/fakes/github.ts";
import { runCli } from "../_cli.ts";

const SENTINEL = "ghp_SENTINEL_d0_not_leak_7f3a9";
const CONNECT = "connect_SENTINEL_91bc";
const SHA = "2f0ab35ccef1a06269ce618a6f1b01e7332b69b9";

function assertNoLeak(text: string, where: string) {
  for (const secret of [SENTINEL, CONNECT]) {
    assert.ok(!text.includes(secret), `${where} printed a token:\n${text}`);
  }
}

Deno.test("no token appears in anything the status command prints", async () => {
  await using gh = await startFakeGitHub({ tokens: [SENTINEL] });
  const args = [
    "status",
    "--git-url",
    "https://github.com/acme/app",
    "--api-url",
    gh.url,
    "--commit-id",
    SHA,
    "--log-level",
    "debug",
  ];
  for (
    const [env, code] of [[{ GITHUB_TOKEN: SENTINEL }, 1], [
      { GITHUB_TOKEN: `${SENTINEL}x` },
      4,
    ]] as const
  ) {
    const out = await runCli(args, env);
    assert.equal(out.code, code, out.stderr);
    assertNoLeak(out.stdout + out.stderr, "status");
  }
  const bad = await runCli([
    "status",
    "--git-url",
    `https://u:${SENTINEL}@nowhere.example/a/b`,
    "--commit-id",
    SHA,
  ]);
  assert.equal(bad.code, 2);
  assertNoLeak(bad.stdout + bad.stderr, "status");
});
