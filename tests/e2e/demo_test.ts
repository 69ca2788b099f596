import assert from "node:assert/strict";

const DEMO = new URL("../../scripts/demo.ts", import.meta.url).pathname;

/** Runs `deno task demo <args>`; returns what it printed, having checked it exited 0. */
async function demo(args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", DEMO, ...args],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

Deno.test("deno task demo --flux2 shows signed Flux v2 events becoming statuses at the fake", async () => {
  const text = await demo(["--flux2", "--provider", "gitlab"]);
  assert.match(text, /posted kustomization-applied\.json \(signed\): HTTP 200/);
  assert.match(
    text,
    /✔ 3f2a9c1 {2}flux-status\/demo\/kustomization\/flux-system\/apps\/workload +succeeded Healthy/,
  );
  assert.match(
    text,
    /✘ 9b1e4d7 {2}flux-status\/demo\/kustomization\/flux-system\/apps\/workload +failed +HealthCheckFailed/,
  );
});

Deno.test("deno task demo --kubernetes shows a fake apiserver's Flux objects becoming one pair per commit", async () => {
  const text = await demo(["--kubernetes"]);
  assert.match(text, /✔ 3f2a9c1 {2}flux-status\/demo\/workload +succeeded Ready at 2\/2 objects/);
  assert.match(
    text,
    /✘ 9b1e4d7 {2}flux-status\/demo\/sync +failed +Failed at 1\/2: helmrelease\/apps\/webapp \(UpgradeFailed\)/,
  );
  assert.doesNotMatch(
    text,
    /flux-status\/demo\/kustomization/,
    "no per-object statuses by default",
  );
});

for (const provider of ["bitbucket", "bitbucket-server", "gitea"]) {
  Deno.test(`deno task demo --provider ${provider} runs the Flux v1 story against that fake`, async () => {
    const text = await demo(["--provider", provider]);
    assert.match(text, /✔ 3f2a9c1 {2}flux-status\/demo\/workload +succeeded Rolled out 1 workload/);
    assert.match(text, /✘ c0ffee5 {2}flux-status\/demo\/sync +failed +Sync failed: 1 resource/);
    assert.match(text, new RegExp(`the fake ${provider} received from flux-status`));
  });
}
