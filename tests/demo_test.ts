import assert from "node:assert/strict";

const DEMO = new URL("../scripts/demo.ts", import.meta.url).pathname;

Deno.test("deno task demo --flux2 shows signed Flux v2 events becoming statuses at the fake", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", DEMO, "--flux2", "--provider", "gitlab"],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
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
